package backend

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/gomlx/gomlx/backends"

	"github.com/gomlx-ssl/vicreg/internal/cpuinfo"
	"github.com/gomlx-ssl/vicreg/results"
)

// Provenance is the Provenance of a result computed on b (the backend New started) from the
// images of dataset in dataDir (as datasets.DataDirOf resolves it) with seed, by a run or an
// evaluation that began at start.
func Provenance(b backends.Backend, dataset, dataDir string, seed uint64, start time.Time) results.Provenance {
	return results.Provenance{Dataset: dataset, DataDir: dataDir, Seed: seed, Backend: Name(b), Machine: Machine(b),
		Date: start.UTC().Format(time.RFC3339)}
}

// Name is the backend b as GOMLX_BACKEND names it ("xla:cpu", "xla:cuda", "go"), with the plugin
// GoMLX chose where GOMLX_BACKEND named none ("xla" alone).
func Name(b backends.Backend) string {
	config := Config()
	if name, plugin, _ := strings.Cut(config, ":"); !IsXLA(name) || plugin != "" || !IsXLA(b.Name()) {
		return config
	}
	// GoMLX's XLA backend describes itself as "xla:<plugin> - <plugin file> [n device(s)]".
	if head, _, ok := strings.Cut(b.Description(), " - "); ok && strings.Contains(head, ":") {
		return head
	}
	return config
}

// Machine describes the computer b computes on, for a result's Provenance: the CPU (always: it
// feeds the data and, on xla:cpu and go, computes) and, on an accelerator, each device of b: for
// the CUDA plugin nvidia-smi's line (index, name, memory, driver) of each GPU that
// CUDA_VISIBLE_DEVICES leaves visible, otherwise (or where those lines do not match b's devices
// one for one) the backend's own description of each device.
func Machine(b backends.Backend) *results.Machine {
	m := &results.Machine{CPU: cpuinfo.Describe()}
	if !onAccelerator(b) {
		return m
	}
	cudaMu.Lock()
	cuda := cudaInUse
	cudaMu.Unlock()
	if cuda != nil {
		m.Devices = visibleGPUs(nvidiaSMI(), os.Getenv("CUDA_VISIBLE_DEVICES"))
	}
	if len(m.Devices) != b.NumDevices() {
		m.Devices = nil
		for i := range b.NumDevices() {
			m.Devices = append(m.Devices, b.DeviceDescription(backends.DeviceNum(i)))
		}
	}
	return m
}

// onAccelerator reports whether b computes elsewhere than on the CPU: an XLA backend whose
// plugin (Name's) is not the CPU plugin.
func onAccelerator(b backends.Backend) bool {
	name, plugin, _ := strings.Cut(Name(b), ":")
	if !IsXLA(name) {
		return false
	}
	plugin, _, _ = strings.Cut(plugin, ",")
	return plugin != "" && plugin != "cpu" && !strings.Contains(filepath.Base(plugin), "cpu")
}

// visibleGPUs keeps the nvidia-smi lines ("index, name, ...") of the GPUs that visible (the value
// of CUDA_VISIBLE_DEVICES) lists by index; all of them where it is unset, and none where it lists
// them otherwise (by UUID: the caller then falls back to the backend's descriptions).
func visibleGPUs(lines []string, visible string) []string {
	if visible == "" {
		return lines
	}
	ids := strings.Split(visible, ",")
	var kept []string
	for _, id := range ids {
		id = strings.TrimSpace(id)
		i := slices.IndexFunc(lines, func(l string) bool {
			index, _, _ := strings.Cut(l, ",")
			return strings.TrimSpace(index) == id
		})
		if i < 0 {
			return nil
		}
		kept = append(kept, lines[i])
	}
	return kept
}
