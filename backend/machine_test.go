package backend

import (
	"reflect"
	"testing"
	"time"

	"github.com/gomlx/gomlx/backends"

	"github.com/gomlx-ssl/vicreg/internal/cpuinfo"
	"github.com/gomlx-ssl/vicreg/results"
)

// TestOnAccelerator: the CPU plugin, by name or by path, and the pure Go backend compute on the
// CPU; the CUDA plugin, by name or path, and any other plugin do not.
func TestOnAccelerator(t *testing.T) {
	for _, tc := range []struct {
		env, name string
		want      bool
	}{
		{"", "xla", false},
		{"xla:cpu", "xla", false},
		{"cpu", "xla", false},
		{"xla:cpu,noshared_buffers", "xla", false},
		{"xla:/opt/go-xla/pjrt_c_api_cpu_plugin.so", "xla", false},
		{"go", "go", false},
		{"xla:cuda", "xla", true},
		{"cuda", "xla", true},
		{"xla:/opt/cuda/xla_cuda_plugin.so", "xla", true},
		{"xla:tpu", "xla", true},
	} {
		t.Setenv(EnvVar, tc.env)
		if got := onAccelerator(tc.name); got != tc.want {
			t.Errorf("%s=%q, backend %q: onAccelerator %v, want %v", EnvVar, tc.env, tc.name, got, tc.want)
		}
	}
}

// fakeDevices is a backend with two devices; only the methods Machine calls are implemented.
type fakeDevices struct{ backends.Backend }

func (fakeDevices) Name() string    { return "xla" }
func (fakeDevices) NumDevices() int { return 2 }
func (fakeDevices) DeviceDescription(d backends.DeviceNum) string {
	return []string{"TPU v5 lite #0", "TPU v5 lite #1"}[d]
}

// TestMachine: on the CPU, the machine is the CPU line alone; on another plugin, each of the
// backend's devices is listed; Provenance carries it with the backend's configuration and the
// start in UTC.
func TestMachine(t *testing.T) {
	t.Setenv(EnvVar, "xla:cpu")
	if got, want := Machine(fakeDevices{}), (&results.Machine{CPU: cpuinfo.Describe()}); !reflect.DeepEqual(got, want) {
		t.Errorf("on xla:cpu: %+v, want %+v", got, want)
	}
	t.Setenv(EnvVar, "xla:tpu")
	want := &results.Machine{CPU: cpuinfo.Describe(), Devices: []string{"TPU v5 lite #0", "TPU v5 lite #1"}}
	if got := Machine(fakeDevices{}); !reflect.DeepEqual(got, want) {
		t.Errorf("on xla:tpu: %+v, want %+v", got, want)
	}
	start := time.Date(2026, 12, 5, 20, 30, 0, 0, time.FixedZone("CET", 3600))
	p := Provenance(fakeDevices{}, "folder", "/photos", 9, start)
	if wantP := (results.Provenance{Dataset: "folder", DataDir: "/photos", Seed: 9, Backend: "xla:tpu", Machine: want,
		Date: "2026-12-05T19:30:00Z"}); !reflect.DeepEqual(p, wantP) {
		t.Errorf("Provenance = %+v, want %+v", p, wantP)
	}
}
