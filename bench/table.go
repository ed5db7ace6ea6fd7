package main

import (
	"fmt"
	"io"
	"os"
	"runtime"
	"strings"

	"github.com/charmbracelet/log"

	"github.com/gomlx-ssl/vicreg/internal/cpuinfo"
)

// row is one line of the table; a zero value means "not measured".
type row struct {
	cfg               benchConfig
	ours, torch       result
	oursGPU, torchGPU gpuUse // on a GPU: what nvidia-smi saw while each side's process ran
	oursErr           string
	torchErr          string
}

// runTable measures every configuration on both sides, and the peak, and prints the table.
func runTable(o options, cfgs []benchConfig) error {
	ts, cleanup, err := newTorchSide(o.python, o.ompPassive, o.device)
	if err != nil {
		return err
	}
	defer cleanup()
	onGPU := o.device == "cuda"
	notes := []string{"CPU: " + cpuinfo.Describe() + "."}
	if ts.note != "" && o.side != "ours" {
		notes = append(notes, ts.note)
	}
	if !onGPU && o.side != "ours" {
		for _, n := range missingTorchLibraries(openBLAS, jemalloc) {
			notes = append(notes, n)
			log.Warn(n)
		}
		if ts.blasNote != "" {
			notes = append(notes, ts.blasNote)
			log.Warn(ts.blasNote)
		}
	}
	doOurs, doTorch := o.side != "torch", o.side != "ours" && ts.note == ""
	var oursEnv []string
	if onGPU {
		// Grow XLA's memory pool on demand, so that nvidia-smi's peak is what the step needs (by
		// default the CUDA plugin reserves 75% of the GPU at start).
		oursEnv = []string{"XLA_PYTHON_CLIENT_PREALLOCATE=false"}
		notes = append(notes, "GPU: peak memory is nvidia-smi's memory.used of GPU 0 while the process ran, less its value before (CUDA context and allocator pool: ours with XLA_PYTHON_CLIENT_PREALLOCATE=false, PyTorch's caching allocator); utilisation is nvidia-smi's mean over the process, compile included. float32 products may use TF32 on both sides (XLA's default precision; PyTorch with cuDNN's default and set_float32_matmul_precision(\"high\")).")
		if o.peak > 0 {
			notes = append(notes, "The matmul peak and the % of peak columns are CPU measures (per CPU-second): skipped on the GPU.")
			o.peak = 0
		}
	}

	// FLOP counts: ours are analytic; check them against PyTorch's hooks once per model.
	if doTorch {
		seen := map[string]bool{}
		for _, c := range cfgs {
			key := fmt.Sprintf("%s/%d/%d/%v", c.arch(), c.image(), c.Width, c.Expander)
			if seen[key] {
				continue
			}
			seen[key] = true
			notes = append(notes, macsCheck(ts, c))
		}
	}

	// The peak is counted per CPU-second (GFLOP/s divided by the cores the process kept busy), so
	// that it means the same on a machine whose cores are shared with other work; the machine's
	// peak is that times its cores.
	var peakOurs, peakTorch float64
	if o.peak > 0 {
		if doOurs {
			var r result
			if err := inChild(job{Kind: "peak", Size: o.peak, Warmup: 2, Steps: 5}, nil, &r); err != nil {
				return fmt.Errorf("our matmul peak: %w", err)
			}
			peakOurs = perCPU(r.PeakGFLOP, r.CPUCores)
		}
		if doTorch {
			r, err := ts.run("--mode", "peak", "--size", fmt.Sprint(o.peak), "--warmup", "2", "--steps", "5")
			if err != nil {
				return fmt.Errorf("PyTorch matmul peak: %w", err)
			}
			peakTorch = perCPU(r.GFLOPs, r.CPUCores)
		}
		notes = append(notes, fmt.Sprintf("Peak: %d×%d float32 matmul, ours (XLA DotGeneral) %.1f GFLOP per CPU-second, PyTorch (its BLAS) %.1f; "+
			"%% of peak is a step's GFLOP per CPU-second over the larger (the machine's peak is %d cores × that).",
			o.peak, o.peak, peakOurs, peakTorch, runtime.NumCPU()))
	}
	peak := max(peakOurs, peakTorch)

	var rows []row
	for _, c := range cfgs {
		r := row{cfg: c}
		if doOurs {
			log.Info("ours", "config", c.Name)
			var err error
			var note string
			r.oursGPU, note = sampled(onGPU, func() {
				err = inChild(job{Kind: "config", Config: c, Warmup: o.warmup, Steps: o.steps}, oursEnv, &r.ours)
			})
			if err != nil {
				r.oursErr = err.Error()
			} else if r.ours.Err != "" {
				r.oursErr = r.ours.Err
			}
			if note != "" {
				notes = append(notes, c.Name+" ours, GPU sampling: "+note)
			}
		}
		if doTorch {
			log.Info("torch", "config", c.Name)
			var t torchResult
			var err error
			var note string
			r.torchGPU, note = sampled(onGPU, func() { t, err = ts.run(configArgs(c, o.warmup, o.steps, o.device)...) })
			if err != nil {
				r.torchErr = err.Error()
			} else {
				r.torch = result{Config: c.Name, FirstS: t.FirstS, StepS: t.StepS, ImagesPS: t.ImagesPS, VmHWMKiB: t.VmHWMKiB, CPUCores: t.CPUCores}
				if onGPU {
					notes = append(notes, fmt.Sprintf("%s PyTorch %s on %s: caching allocator peak %.0f MiB allocated, %.0f MiB reserved.", c.Name, t.TorchVersion, t.GPU, t.GPUAllocMiB, t.GPUReserved))
				}
			}
			if note != "" {
				notes = append(notes, c.Name+" PyTorch, GPU sampling: "+note)
			}
		}
		log.Info("row", "config", c.Name, "ours views/s", fmt.Sprintf("%.1f", r.ours.ImagesPS), "torch views/s", fmt.Sprintf("%.1f", r.torch.ImagesPS),
			"first s (ours/torch)", fmt.Sprintf("%.1f/%.1f", r.ours.FirstS, r.torch.FirstS), "GPU MiB (ours/torch)", fmt.Sprintf("%.0f/%.0f", r.oursGPU.PeakMiB, r.torchGPU.PeakMiB))
		for _, e := range []string{r.oursErr, r.torchErr} {
			if e != "" {
				notes = append(notes, fmt.Sprintf("%s: %s", c.Name, tail(e, 500)))
			}
		}
		rows = append(rows, r)
	}
	writeTable(os.Stdout, rows, peak, notes, o)
	if doOurs {
		failed := 0
		for _, r := range rows {
			if r.oursErr != "" {
				failed++
			}
		}
		if failed == len(rows) {
			return fmt.Errorf("every configuration failed on our side; the first: %s", tail(rows[0].oursErr, 400))
		}
	}
	return nil
}

// macsCheck compares our analytic MAC count with the one PyTorch's hooks give.
func macsCheck(ts *torchSide, c benchConfig) string {
	m := benchConfig{Mode: "macs", Arch: c.Arch, Image: c.Image, Width: c.Width, Expander: c.Expander}
	t, err := ts.run(configArgs(m, 1, 1, "cpu")...)
	if err != nil {
		return fmt.Sprintf("MAC cross-check for %s width %d failed: %v", c.arch(), c.Width, err)
	}
	enc, exp := c.encoderMACs(), expanderMACs(c.featureDim(), c.Expander)
	verdict := "equal"
	if enc != t.Encoder || exp != t.Expander {
		verdict = "DIFFERENT"
	}
	return fmt.Sprintf("MACs per image, %s %d px width %d: encoder %d, expander %d (analytic); PyTorch hooks %d, %d: %s.",
		c.arch(), c.image(), c.Width, enc, exp, t.Encoder, t.Expander, verdict)
}

// writeTable prints the markdown table and its notes.
func writeTable(w io.Writer, rows []row, peak float64, notes []string, o options) {
	if o.device == "cuda" {
		writeGPUTable(w, rows, notes, o)
		return
	}
	fmt.Fprintf(w, "\n| config | ours views/s | torch views/s | ours/torch | ours GFLOP/s | torch GFLOP/s | %% of peak per CPU-s (ours / torch) | first step s (ours / torch) | peak RSS MiB (ours / torch) |\n")
	fmt.Fprintf(w, "|---|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, r := range rows {
		gf := func(x result) float64 { return gflopsPerSec(r.cfg, x) }
		ratio := "–"
		if r.ours.ImagesPS > 0 && r.torch.ImagesPS > 0 {
			ratio = fmt.Sprintf("%.2f", r.ours.ImagesPS/r.torch.ImagesPS)
		}
		pct := func(x result) string {
			if peak == 0 || x.StepS == 0 || x.CPUCores == 0 {
				return "–"
			}
			return fmt.Sprintf("%.0f%%", 100*perCPU(gf(x), x.CPUCores)/peak)
		}
		fmt.Fprintf(w, "| %s | %s | %s | %s | %s | %s | %s / %s | %s / %s | %s / %s |\n", r.cfg.Name,
			num(r.ours.ImagesPS, 1), num(r.torch.ImagesPS, 1), ratio, num(gf(r.ours), 1), num(gf(r.torch), 1),
			pct(r.ours), pct(r.torch), num(r.ours.FirstS, 1), num(r.torch.FirstS, 1),
			num(float64(r.ours.VmHWMKiB)/1024, 0), num(float64(r.torch.VmHWMKiB)/1024, 0))
	}
	fmt.Fprintf(w, "\nThe same steps per CPU second (CPU time of the process, all its threads: the work each side needs, less sensitive than wall time to other work on the cores):\n\n")
	fmt.Fprintf(w, "| config | ours cores busy | torch cores busy | ours GFLOP per CPU-s | torch GFLOP per CPU-s | ours/torch (CPU time) |\n|---|---:|---:|---:|---:|---:|\n")
	for _, r := range rows {
		rate := func(x result) float64 { return perCPU(gflopsPerSec(r.cfg, x), x.CPUCores) }
		ratio := "–"
		if rate(r.ours) > 0 && rate(r.torch) > 0 {
			ratio = fmt.Sprintf("%.2f", rate(r.ours)/rate(r.torch))
		}
		fmt.Fprintf(w, "| %s | %s | %s | %s | %s | %s |\n", r.cfg.Name, num(r.ours.CPUCores, 2), num(r.torch.CPUCores, 2),
			num(rate(r.ours), 1), num(rate(r.torch), 1), ratio)
	}
	fmt.Fprintf(w, "\nSteady state: %d untimed calls (the first is the compile / first step), then the mean of %d timed steps. "+
		"A training step counts both views (2×batch images) and 3 forwards of FLOPs; inference is the encoder alone. "+
		"bf16 rows: ours at -precision bf16, PyTorch under torch.autocast(\"cpu\", dtype=torch.bfloat16) around the forward passes, the loss in float32. "+
		"Backend %s; PyTorch: %s, %d threads (as many as XLA uses: every usable CPU), OpenBLAS pthread and jemalloc where installed (see below), OMP_WAIT_POLICY=PASSIVE %v.\n", o.warmup, o.steps, backendName(), o.python, runtime.NumCPU(), o.ompPassive)
	for _, n := range notes {
		fmt.Fprintf(w, "- %s\n", strings.ReplaceAll(n, "\n", " "))
	}
}

// writeGPUTable prints the GPU table: rates, first step, and nvidia-smi's peak memory and
// utilisation for each side's process.
func writeGPUTable(w io.Writer, rows []row, notes []string, o options) {
	fmt.Fprintf(w, "\n| config | ours views/s | torch views/s | ours/torch | ours TFLOP/s | torch TFLOP/s | first step s (ours / torch) | peak GPU MiB (ours / torch) | GPU util %% (ours / torch) |\n")
	fmt.Fprintf(w, "|---|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, r := range rows {
		ratio := "–"
		if r.ours.ImagesPS > 0 && r.torch.ImagesPS > 0 {
			ratio = fmt.Sprintf("%.2f", r.ours.ImagesPS/r.torch.ImagesPS)
		}
		tf := func(x result) string { return num(gflopsPerSec(r.cfg, x)/1000, 2) }
		fmt.Fprintf(w, "| %s | %s | %s | %s | %s | %s | %s / %s | %s / %s | %s / %s |\n", r.cfg.Name,
			num(r.ours.ImagesPS, 0), num(r.torch.ImagesPS, 0), ratio, tf(r.ours), tf(r.torch),
			num(r.ours.FirstS, 1), num(r.torch.FirstS, 1), num(r.oursGPU.PeakMiB, 0), num(r.torchGPU.PeakMiB, 0),
			num(r.oursGPU.MeanUtil, 0), num(r.torchGPU.MeanUtil, 0))
	}
	fmt.Fprintf(w, "\nSteady state: %d untimed calls (the first is the compile / first step), then the mean of %d timed steps, each waited for. "+
		"A training step counts both views (2×batch images) and 3 forwards of FLOPs; inference is the encoder alone. "+
		"bf16 rows: ours at -precision bf16, PyTorch under torch.autocast(dtype=torch.bfloat16). Backend %s; PyTorch: %s.\n", o.warmup, o.steps, backendName(), o.python)
	for _, n := range notes {
		fmt.Fprintf(w, "- %s\n", strings.ReplaceAll(n, "\n", " "))
	}
}

// gflopsPerSec is the configuration's step FLOPs over x's step time, in GFLOP/s (0 if not measured).
func gflopsPerSec(c benchConfig, x result) float64 {
	if x.StepS == 0 {
		return 0
	}
	return c.flopsPerStep() / x.StepS / 1e9
}

// perCPU is a rate per CPU-second: gflops achieved while keeping cores CPUs busy (0 if unknown).
func perCPU(gflops, cores float64) float64 {
	if cores <= 0 {
		return 0
	}
	return gflops / cores
}

func num(x float64, prec int) string {
	if x == 0 {
		return "–"
	}
	return fmt.Sprintf("%.*f", prec, x)
}

func backendName() string {
	if b := os.Getenv("GOMLX_BACKEND"); b != "" {
		return b
	}
	return "xla:cpu (default)"
}
