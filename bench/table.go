package main

import (
	"fmt"
	"io"
	"os"
	"runtime"
	"strings"

	"github.com/charmbracelet/log"
)

// row is one line of the table; a zero value means "not measured".
type row struct {
	cfg         benchConfig
	ours, torch result
	oursErr     string
	torchErr    string
}

// runTable measures every configuration on both sides, and the peak, and prints the table.
func runTable(o options, cfgs []benchConfig) error {
	ts, cleanup, err := newTorchSide(o.python, o.ompPassive)
	if err != nil {
		return err
	}
	defer cleanup()
	var notes []string
	if ts.note != "" && o.side != "ours" {
		notes = append(notes, ts.note)
	}
	doOurs, doTorch := o.side != "torch", o.side != "ours" && ts.note == ""

	// FLOP counts: ours are analytic; check them against PyTorch's hooks once per width.
	if doTorch {
		seen := map[int]bool{}
		for _, c := range cfgs {
			if seen[c.Width] {
				continue
			}
			seen[c.Width] = true
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
		notes = append(notes, fmt.Sprintf("Peak: %d×%d float32 matmul, ours (XLA DotGeneral) %.1f GFLOP per CPU-second, PyTorch (OpenBLAS) %.1f; "+
			"%% of peak is a step's GFLOP per CPU-second over the larger (the machine's peak is %d cores × that).",
			o.peak, o.peak, peakOurs, peakTorch, runtime.NumCPU()))
	}
	peak := max(peakOurs, peakTorch)

	var rows []row
	for _, c := range cfgs {
		r := row{cfg: c}
		if doOurs {
			log.Info("ours", "config", c.Name)
			if err := inChild(job{Kind: "config", Config: c, Warmup: o.warmup, Steps: o.steps}, nil, &r.ours); err != nil {
				r.oursErr = err.Error()
			} else if r.ours.Err != "" {
				r.oursErr = r.ours.Err
			}
		}
		if doTorch {
			log.Info("torch", "config", c.Name)
			t, err := ts.run(configArgs(c, o.warmup, o.steps)...)
			if err != nil {
				r.torchErr = err.Error()
			} else {
				r.torch = result{Config: c.Name, FirstS: t.FirstS, StepS: t.StepS, ImagesPS: t.ImagesPS, VmHWMKiB: t.VmHWMKiB, CPUCores: t.CPUCores}
			}
		}
		for _, e := range []string{r.oursErr, r.torchErr} {
			if e != "" {
				notes = append(notes, fmt.Sprintf("%s: %s", c.Name, tail(e, 500)))
			}
		}
		rows = append(rows, r)
	}
	writeTable(os.Stdout, rows, peak, notes, o)
	return nil
}

// macsCheck compares our analytic MAC count with the one PyTorch's hooks give.
func macsCheck(ts *torchSide, c benchConfig) string {
	t, err := ts.run(configArgs(benchConfig{Mode: "macs", Width: c.Width, Expander: c.Expander}, 1, 1)...)
	if err != nil {
		return fmt.Sprintf("MAC cross-check for width %d failed: %v", c.Width, err)
	}
	enc, exp := resnet18MACs(c.Width, 32, 32, 3), expanderMACs(8*c.Width, c.Expander)
	verdict := "equal"
	if enc != t.Encoder || exp != t.Expander {
		verdict = "DIFFERENT"
	}
	return fmt.Sprintf("MACs per image, width %d: encoder %d, expander %d (analytic); PyTorch hooks %d, %d: %s.",
		c.Width, enc, exp, t.Encoder, t.Expander, verdict)
}

// writeTable prints the markdown table and its notes.
func writeTable(w io.Writer, rows []row, peak float64, notes []string, o options) {
	fmt.Fprintf(w, "\n| config | ours img/s | torch img/s | ours/torch | ours GFLOP/s | torch GFLOP/s | %% of peak per CPU-s (ours / torch) | first step s (ours / torch) | peak RSS MiB (ours / torch) |\n")
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
		"Backend %s; PyTorch: %s, 2 threads, OpenBLAS pthread, jemalloc, OMP_WAIT_POLICY=PASSIVE %v.\n", o.warmup, o.steps, backendName(), o.python, o.ompPassive)
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
