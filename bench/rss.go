package main

import (
	"fmt"

	"github.com/gomlx/gomlx/backends"
)

// rssReport is the resident memory of a long run, sampled every 100 steps.
type rssReport struct {
	Config   string  `json:"config"`
	Steps    []int   `json:"steps"`
	RSSKiB   []int64 `json:"rss_kib"`
	VmHWMKiB int64   `json:"vmhwm_kib"`
	Err      string  `json:"error,omitempty"`
}

// rssSamples runs steps training steps of c and samples VmRSS after every 100th.
func rssSamples(b backends.Backend, c benchConfig, steps int) rssReport {
	rep := rssReport{Config: c.Name}
	run, done, err := buildOurs(b, c)
	if err != nil {
		rep.Err = err.Error()
		return rep
	}
	defer done()
	for i := 1; i <= steps; i++ {
		if err := run(); err != nil {
			rep.Err = fmt.Sprintf("step %d: %v", i, err)
			return rep
		}
		if i%100 == 0 || i == 1 {
			rss, err := procStatusKiB("VmRSS")
			if err != nil {
				rep.Err = err.Error()
				return rep
			}
			rep.Steps = append(rep.Steps, i)
			rep.RSSKiB = append(rep.RSSKiB, rss)
		}
	}
	rep.VmHWMKiB, _ = procStatusKiB("VmHWM")
	return rep
}

// runRSS prints the memory-stability report of -rss-steps.
func runRSS(o options, exp []int) error {
	c := benchConfig{Name: fmt.Sprintf("r18w%d-train-sgd-b%d", o.rssWidth, o.rssBatch), Mode: modeTrain,
		Width: o.rssWidth, Batch: o.rssBatch, Opt: "sgd", Expander: exp}
	var rep rssReport
	if err := inChild(job{Kind: "rss", Config: c, Steps: o.rssSteps}, nil, &rep); err != nil {
		return err
	}
	if rep.Err != "" {
		return fmt.Errorf("%s: %s", c.Name, rep.Err)
	}
	fmt.Printf("\n| step | RSS MiB |\n|---:|---:|\n")
	for i, s := range rep.Steps {
		fmt.Printf("| %d | %.1f |\n", s, float64(rep.RSSKiB[i])/1024)
	}
	growth, perStep := rssGrowth(rep.Steps, rep.RSSKiB)
	fmt.Printf("\n%s, %d steps: RSS growth from step %d to %d: %.1f MiB (%.2f KiB/step); peak (VmHWM) %.1f MiB.\n",
		c.Name, o.rssSteps, firstAfterWarmup(rep.Steps), rep.Steps[len(rep.Steps)-1], float64(growth)/1024, perStep,
		float64(rep.VmHWMKiB)/1024)
	bound := rssBound(rep.Steps, rep.RSSKiB)
	verdict := "within"
	if growth > bound {
		verdict = "EXCEEDS"
	}
	fmt.Printf("Bound: growth after step 100 at most max(64 MiB, 5%% of the RSS at step 100) = %.1f MiB: %s.\n", float64(bound)/1024, verdict)
	return nil
}

// rssBound is the growth that the memory-stability check allows, in KiB: 64 MiB or 5% of the
// resident memory at the first settled sample (step 100), whichever is larger. Allocators grow
// their arenas in steps of a few MiB as buffer sizes vary; a leak of one activation per step
// (hundreds of KiB and up) exceeds the bound within 1,000 steps.
func rssBound(steps []int, rss []int64) int64 {
	for i, s := range steps {
		if s >= 100 {
			return max(64*1024, rss[i]/20)
		}
	}
	return 64 * 1024
}

// rssGrowth is the RSS change from the first sample at or after step 100 (allocators and caches
// have settled by then) to the last sample, in KiB, and per step.
func rssGrowth(steps []int, rss []int64) (int64, float64) {
	first := 0
	for first < len(steps)-1 && steps[first] < 100 {
		first++
	}
	last := len(steps) - 1
	if last <= first {
		return 0, 0
	}
	d := rss[last] - rss[first]
	return d, float64(d) / float64(steps[last]-steps[first])
}

func firstAfterWarmup(steps []int) int {
	for _, s := range steps {
		if s >= 100 {
			return s
		}
	}
	return steps[len(steps)-1]
}
