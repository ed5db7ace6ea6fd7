package backend

import (
	"reflect"
	"testing"
	"time"

	"github.com/gomlx/gomlx/backends"

	"github.com/gomlx-ssl/vicreg/internal/cpuinfo"
	"github.com/gomlx-ssl/vicreg/results"
)

// fakeBackend is a backend with a name, a description and devices; only the methods Name,
// Machine and Provenance call are implemented.
type fakeBackend struct {
	backends.Backend
	name, description string
	devices           []string
}

func (f fakeBackend) Name() string        { return f.name }
func (f fakeBackend) Description() string { return f.description }
func (f fakeBackend) NumDevices() int     { return len(f.devices) }
func (f fakeBackend) DeviceDescription(d backends.DeviceNum) string {
	return f.devices[d]
}

// xlaOn is GoMLX's XLA backend as it describes itself on plugin, with the given devices.
func xlaOn(plugin string, devices ...string) fakeBackend {
	return fakeBackend{name: "xla", description: "xla:" + plugin + " - /lib/pjrt_c_api_" + plugin + "_plugin.so [1 device(s)]", devices: devices}
}

// TestOnAccelerator: the CPU plugin, by name or by path, chosen by GoMLX where GOMLX_BACKEND
// names no plugin, and the pure Go backend compute on the CPU; the CUDA plugin, by name or path,
// and any other plugin do not.
func TestOnAccelerator(t *testing.T) {
	for _, tc := range []struct {
		env  string
		b    fakeBackend
		name string // Name(b)
		want bool
	}{
		{"", xlaOn("cpu"), "xla:cpu", false},
		{"xla:cpu", xlaOn("cpu"), "xla:cpu", false},
		{"cpu", xlaOn("cpu"), "xla:cpu", false},
		{"xla:cpu,noshared_buffers", xlaOn("cpu"), "xla:cpu,noshared_buffers", false},
		{"xla:/opt/go-xla/pjrt_c_api_cpu_plugin.so", xlaOn("cpu"), "xla:/opt/go-xla/pjrt_c_api_cpu_plugin.so", false},
		{"xla", xlaOn("cpu"), "xla:cpu", false}, // GoMLX chose the plugin
		{"go", fakeBackend{name: "go", description: "Pure Go"}, "go", false},
		{"xla:cuda", xlaOn("cuda"), "xla:cuda", true},
		{"cuda", xlaOn("cuda"), "xla:cuda", true},
		{"xla:/opt/cuda/xla_cuda_plugin.so", xlaOn("cuda"), "xla:/opt/cuda/xla_cuda_plugin.so", true},
		{"xla:tpu", xlaOn("tpu"), "xla:tpu", true},
		{"xla", xlaOn("cuda"), "xla:cuda", true}, // GoMLX chose the plugin
		{"xla:,noshared_buffers", xlaOn("cpu"), "xla:cpu,noshared_buffers", false},
		{"xla:,noshared_buffers", xlaOn("cuda"), "xla:cuda,noshared_buffers", true},
	} {
		t.Setenv(EnvVar, tc.env)
		if got := Name(tc.b); got != tc.name {
			t.Errorf("%s=%q, %s: Name %q, want %q", EnvVar, tc.env, tc.b.description, got, tc.name)
		}
		if got := onAccelerator(tc.b); got != tc.want {
			t.Errorf("%s=%q, %s: onAccelerator %v, want %v", EnvVar, tc.env, tc.b.description, got, tc.want)
		}
	}
}

// TestMachine: on the CPU, the machine is the CPU line alone; on another plugin, each of the
// backend's devices is listed; Provenance carries it with the backend's name and the start in UTC.
func TestMachine(t *testing.T) {
	tpu := xlaOn("tpu", "TPU v5 lite #0", "TPU v5 lite #1")
	t.Setenv(EnvVar, "xla:cpu")
	if got, want := Machine(xlaOn("cpu", "cpu:0")), (&results.Machine{CPU: cpuinfo.Describe()}); !reflect.DeepEqual(got, want) {
		t.Errorf("on xla:cpu: %+v, want %+v", got, want)
	}
	t.Setenv(EnvVar, "xla")
	want := &results.Machine{CPU: cpuinfo.Describe(), Devices: []string{"TPU v5 lite #0", "TPU v5 lite #1"}}
	if got := Machine(tpu); !reflect.DeepEqual(got, want) {
		t.Errorf("on xla (tpu chosen): %+v, want %+v", got, want)
	}
	start := time.Date(2026, 12, 5, 20, 30, 0, 0, time.FixedZone("CET", 3600))
	p := Provenance(tpu, "folder", "/photos", 9, start)
	if wantP := (results.Provenance{Dataset: "folder", DataDir: "/photos", Seed: 9, Backend: "xla:tpu", Machine: want,
		Date: "2026-12-05T19:30:00Z"}); !reflect.DeepEqual(p, wantP) {
		t.Errorf("Provenance = %+v, want %+v", p, wantP)
	}
}

// TestVisibleGPUs: CUDA_VISIBLE_DEVICES by index keeps those GPUs' lines, in its order; by UUID,
// naming a GPU nvidia-smi does not list, or on mixed GPUs numbered fastest first (CUDA's default
// order, not nvidia-smi's), none (the caller falls back to the backend's own descriptions).
func TestVisibleGPUs(t *testing.T) {
	same := []string{"0, NVIDIA H100 80GB HBM3, 81559 MiB, 580.65", "1, NVIDIA H100 80GB HBM3, 81559 MiB, 580.65",
		"2, NVIDIA H100 80GB HBM3, 81559 MiB, 580.65"}
	mixed := []string{same[0], same[1], "2, NVIDIA A100-SXM4-40GB, 40960 MiB, 580.65"}
	for _, tc := range []struct {
		lines          []string
		visible, order string
		want           []string
	}{
		{same, "", "", same},
		{mixed, "", "", mixed},
		{same, "2", "", same[2:]},
		{same, "2,0", "", []string{same[2], same[0]}},
		{same, " 1 ", "", same[1:2]},
		{same, "GPU-5d3a9c1e-aaaa", "", nil},
		{same, "3", "", nil},
		{mixed, "2", "", nil},
		{mixed, "2", "FASTEST_FIRST", nil},
		{mixed, "2,0", "PCI_BUS_ID", []string{mixed[2], mixed[0]}},
	} {
		if got := visibleGPUs(tc.lines, tc.visible, tc.order); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("CUDA_VISIBLE_DEVICES=%q, CUDA_DEVICE_ORDER=%q: %q, want %q", tc.visible, tc.order, got, tc.want)
		}
	}
}
