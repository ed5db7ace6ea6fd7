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
// GoMLX chose where GOMLX_BACKEND named none ("xla", or "xla:,options").
func Name(b backends.Backend) string {
	config := Config()
	name, rest, _ := strings.Cut(config, ":")
	plugin, options, hasOptions := strings.Cut(rest, ",")
	if !IsXLA(name) || plugin != "" || !IsXLA(b.Name()) {
		return config
	}
	// GoMLX's XLA backend describes itself as "xla:<plugin> - <the plugin's own description>
	// [n device(s)]".
	head, _, ok := strings.Cut(b.Description(), " - ")
	if !ok || !strings.Contains(head, ":") {
		return config
	}
	if hasOptions {
		return head + "," + options
	}
	return head
}

// Machine describes the computer b computes on, for a result's Provenance: the CPU (always: it
// feeds the data and, on xla:cpu and go, computes) and, on an accelerator, each device of b: for
// the CUDA plugin nvidia-smi's line (index, name, memory, driver) of each GPU that
// CUDA_VISIBLE_DEVICES leaves visible (visibleGPUs), otherwise (or where those lines do not match
// b's devices one for one) the backend's own description of each device, which for a GPU names
// no model. A MIG slice is recorded as its whole GPU.
func Machine(b backends.Backend) *results.Machine {
	m := &results.Machine{CPU: cpuinfo.Describe()}
	if !onAccelerator(b) {
		return m
	}
	if isCUDAPlugin(Name(b)) {
		m.Devices = visibleGPUs(nvidiaSMI(), os.Getenv("CUDA_VISIBLE_DEVICES"), os.Getenv("CUDA_DEVICE_ORDER"))
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
// of CUDA_VISIBLE_DEVICES) lists by index; all of them where it is unset or empty. It keeps none
// where visible lists them otherwise (by UUID), and none where the indices may not be
// nvidia-smi's: CUDA numbers GPUs fastest first unless order (CUDA_DEVICE_ORDER) is PCI_BUS_ID,
// nvidia-smi in PCI order, which agree only where every GPU is the same model. The caller then
// falls back to the backend's descriptions.
func visibleGPUs(lines []string, visible, order string) []string {
	if visible == "" {
		return lines
	}
	if order != "PCI_BUS_ID" {
		model := func(l string) string {
			_, rest, _ := strings.Cut(l, ",")
			name, _, _ := strings.Cut(rest, ",")
			return strings.TrimSpace(name)
		}
		for _, l := range lines[min(1, len(lines)):] {
			if model(l) != model(lines[0]) {
				return nil
			}
		}
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
