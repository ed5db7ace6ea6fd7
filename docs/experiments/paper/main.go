// Command paper prints the tables of docs/paper.md from the runs of
// docs/experiments/paper-objectives.sh and docs/experiments/paper-estimators.sh:
//
//	go run ./docs/experiments/paper [-runs runs/paper]          # the Markdown tables and verdicts
//	go run ./docs/experiments/paper -choose DIR -loss L          # the sweep's best entropy weight for L
//
// Accuracies come from each run's result.json, the noise sweep from the comparison's report.json.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"gonum.org/v1/gonum/stat"
	"gonum.org/v1/gonum/stat/distuv"

	"github.com/gomlx-ssl/vicreg/analysis"
	"github.com/gomlx-ssl/vicreg/train/trainer"
)

func main() {
	runs := flag.String("runs", "runs/paper", "folder of the experiments' runs")
	choose := flag.String("choose", "", "print the entropy weight of the best -loss run in this sweep folder (validation linear probe)")
	loss := flag.String("loss", "", "with -choose: the objective")
	flag.Parse()
	if *choose != "" {
		w, err := best(*choose, *loss)
		if err != nil {
			fmt.Fprintln(os.Stderr, "paper:", err)
			os.Exit(1)
		}
		fmt.Println(w)
		return
	}
	if err := tables(*runs); err != nil {
		fmt.Fprintln(os.Stderr, "paper:", err)
		os.Exit(1)
	}
}

func readResult(dir string) (*trainer.Result, error) {
	data, err := os.ReadFile(filepath.Join(dir, trainer.ResultFile))
	if err != nil {
		return nil, err
	}
	var r trainer.Result
	return &r, json.Unmarshal(data, &r)
}

// best returns the entropy weight of the sweep run of loss with the highest linear probe.
func best(dir, loss string) (string, error) {
	matches, _ := filepath.Glob(filepath.Join(dir, loss+"-w*"))
	bestW, bestAcc := "", -1.0
	for _, m := range matches {
		r, err := readResult(m)
		if err != nil {
			return "", err
		}
		if r.Linear > bestAcc {
			bestW, bestAcc = strings.TrimPrefix(filepath.Base(m), loss+"-w"), r.Linear
		}
	}
	if bestW == "" {
		return "", fmt.Errorf("no finished %s runs in %s", loss, dir)
	}
	return bestW, nil
}

// meanSD formats values (fractions) as "mean ± sd" in %.
func meanSD(v []float64) string {
	if len(v) == 0 {
		return "–"
	}
	m, s := stat.MeanStdDev(v, nil)
	if len(v) < 2 {
		return fmt.Sprintf("%.2f", 100*m)
	}
	return fmt.Sprintf("%.2f ± %.2f", 100*m, 100*s)
}

// pairedT is the two-sided paired t-test of a - b: mean difference (points), its 95% interval and p.
func pairedT(a, b []float64) (mean, lo, hi, p float64) {
	n := min(len(a), len(b))
	if n < 2 {
		return math.NaN(), math.NaN(), math.NaN(), math.NaN()
	}
	d := make([]float64, n)
	for i := range d {
		d[i] = 100 * (a[i] - b[i])
	}
	m, s := stat.MeanStdDev(d, nil)
	se := s / math.Sqrt(float64(n))
	t := distuv.StudentsT{Mu: 0, Sigma: 1, Nu: float64(n - 1)}
	half := t.Quantile(0.975) * se
	p = 2 * t.Survival(math.Abs(m/se))
	if se == 0 {
		p = 0
	}
	return m, m - half, m + half, p
}

// budgets reads, for the runs dir/<loss>-seed<k> (k in order), the linear probe and kNN with all,
// 10% and 1% of the labels.
func budgets(dir, loss string) (lin, knn map[string][]float64, seeds []int, err error) {
	lin, knn = map[string][]float64{}, map[string][]float64{}
	matches, _ := filepath.Glob(filepath.Join(dir, loss+"-seed*"))
	sort.Slice(matches, func(i, j int) bool { return seedOf(matches[i]) < seedOf(matches[j]) })
	for _, m := range matches {
		r, err := readResult(m)
		if os.IsNotExist(err) {
			continue
		}
		if err != nil {
			return nil, nil, nil, err
		}
		seeds = append(seeds, seedOf(m))
		lin["100%"], knn["100%"] = append(lin["100%"], r.Linear), append(knn["100%"], r.KNN)
		for _, ll := range r.LowLabel {
			k := strconv.FormatFloat(ll.Percent, 'g', -1, 64) + "%"
			lin[k], knn[k] = append(lin[k], ll.Linear), append(knn[k], ll.KNN)
		}
	}
	return lin, knn, seeds, nil
}

func seedOf(path string) int {
	i := strings.LastIndex(path, "-seed")
	n, _ := strconv.Atoi(path[i+5:])
	return n
}

var labelBudgets = []string{"100%", "10%", "1%"}

func accuracyTable(dir string, losses []string) (map[string]map[string][]float64, error) {
	fmt.Printf("| objective | seeds | linear 100%% | linear 10%% | linear 1%% | kNN 100%% | kNN 10%% | kNN 1%% |\n|---|---|---|---|---|---|---|---|\n")
	all := map[string]map[string][]float64{}
	for _, l := range losses {
		lin, knn, seeds, err := budgets(dir, l)
		if err != nil {
			return nil, err
		}
		if len(seeds) == 0 {
			continue
		}
		all[l] = lin
		fmt.Printf("| %s | %d | %s | %s | %s | %s | %s | %s |\n", l, len(seeds), meanSD(lin["100%"]), meanSD(lin["10%"]), meanSD(lin["1%"]),
			meanSD(knn["100%"]), meanSD(knn["10%"]), meanSD(knn["1%"]))
	}
	fmt.Println("\nTest accuracy in %, mean ± sample standard deviation over seeds.")
	return all, nil
}

func tables(root string) error {
	objDir := filepath.Join(root, "objectives")
	fmt.Printf("## Objectives at an equal budget (%s)\n\n", objDir)
	if _, err := accuracyTable(objDir, []string{"vicreg", "simclr", "barlow"}); err != nil {
		return err
	}
	if err := sweepTables(filepath.Join(objDir, "compare", analysis.ReportJSON)); err != nil {
		fmt.Printf("\n(no noise sweep: %v)\n", err)
	}
	estDir := filepath.Join(root, "estimators")
	fmt.Printf("\n## Entropy-estimator objectives against VICReg (%s)\n\n", estDir)
	sweep, _ := filepath.Glob(filepath.Join(estDir, "sweep", "*"))
	if len(sweep) > 0 {
		fmt.Printf("Validation split (last 10,000 training images), 1 epoch:\n\n| run | linear probe | kNN |\n|---|---|---|\n")
		for _, s := range sweep {
			if r, err := readResult(s); err == nil {
				fmt.Printf("| %s | %.2f | %.2f |\n", filepath.Base(s), 100*r.Linear, 100*r.KNN)
			}
		}
		fmt.Println()
	}
	acc, err := accuracyTable(estDir, []string{"vicreg", "vicreg-logdet", "vicreg-pairdist"})
	if err != nil {
		return err
	}
	fmt.Printf("\nPaired differences against VICReg (same seeds), in points, with the 95%% t-interval and the two-sided paired t-test:\n\n| objective | labels | difference | 95%% CI | p |\n|---|---|---|---|---|\n")
	for _, l := range []string{"vicreg-logdet", "vicreg-pairdist"} {
		for _, b := range labelBudgets {
			if acc[l] == nil || acc["vicreg"] == nil {
				continue
			}
			m, lo, hi, p := pairedT(acc[l][b], acc["vicreg"][b])
			fmt.Printf("| %s | %s | %+.2f | [%+.2f, %+.2f] | %.3f |\n", l, b, m, lo, hi, p)
		}
	}
	return nil
}

// sweepTables prints the per-objective noise sweep and the verdicts on the paper's three claims.
func sweepTables(path string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	var c analysis.Comparison
	if err := json.Unmarshal(data, &c); err != nil {
		return err
	}
	byObj := map[string][]analysis.RunSweep{}
	var objs []string
	for _, r := range c.Runs {
		if byObj[r.Objective] == nil {
			objs = append(objs, r.Objective)
		}
		byObj[r.Objective] = append(byObj[r.Objective], r)
	}
	if len(c.Runs) == 0 {
		return fmt.Errorf("%s holds no runs", path)
	}
	levels := c.Runs[0].Sweep.Levels
	fmt.Printf("\nNoise sweep (%s, %d anchors × %d noisy copies each): mean p-value across anchors, averaged over seeds (range over seeds):\n\n| σ |", c.Runs[0].Sweep.Test, c.Runs[0].Sweep.Anchors, c.Runs[0].Sweep.Copies)
	for _, o := range objs {
		fmt.Printf(" %s |", o)
	}
	fmt.Printf("\n|---|%s\n", strings.Repeat("---|", len(objs)))
	curve := func(r analysis.RunSweep) []float64 {
		out := make([]float64, len(r.Sweep.Levels))
		for i, l := range r.Sweep.Levels {
			out[i] = l.P.Mean
		}
		return out
	}
	for i, l := range levels {
		fmt.Printf("| %g |", l.Sigma)
		for _, o := range objs {
			var v []float64
			for _, r := range byObj[o] {
				v = append(v, curve(r)[i])
			}
			lo, hi := v[0], v[0]
			for _, x := range v {
				lo, hi = min(lo, x), max(hi, x)
			}
			fmt.Printf(" %.3f (%.3f–%.3f) |", stat.Mean(v, nil), lo, hi)
		}
		fmt.Println()
	}
	fmt.Printf("\nVerdicts on the paper's claims, per run:\n\n| run | claim | verdict | evidence |\n|---|---|---|---|\n")
	for _, r := range c.Runs {
		for _, v := range r.Claims {
			fmt.Printf("| %s | %s | %s | %s |\n", r.Label, v.Claim, v.Outcome, v.Detail)
		}
	}
	// VICReg above SimCLR: paired by seed, the mean over σ of the difference of mean p-values.
	if len(byObj["vicreg"]) > 0 && len(byObj["simclr"]) > 0 {
		var a, b []float64
		for i := range min(len(byObj["vicreg"]), len(byObj["simclr"])) {
			a = append(a, stat.Mean(curve(byObj["vicreg"][i]), nil))
			b = append(b, stat.Mean(curve(byObj["simclr"][i]), nil))
		}
		m, lo, hi, p := pairedT(a, b)
		verdict := "inconclusive"
		if lo > 0 {
			verdict = "holds"
		} else if hi < 0 {
			verdict = "fails (SimCLR above VICReg)"
		}
		fmt.Printf("\nVICReg above SimCLR (mean p over σ, VICReg − SimCLR, paired by seed, ×100): %+.2f, 95%% CI [%+.2f, %+.2f], p = %.3f: %s.\n", m, lo, hi, p, verdict)
	}
	return nil
}
