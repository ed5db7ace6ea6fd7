// Command paper prints the tables of docs/paper.md from the runs of
// docs/experiments/paper-objectives.sh, docs/experiments/paper-estimators.sh and
// docs/experiments/pairdist-sigma.sh:
//
//	go run ./docs/experiments/paper [-runs runs/paper] [-figures docs/figures]  # tables, verdicts, figures
//	go run ./docs/experiments/paper -choose DIR -loss L          # the sweep's best entropy weight for L
//
// Accuracies come from each run's result.json, the noise sweep from the comparison's report.json.
// Exit status: 0 on success, 1 on failure, 2 on a usage error (a -runs folder that does not exist
// or holds no experiment's runs, -choose without -loss, an argument that is not a flag).
package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"

	"gonum.org/v1/gonum/stat"
	"gonum.org/v1/gonum/stat/distuv"

	"github.com/gomlx-ssl/vicreg/analysis"
	"github.com/gomlx-ssl/vicreg/internal/flagargs"
	"github.com/gomlx-ssl/vicreg/losses"
	"github.com/gomlx-ssl/vicreg/plot"
	"github.com/gomlx-ssl/vicreg/results"
	"github.com/gomlx-ssl/vicreg/train/config"
)

func main() {
	runs := flag.String("runs", "runs/paper", "folder of the experiments' runs")
	choose := flag.String("choose", "", "print the entropy weight of the best -loss run in this sweep folder (validation linear probe)")
	loss := flag.String("loss", "", "with -choose: the objective")
	figures := flag.String("figures", "", "also draw the page's figures (SVG and PNG) into this folder, e.g. docs/figures")
	flag.Parse()
	usage := func(format string, a ...any) {
		fmt.Fprintf(os.Stderr, "paper: "+format+"\nRun 'go run ./docs/experiments/paper -h' for the flags.\n", a...)
		os.Exit(2)
	}
	switch {
	case flag.NArg() > 0:
		usage("%s", flagargs.Stray(flag.CommandLine, os.Args[1:]))
	case *choose != "" && *loss == "":
		usage("-choose needs -loss, the objective whose sweep runs (LOSS-wWEIGHT) it compares")
	case *choose == "" && *loss != "":
		usage("-loss applies with -choose DIR")
	}
	if *choose == "" {
		if err := checkRuns(*runs); err != nil {
			usage("%v", err)
		}
	}
	if *choose != "" {
		w, err := best(*choose, *loss)
		if err != nil {
			fmt.Fprintln(os.Stderr, "paper:", err)
			os.Exit(1)
		}
		fmt.Println(w)
		return
	}
	if err := tables(*runs, *figures); err != nil {
		fmt.Fprintln(os.Stderr, "paper:", err)
		os.Exit(1)
	}
}

// runFolders are the folders of -runs that the tables read, one per experiment script.
var runFolders = []string{"objectives", "estimators", "pairdist-sigma"}

// checkRuns returns an error when root is not a folder holding at least one experiment's runs:
// the tables would otherwise print as empty, as if no run had finished.
func checkRuns(root string) error {
	if info, err := os.Stat(root); err != nil {
		return fmt.Errorf("-runs: %w: give the folder the experiment scripts wrote (docs/experiments/paper-*.sh: %s)", err, strings.Join(runFolders, ", "))
	} else if !info.IsDir() {
		return fmt.Errorf("-runs: %s is not a folder", root)
	}
	for _, name := range runFolders {
		if info, err := os.Stat(filepath.Join(root, name)); err == nil && info.IsDir() {
			return nil
		}
	}
	return fmt.Errorf("-runs: %s holds none of %s: give the folder the experiment scripts wrote (docs/experiments/paper-*.sh)", root, strings.Join(runFolders, ", "))
}

// errUnfinished is readResult's error for a run that has not finished.
var errUnfinished = errors.New("the run has not finished")

// readResult reads the result of the finished run in dir. A run without result.json, or whose
// result.json says a signal interrupted its final evaluation (it then holds only the accuracies
// measured before the signal), gives an error wrapping errUnfinished; so does one without a linear
// probe and kNN (a run without an evaluation split).
func readResult(dir string) (*results.Pretrain, error) {
	r, err := results.ReadAs[results.Pretrain](filepath.Join(dir, results.File))
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil, fmt.Errorf("%s: %w (no %s)", dir, errUnfinished, results.File)
	case err != nil:
		return nil, err
	case r.Interrupted:
		return nil, fmt.Errorf("%s: %w: a signal stopped its final evaluation (go run ./train -config %s -resume evaluates it again)",
			dir, errUnfinished, filepath.Join(dir, config.FileName))
	case r.Linear == nil || r.KNN == nil:
		return nil, fmt.Errorf("%s: %w: its %s holds no linear probe and kNN", dir, errUnfinished, results.File)
	}
	return r, nil
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
		if *r.Linear > bestAcc {
			bestW, bestAcc = strings.TrimPrefix(filepath.Base(m), loss+"-w"), *r.Linear
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

// pairedT is the two-sided paired t-test of a - b over the seeds both have: the mean difference
// (points), its 95% interval, p, and the number of pairs. Fewer than two pairs give NaNs.
func pairedT(a, b map[int]float64) (mean, lo, hi, p float64, n int) {
	var d []float64
	for _, seed := range sortedSeeds(a) {
		if y, ok := b[seed]; ok {
			d = append(d, 100*(a[seed]-y))
		}
	}
	n = len(d)
	if n < 2 {
		return math.NaN(), math.NaN(), math.NaN(), math.NaN(), n
	}
	m, s := stat.MeanStdDev(d, nil)
	se := s / math.Sqrt(float64(n))
	if se == 0 {
		return m, m, m, 0, n
	}
	t := distuv.StudentsT{Mu: 0, Sigma: 1, Nu: float64(n - 1)}
	half := t.Quantile(0.975) * se
	return m, m - half, m + half, 2 * t.Survival(math.Abs(m/se)), n
}

func sortedSeeds(m map[int]float64) []int {
	var seeds []int
	for s := range m {
		seeds = append(seeds, s)
	}
	sort.Ints(seeds)
	return seeds
}

// values returns m's values in the order of their seeds.
func values(m map[int]float64) []float64 {
	var v []float64
	for _, s := range sortedSeeds(m) {
		v = append(v, m[s])
	}
	return v
}

// accuracies are one objective's test accuracies (fractions) by label budget ("100%", "10%",
// "1%") and seed.
type accuracies struct {
	linear, knn map[string]map[int]float64
	seeds       int
}

// budgets reads the finished runs dir/<loss>-seed<k>: the linear probe and kNN with all, 10%
// and 1% of the labels.
func budgets(dir, loss string) (accuracies, error) {
	acc := accuracies{linear: map[string]map[int]float64{}, knn: map[string]map[int]float64{}}
	put := func(budget string, seed int, lin, knn float64) {
		if acc.linear[budget] == nil {
			acc.linear[budget], acc.knn[budget] = map[int]float64{}, map[int]float64{}
		}
		acc.linear[budget][seed], acc.knn[budget][seed] = lin, knn
	}
	matches, _ := filepath.Glob(filepath.Join(dir, loss+"-seed*"))
	for _, m := range matches {
		seed, err := strconv.Atoi(strings.TrimPrefix(filepath.Base(m), loss+"-seed"))
		if err != nil {
			continue // another objective whose name starts with loss (vicreg-logdet for vicreg)
		}
		r, err := readResult(m)
		if errors.Is(err, errUnfinished) {
			continue
		}
		if err != nil {
			return acc, fmt.Errorf("%s: %w", m, err)
		}
		acc.seeds++
		put("100%", seed, *r.Linear, *r.KNN)
		for _, ll := range r.LowLabel {
			put(strconv.FormatFloat(ll.Percent, 'g', -1, 64)+"%", seed, ll.Linear, ll.KNN)
		}
	}
	return acc, nil
}

var labelBudgets = []string{"100%", "10%", "1%"}

func accuracyTable(dir string, objectives []string) (map[string]accuracies, error) {
	fmt.Printf("| objective | seeds | linear 100%% | linear 10%% | linear 1%% | kNN 100%% | kNN 10%% | kNN 1%% |\n|---|---|---|---|---|---|---|---|\n")
	all := map[string]accuracies{}
	for _, l := range objectives {
		acc, err := budgets(dir, l)
		if err != nil {
			return nil, err
		}
		if acc.seeds == 0 {
			continue
		}
		all[l] = acc
		fmt.Printf("| %s | %d |", l, acc.seeds)
		for _, m := range []map[string]map[int]float64{acc.linear, acc.knn} {
			for _, b := range labelBudgets {
				fmt.Printf(" %s |", meanSD(values(m[b])))
			}
		}
		fmt.Println()
	}
	fmt.Println("\nTest accuracy in %, mean ± sample standard deviation over seeds.")
	return all, nil
}

// holmFinite is analysis.Holm over the finite p-values (a row without a test, NaN, is never
// significant and does not count in the family).
func holmFinite(p []float64, alpha float64) []bool {
	var finite []float64
	var at []int
	for i, x := range p {
		if !math.IsNaN(x) {
			finite, at = append(finite, x), append(at, i)
		}
	}
	out := make([]bool, len(p))
	for j, rej := range analysis.Holm(finite, alpha) {
		out[at[j]] = rej
	}
	return out
}

// verdict reads a paired difference's 95% interval against the reference ref.
func verdict(lo, hi float64, ref string) string {
	switch {
	case lo > 0:
		return "better than " + ref
	case hi < 0:
		return "worse than " + ref
	case math.IsNaN(lo):
		return "too few seeds"
	}
	return "no difference detected"
}

func tables(root, figures string) error {
	objDir := filepath.Join(root, "objectives")
	fmt.Printf("## Objectives at an equal budget (%s)\n\n", objDir)
	objAcc, err := accuracyTable(objDir, []string{"vicreg", "simclr", "barlow"})
	if err != nil {
		return err
	}
	cmp, err := readComparison(filepath.Join(objDir, "compare", analysis.ReportJSON))
	if err == nil {
		sweepTables(os.Stdout, cmp)
	} else {
		fmt.Printf("\n(no noise sweep: %v)\n", err)
	}
	estDir := filepath.Join(root, "estimators")
	fmt.Printf("\n## Entropy-estimator objectives against VICReg (%s)\n\n", estDir)
	sweep, _ := filepath.Glob(filepath.Join(estDir, "sweep", "*"))
	sortSweep(sweep)
	if len(sweep) > 0 {
		fmt.Printf("Validation split (last 10,000 training images), 1 epoch:\n\n| run | linear probe | kNN |\n|---|---|---|\n")
		for _, s := range sweep {
			if r, err := readResult(s); err == nil {
				fmt.Printf("| %s | %.2f | %.2f |\n", filepath.Base(s), 100**r.Linear, 100**r.KNN)
			}
		}
		fmt.Println()
	}
	estAcc, err := accuracyTable(estDir, estimatorLosses)
	if err != nil {
		return err
	}
	pairedRows(estAcc, estimatorLosses)
	sigmaFig, err := pairdistSigma(filepath.Join(root, "pairdist-sigma"))
	if err != nil {
		return err
	}
	if figures == "" {
		return nil
	}
	if err := os.MkdirAll(figures, 0o755); err != nil {
		return err
	}
	save := func(fig *plot.Figure, name string) error {
		if fig == nil {
			return nil
		}
		svg, png := filepath.Join(figures, name+".svg"), filepath.Join(figures, name+".png")
		fmt.Fprintf(os.Stderr, "paper: writing %s and %s\n", svg, png)
		return fig.Save(svg, png)
	}
	if cmp != nil {
		if err := save(analysis.ComparisonFigure(cmp), "paper-noise"); err != nil {
			return err
		}
	}
	if err := save(accuracyFigure("VICReg, SimCLR and Barlow Twins at an equal budget (MNIST, ResNet-18 width 24, 2 epochs)",
		objAcc, []string{"vicreg", "simclr", "barlow"}), "paper-objectives-accuracy"); err != nil {
		return err
	}
	if err := save(accuracyFigure("Entropy-estimator objectives against VICReg (MNIST, ResNet-18 width 24, 2 epochs)",
		estAcc, estimatorLosses), "paper-estimators-accuracy"); err != nil {
		return err
	}
	return save(sigmaFig, "paper-pairdist-sigma")
}

// pairedRows prints the paired differences of each of objectives[1:] from objectives[0] (the
// reference, same seeds), in points, per probe and label budget: the 95% t-interval, the two-sided
// paired t-test, and whether it stays significant at 0.05 after Holm's correction over all the rows.
func pairedRows(all map[string]accuracies, objectives []string) {
	type row struct {
		loss, probe, budget string
		n                   int
		mean, lo, hi, p     float64
	}
	ref := objectives[0]
	var rows []row
	for _, l := range objectives[1:] {
		a, v := all[l], all[ref]
		if a.seeds == 0 || v.seeds == 0 {
			continue
		}
		for _, probe := range []string{"linear", "kNN"} {
			am, vm := a.linear, v.linear
			if probe == "kNN" {
				am, vm = a.knn, v.knn
			}
			for _, b := range labelBudgets {
				m, lo, hi, p, n := pairedT(am[b], vm[b])
				rows = append(rows, row{l, probe, b, n, m, lo, hi, p})
			}
		}
	}
	var ps []float64
	for _, r := range rows {
		ps = append(ps, r.p)
	}
	holm := holmFinite(ps, 0.05)
	fmt.Printf("\nPaired differences against %s (same seeds), in points, with the 95%% t-interval, the two-sided paired t-test, and whether it stays significant at 0.05 after Holm's correction over the %d rows:\n\n| objective | probe | labels | pairs | difference | 95%% CI | p | Holm | verdict |\n|---|---|---|---|---|---|---|---|---|\n", ref, len(rows))
	for i, r := range rows {
		mark := "no"
		if holm[i] {
			mark = "yes"
		}
		fmt.Printf("| %s | %s | %s | %d | %+.2f | [%+.2f, %+.2f] | %.3f | %s | %s |\n", r.loss, r.probe, r.budget, r.n, r.mean, r.lo, r.hi, r.p, mark, verdict(r.lo, r.hi, ref))
	}
}

// sigmaRun is one run of PairDist's (σ, w) grid: sweep/sigma<σ>-w<w>, σ = losses.Auto for auto.
type sigmaRun struct {
	sigma, weight float64
	linear, knn   float64 // validation accuracy, %
}

// ratio is w/σ², the quantity the objective depends on once the embeddings' scale is free
// (scaling them by a turns (σ, w) into (σ/a, w/a²)); NaN for σ = auto.
func (r sigmaRun) ratio() float64 {
	if r.sigma == losses.Auto {
		return math.NaN()
	}
	return r.weight / (r.sigma * r.sigma)
}

// readSigmaGrid reads the finished runs dir/sigma<σ>-w<w>, ordered by w/σ² (auto last), then by
// σ, the larger first.
func readSigmaGrid(dir string) ([]sigmaRun, error) {
	matches, _ := filepath.Glob(filepath.Join(dir, "sigma*-w*"))
	var runs []sigmaRun
	for _, m := range matches {
		s, w, ok := strings.Cut(strings.TrimPrefix(filepath.Base(m), "sigma"), "-w")
		if !ok {
			continue
		}
		weight, err := strconv.ParseFloat(w, 64)
		if err != nil {
			continue
		}
		sigma := float64(losses.Auto)
		if s != losses.AutoJSON {
			if sigma, err = strconv.ParseFloat(s, 64); err != nil || sigma <= 0 {
				continue
			}
		}
		r, err := readResult(m)
		if errors.Is(err, errUnfinished) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", m, err)
		}
		runs = append(runs, sigmaRun{sigma, weight, 100 * *r.Linear, 100 * *r.KNN})
	}
	sort.SliceStable(runs, func(i, j int) bool {
		ri, rj := runs[i].ratio(), runs[j].ratio()
		switch {
		case math.IsNaN(ri) || math.IsNaN(rj):
			return !math.IsNaN(ri) && math.IsNaN(rj)
		case ri != rj:
			return ri < rj
		}
		return runs[i].sigma > runs[j].sigma
	})
	return runs, nil
}

// sigmaLabel names σ in tables and legends.
func sigmaLabel(sigma float64) string {
	if sigma == losses.Auto {
		return losses.AutoJSON
	}
	return strconv.FormatFloat(sigma, 'g', -1, 64)
}

// sigmaFigure draws the grid's validation accuracy against w/σ² (log axis), a curve per σ, σ =
// auto as a reference line: a panel per probe. Nil without runs at a fixed σ.
func sigmaFigure(runs []sigmaRun) *plot.Figure {
	var sigmas []float64
	for _, r := range runs {
		if r.sigma != losses.Auto && !slices.Contains(sigmas, r.sigma) {
			sigmas = append(sigmas, r.sigma)
		}
	}
	if len(sigmas) == 0 {
		return nil
	}
	sort.Float64s(sigmas)
	fig := &plot.Figure{Title: "VICReg-PairDist: kernel width σ and entropy weight w (MNIST validation split, 1 epoch, seed 0)", Columns: 2}
	for _, probe := range []struct {
		name string
		get  func(sigmaRun) float64
	}{
		{"linear probe", func(r sigmaRun) float64 { return r.linear }},
		{"kNN (k = 20)", func(r sigmaRun) float64 { return r.knn }},
	} {
		get := probe.get
		pn := plot.Panel{Title: probe.name, XLabel: "w / σ² (log scale)", YLabel: "validation accuracy (%)", XScale: plot.Log}
		for i, sg := range sigmas {
			s := plot.Series{Name: "σ = " + sigmaLabel(sg), Color: plot.Colors[i%len(plot.Colors)], Marker: plot.AutoMarkers[i%len(plot.AutoMarkers)]}
			for _, r := range runs {
				if r.sigma == sg {
					s.X, s.Y = append(s.X, r.ratio()), append(s.Y, get(r))
				}
			}
			pn.Series = append(pn.Series, s)
		}
		for _, r := range runs {
			if r.sigma == losses.Auto {
				pn.HLines = append(pn.HLines, plot.RefLine{At: get(r), Label: fmt.Sprintf("σ = auto, w = %g", r.weight)})
			}
		}
		fig.Panels = append(fig.Panels, pn)
	}
	return fig
}

// pairdistSigma prints the (σ, w) grid and the seed comparison of the σ arms
// (docs/experiments/pairdist-sigma.sh), and returns the grid's figure (nil without runs).
func pairdistSigma(dir string) (*plot.Figure, error) {
	fmt.Printf("\n## PairDist's kernel width and weight (%s)\n\n", dir)
	if _, err := os.Stat(dir); os.IsNotExist(err) {
		fmt.Println("(no runs: docs/experiments/pairdist-sigma.sh makes them)")
		return nil, nil
	}
	runs, err := readSigmaGrid(filepath.Join(dir, "sweep"))
	if err != nil {
		return nil, err
	}
	if len(runs) > 0 {
		fmt.Printf("Validation split (last 10,000 training images), 1 epoch, seed 0, by w/σ²:\n\n| σ | w | w/σ² | linear probe | kNN |\n|---|---|---|---|---|\n")
		for _, r := range runs {
			ratio := "–"
			if !math.IsNaN(r.ratio()) {
				ratio = strconv.FormatFloat(r.ratio(), 'g', -1, 64)
			}
			fmt.Printf("| %s | %g | %s | %.2f | %.2f |\n", sigmaLabel(r.sigma), r.weight, ratio, r.linear, r.knn)
		}
		fmt.Println()
	}
	arms := []string{"vicreg-pairdist-sigma1", "vicreg-pairdist-sigma0.5", "vicreg-pairdist-sigma1-w64"}
	acc, err := accuracyTable(dir, arms)
	if err != nil {
		return nil, err
	}
	pairedRows(acc, arms)
	return sigmaFigure(runs), nil
}

// sortSweep orders sweep run folders (<loss>-w<weight>, or <loss> alone) by loss, then by weight
// as a number (0.25 before 1 before 4 before 16).
func sortSweep(dirs []string) {
	key := func(d string) (string, float64) {
		b := filepath.Base(d)
		if i := strings.LastIndex(b, "-w"); i >= 0 {
			if w, err := strconv.ParseFloat(b[i+2:], 64); err == nil {
				return b[:i], w
			}
		}
		return b, 0
	}
	sort.SliceStable(dirs, func(i, j int) bool {
		li, wi := key(dirs[i])
		lj, wj := key(dirs[j])
		if li != lj {
			return li < lj
		}
		return wi < wj
	})
}

// estimatorLosses are the arms of the estimator comparison, VICReg first (the reference of the paired
// tests); vicreg-pairdist-sigma1 is PairDist at the fixed width σ = 1.
var estimatorLosses = []string{"vicreg", "vicreg-logdet", "vicreg-pairdist", "vicreg-pairdist-sigma1"}

// accuracyFigure draws test accuracy against the share of labels the probe was trained on, a
// panel per probe, a curve per objective: the mean over seeds with its 95% t-interval as a band.
// A second row shows each objective's paired difference from the first (the reference), with its
// 95% t-interval; objectives more than offScale points from the reference at every budget are
// left out of that row (the panel's title names them) so that they do not flatten the others.
// It is nil when no objective has a finished run.
func accuracyFigure(title string, all map[string]accuracies, objectives []string) *plot.Figure {
	probes := []struct {
		name string
		get  func(accuracies) map[string]map[int]float64
	}{
		{"linear probe", func(a accuracies) map[string]map[int]float64 { return a.linear }},
		{"kNN (k = 20)", func(a accuracies) map[string]map[int]float64 { return a.knn }},
	}
	const xLabel = "labels used by the probe (% of MNIST's training set)"
	pcts := []float64{1, 10, 100}
	budget := func(pct float64) string { return strconv.FormatFloat(pct, 'g', -1, 64) + "%" }
	interval := func(v []float64, lo, hi float64) (float64, float64, float64) {
		mi := analysis.NewMeanInterval(v, lo, hi)
		if math.IsNaN(mi.Lo) { // one value: no interval
			return mi.Mean, mi.Mean, mi.Mean
		}
		return mi.Mean, mi.Lo, mi.Hi
	}
	fig := &plot.Figure{Title: title, Columns: 2}
	var diffs []plot.Panel
	for _, pr := range probes {
		pn := plot.Panel{Title: pr.name + "; band: 95% t-interval across seeds", XLabel: xLabel, YLabel: "test accuracy (%)", XScale: plot.Log}
		ref, haveRef := all[objectives[0]]
		dp := plot.Panel{XLabel: xLabel, YLabel: "difference (points)", XScale: plot.Log, HLines: []plot.RefLine{{At: 0, Label: objectives[0]}}}
		var off []string
		for i, l := range objectives {
			a, ok := all[l]
			if !ok {
				continue
			}
			color := plot.Colors[i%len(plot.Colors)]
			marker := plot.AutoMarkers[i%len(plot.AutoMarkers)]
			s := plot.Series{Name: fmt.Sprintf("%s (%d seeds)", l, a.seeds), Color: color, Marker: marker}
			d := plot.Series{Name: l, Color: color, Marker: marker}
			far := true
			for _, pct := range pcts {
				m := pr.get(a)[budget(pct)]
				if len(m) == 0 {
					continue
				}
				v := values(m)
				for j := range v {
					v[j] *= 100
				}
				mean, lo, hi := interval(v, 0, 100)
				s.X, s.Y, s.Lo, s.Hi = append(s.X, pct), append(s.Y, mean), append(s.Lo, lo), append(s.Hi, hi)
				if i == 0 || !haveRef {
					continue
				}
				dm, dlo, dhi, _, n := pairedT(m, pr.get(ref)[budget(pct)])
				if n == 0 {
					continue
				}
				if n == 1 {
					dlo, dhi = dm, dm
				}
				far = far && math.Abs(dm) > offScale
				d.X, d.Y, d.Lo, d.Hi = append(d.X, pct), append(d.Y, dm), append(d.Lo, dlo), append(d.Hi, dhi)
			}
			pn.Series = append(pn.Series, s)
			switch {
			case i == 0 || len(d.X) == 0:
			case far:
				off = append(off, l)
			default:
				dp.Series = append(dp.Series, d)
			}
		}
		if len(pn.Series) == 0 {
			return nil
		}
		fig.Panels = append(fig.Panels, pn)
		dp.Title = fmt.Sprintf("%s − %s, paired by seed (95%% band)", strings.Fields(pr.name)[0], objectives[0])
		if len(off) > 0 {
			dp.Title += fmt.Sprintf("; not shown, > %g off: %s", offScale, strings.Join(off, ", "))
		}
		if len(dp.Series) > 0 {
			diffs = append(diffs, dp)
		}
	}
	if len(diffs) == len(probes) {
		fig.Panels = append(fig.Panels, diffs...)
	}
	return fig
}

// offScale is the distance from the reference, in points, beyond which accuracyFigure leaves an
// objective out of the difference panels.
const offScale = 5.0

func readComparison(path string) (*analysis.Comparison, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var c analysis.Comparison
	if err := json.Unmarshal(data, &c); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if len(c.Runs) == 0 {
		return nil, fmt.Errorf("%s holds no runs", path)
	}
	return &c, nil
}

// sweepTables writes to w the per-objective noise sweep, with the randomly initialised encoder's
// curve as the last column when the comparison measured it (analyze -compare does unless
// -no-baseline), and the verdicts on the paper's three claims.
func sweepTables(w io.Writer, c *analysis.Comparison) {
	byObj := map[string][]analysis.RunSweep{}
	var objs []string
	for _, r := range c.Runs {
		if byObj[r.Objective] == nil {
			objs = append(objs, r.Objective)
		}
		byObj[r.Objective] = append(byObj[r.Objective], r)
	}
	levels := c.Runs[0].Sweep.Levels
	fmt.Fprintf(w, "\nNoise sweep (%s, %d anchors × %d noisy copies each): mean p-value across anchors, averaged over seeds (range over seeds):\n\n| σ |", c.Runs[0].Sweep.Test, c.Runs[0].Sweep.Anchors, c.Runs[0].Sweep.Copies)
	for _, o := range objs {
		fmt.Fprintf(w, " %s |", o)
	}
	cols := len(objs)
	if c.Baseline != nil {
		fmt.Fprintf(w, " %s |", c.Baseline.Label)
		cols++
	}
	fmt.Fprintf(w, "\n|---|%s\n", strings.Repeat("---|", cols))
	curve := func(r analysis.RunSweep) []float64 {
		out := make([]float64, len(r.Sweep.Levels))
		for i, l := range r.Sweep.Levels {
			out[i] = l.P.Mean
		}
		return out
	}
	for i, l := range levels {
		fmt.Fprintf(w, "| %g |", l.Sigma)
		for _, o := range objs {
			var v []float64
			for _, r := range byObj[o] {
				v = append(v, curve(r)[i])
			}
			lo, hi := v[0], v[0]
			for _, x := range v {
				lo, hi = min(lo, x), max(hi, x)
			}
			fmt.Fprintf(w, " %.3f (%.3f–%.3f) |", stat.Mean(v, nil), lo, hi)
		}
		if c.Baseline != nil {
			if i < len(c.Baseline.Sweep.Levels) {
				fmt.Fprintf(w, " %.3f |", c.Baseline.Sweep.Levels[i].P.Mean)
			} else {
				fmt.Fprint(w, " – |")
			}
		}
		fmt.Fprintln(w)
	}
	fmt.Fprintf(w, "\nVerdicts on the paper's claims, per run:\n\n| run | claim | verdict | evidence |\n|---|---|---|---|\n")
	for _, r := range c.Runs {
		for _, v := range r.Claims {
			fmt.Fprintf(w, "| %s | %s | %s | %s |\n", r.Label, v.Claim, v.Outcome, v.Detail)
		}
	}
	// VICReg above SimCLR: paired by seed, the mean over σ of the difference of mean p-values.
	if len(byObj["vicreg"]) > 0 && len(byObj["simclr"]) > 0 {
		a, b := map[int]float64{}, map[int]float64{}
		for _, r := range byObj["vicreg"] {
			a[int(r.Seed)] = stat.Mean(curve(r), nil)
		}
		for _, r := range byObj["simclr"] {
			b[int(r.Seed)] = stat.Mean(curve(r), nil)
		}
		m, lo, hi, p, _ := pairedT(a, b)
		verdict := "inconclusive"
		if lo > 0 {
			verdict = "holds"
		} else if hi < 0 {
			verdict = "fails (SimCLR above VICReg)"
		}
		fmt.Fprintf(w, "\nVICReg above SimCLR (mean p over σ, VICReg − SimCLR, paired by seed, ×100): %+.2f, 95%% CI [%+.2f, %+.2f], p = %.3f: %s.\n", m, lo, hi, p, verdict)
	}
}
