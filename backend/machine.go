package backend

import (
	"path/filepath"
	"strings"
	"time"

	"github.com/gomlx/gomlx/backends"

	"github.com/gomlx-ssl/vicreg/internal/cpuinfo"
	"github.com/gomlx-ssl/vicreg/results"
)

// Provenance is the Provenance of a result computed on b (the backend New started, as Config
// names it) from the images of dataset in dataDir (as datasets.DataDirOf resolves it) with seed,
// by a command that started at start.
func Provenance(b backends.Backend, dataset, dataDir string, seed uint64, start time.Time) results.Provenance {
	return results.Provenance{Dataset: dataset, DataDir: dataDir, Seed: seed, Backend: Config(), Machine: Machine(b),
		Date: start.UTC().Format(time.RFC3339)}
}

// Machine describes the computer b computes on, for a result's Provenance: the CPU (always: it
// feeds the data and, on xla:cpu and go, computes) and, on an accelerator, each device: for the
// CUDA plugin nvidia-smi's line (index, name, memory, driver), otherwise the backend's own
// description of the device.
func Machine(b backends.Backend) *results.Machine {
	m := &results.Machine{CPU: cpuinfo.Describe()}
	if !onAccelerator(b.Name()) {
		return m
	}
	cudaMu.Lock()
	cuda := cudaInUse
	cudaMu.Unlock()
	if cuda != nil {
		m.Devices = nvidiaSMI()
	}
	if len(m.Devices) == 0 {
		for i := range b.NumDevices() {
			m.Devices = append(m.Devices, b.DeviceDescription(backends.DeviceNum(i)))
		}
	}
	return m
}

// onAccelerator reports whether the backend named name computes elsewhere than on the CPU: an
// XLA backend whose plugin (as Config names it) is not the CPU plugin.
func onAccelerator(name string) bool {
	if !IsXLA(name) {
		return false
	}
	_, plugin, _ := strings.Cut(Config(), ":")
	plugin, _, _ = strings.Cut(plugin, ",")
	return plugin != "cpu" && !strings.Contains(filepath.Base(plugin), "cpu")
}
