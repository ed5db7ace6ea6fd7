// Command summarize prints the Markdown tables of docs/analysis.md from the runs written by
// docs/experiments/mnist-objectives.sh and the reports of docs/experiments/analyze-objectives.sh:
//
//	go run ./docs/experiments/summarize [RUNS_DIR]     (default runs/mnist-objectives)
//
// Accuracies come from each run's result.txt (the train command's final report), the analysis
// quantities from RUNS_DIR/analysis/<run>/report.json. A RUNS_DIR that does not exist, or holds
// neither, is an error (exit status 2), not tables of dashes.
package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
)

var objectives = []string{"vicreg", "vicreg-logdet", "vicreg-pairdist"}

// accuracies reads the test accuracies (in %) of a train command's final report.
func accuracies(path string) (map[string]float64, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	re := regexp.MustCompile(`^\s+(.+?)\s+([0-9.]+)%$`)
	acc := map[string]float64{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if m := re.FindStringSubmatch(sc.Text()); m != nil {
			v, _ := strconv.ParseFloat(m[2], 64)
			key := strings.Fields(m[1])[0] // "linear", "kNN", "online"
			if strings.Contains(m[1], "raw pixels") {
				key = "pixels"
			} else if strings.Contains(m[1], "random encoder") {
				key = "random"
			}
			acc[key] = v
		}
	}
	return acc, sc.Err()
}

// report is the part of analyze's report.json used here.
type report struct {
	Models []struct {
		Label       string `json:"label"`
		Step        int    `json:"step"`
		Gaussianity struct {
			PassAll struct {
				Fraction float64 `json:"fraction"`
				Lo       float64 `json:"ci_lo"`
				Hi       float64 `json:"ci_hi"`
				K        int     `json:"k"`
				N        int     `json:"n"`
			} `json:"pass_all"`
		} `json:"gaussianity"`
		Affinity []struct {
			Scale   float64 `json:"scale"`
			Summary struct {
				Median float64 `json:"median"`
				Q1     float64 `json:"q1"`
				Q3     float64 `json:"q3"`
			} `json:"summary"`
		} `json:"affinity"`
		Entropy map[string]float64 `json:"entropy"`
	} `json:"models"`
}

func readReport(path string) (*report, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var r report
	if err := json.Unmarshal(data, &r); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &r, nil
}

func meanSD(xs []float64) string {
	if len(xs) == 0 {
		return "–"
	}
	m := 0.0
	for _, x := range xs {
		m += x
	}
	m /= float64(len(xs))
	if len(xs) == 1 {
		return fmt.Sprintf("%.2f", m)
	}
	v := 0.0
	for _, x := range xs {
		v += (x - m) * (x - m)
	}
	return fmt.Sprintf("%.2f ± %.2f", m, math.Sqrt(v/float64(len(xs)-1)))
}

// usageLine is the command line the command accepts.
const usageLine = "Usage: go run ./docs/experiments/summarize [RUNS_DIR]   (default runs/mnist-objectives)"

func main() {
	runs := "runs/mnist-objectives"
	switch args := os.Args[1:]; {
	case len(args) == 1 && slices.Contains([]string{"-h", "-help", "--help"}, args[0]):
		fmt.Println(usageLine)
		return
	case len(args) > 1 || len(args) == 1 && strings.HasPrefix(args[0], "-"):
		fmt.Fprintf(os.Stderr, "summarize: unexpected arguments %q: give one folder\n%s\n", args, usageLine)
		os.Exit(2)
	case len(args) == 1:
		runs = args[0]
	}
	if err := run(runs); err != nil {
		fmt.Fprintln(os.Stderr, "summarize:", err)
		os.Exit(2)
	}
}

// run prints the tables of the runs in the folder runs. A folder that does not exist, or holds
// neither a finished run nor an analysis, is an error (not tables of dashes).
func run(runs string) error {
	const layout = "give the folder docs/experiments/mnist-objectives.sh wrote (<objective>-seed<N>/result.txt, analysis/<run>/report.json)"
	if info, err := os.Stat(runs); err != nil {
		return fmt.Errorf("%w: %s", err, layout)
	} else if !info.IsDir() {
		return fmt.Errorf("%s is not a folder: %s", runs, layout)
	}
	finished, _ := filepath.Glob(filepath.Join(runs, "*-seed*", "result.txt"))
	reports, _ := filepath.Glob(filepath.Join(runs, "analysis", "*", "report.json"))
	if len(finished)+len(reports) == 0 {
		return fmt.Errorf("%s holds no finished run and no analysis: %s", runs, layout)
	}
	fmt.Printf("## Test accuracy (%%, mean ± sample standard deviation over seeds)\n\n")
	fmt.Println("| objective | seeds | linear probe | kNN (k = 20) | online probe |")
	fmt.Println("|---|---|---|---|---|")
	for _, obj := range objectives {
		dirs, _ := filepath.Glob(filepath.Join(runs, obj+"-seed*"))
		sort.Strings(dirs)
		var lin, knn, onl []float64
		var seeds []string
		for _, d := range dirs {
			acc, err := accuracies(filepath.Join(d, "result.txt"))
			if _, measured := acc["linear"]; err != nil || !measured {
				continue // not finished (a run stopped by a signal prints no accuracies)
			}
			seeds = append(seeds, strings.TrimPrefix(filepath.Base(d), obj+"-seed"))
			lin, knn, onl = append(lin, acc["linear"]), append(knn, acc["kNN"]), append(onl, acc["online"])
		}
		fmt.Printf("| %s | %s | %s | %s | %s |\n", obj, strings.Join(seeds, ", "), meanSD(lin), meanSD(knn), meanSD(onl))
	}

	fmt.Printf("\n## Analysis at the last checkpoint (mean ± sd over seeds; seed 0's random-init baseline in the first row)\n\n")
	fmt.Println("| objective | seeds | A1 pass (augmentation) | A2 median s=0.01 | A2 median s=0.25 | H Gaussian | H LogDet | H kNN | I(Z;Z') Gaussian | Hadamard gap |")
	fmt.Println("|---|---|---|---|---|---|---|---|---|---|")
	printed := false
	for _, obj := range objectives {
		dirs, _ := filepath.Glob(filepath.Join(runs, "analysis", obj+"-seed*"))
		sort.Strings(dirs)
		cols := make([][]float64, 8)
		var seeds []string
		for _, d := range dirs {
			if strings.HasSuffix(d, "-noise") {
				continue
			}
			r, err := readReport(filepath.Join(d, "report.json"))
			if err != nil || len(r.Models) == 0 {
				continue
			}
			if !printed && r.Models[0].Step == 0 && r.Models[0].Label == "random init" {
				m := r.Models[0]
				fmt.Printf("| random init | 0 | %.2f | %.2f | %.2f | %.1f | %.1f | %.1f | %.1f | %.1f |\n", m.Gaussianity.PassAll.Fraction,
					m.Affinity[0].Summary.Median, m.Affinity[len(m.Affinity)-1].Summary.Median, m.Entropy["gaussian"], m.Entropy["logdet"],
					m.Entropy["knn"], mutualInfo(m.Entropy), m.Entropy["sum_log_variance"]-m.Entropy["logdet_covariance"])
				printed = true
			}
			m := r.Models[len(r.Models)-1]
			seeds = append(seeds, strings.TrimPrefix(filepath.Base(d), obj+"-seed"))
			vals := []float64{m.Gaussianity.PassAll.Fraction, m.Affinity[0].Summary.Median, m.Affinity[len(m.Affinity)-1].Summary.Median,
				m.Entropy["gaussian"], m.Entropy["logdet"], m.Entropy["knn"], mutualInfo(m.Entropy),
				m.Entropy["sum_log_variance"] - m.Entropy["logdet_covariance"]}
			for i, v := range vals {
				cols[i] = append(cols[i], v)
			}
		}
		fmt.Printf("| %s | %s |", obj, strings.Join(seeds, ", "))
		for _, c := range cols {
			fmt.Printf(" %s |", meanSD(c))
		}
		fmt.Println()
	}

	fmt.Printf("\n## Seed 0 over training (A1 pass fraction with its 95%% Wilson interval; A2 median at the smallest scale; I(Z;Z'), both entropies Gaussian)\n\n")
	fmt.Println("| objective | step | A1 pass [95% CI] | A2 median | I(Z;Z') Gaussian | H Gaussian |")
	fmt.Println("|---|---|---|---|---|---|")
	for _, obj := range objectives {
		r, err := readReport(filepath.Join(runs, "analysis", obj+"-seed0", "report.json"))
		if err != nil {
			continue
		}
		for _, m := range r.Models {
			g := m.Gaussianity.PassAll
			fmt.Printf("| %s | %d | %.2f [%.2f, %.2f] | %.2f | %.1f | %.1f |\n", obj, m.Step, g.Fraction, g.Lo, g.Hi,
				m.Affinity[0].Summary.Median, mutualInfo(m.Entropy), m.Entropy["gaussian"])
		}
	}

	fmt.Printf("\n## Seed 0, last checkpoint, views = image + N(0, 0.1²I), anchors jittered by N(0, 0.05²I)\n\n")
	fmt.Println("| objective | model | A1 pass [95% CI] | A2 median [Q1, Q3] per scale |")
	fmt.Println("|---|---|---|---|")
	for _, obj := range objectives {
		r, err := readReport(filepath.Join(runs, "analysis", obj+"-seed0-noise", "report.json"))
		if err != nil {
			continue
		}
		for _, m := range r.Models {
			g := m.Gaussianity.PassAll
			var a []string
			for _, x := range m.Affinity {
				a = append(a, fmt.Sprintf("s=%g: %.3f [%.3f, %.3f]", x.Scale, x.Summary.Median, x.Summary.Q1, x.Summary.Q3))
			}
			fmt.Printf("| %s | %s | %.2f [%.2f, %.2f] | %s |\n", obj, m.Label, g.Fraction, g.Lo, g.Hi, strings.Join(a, "; "))
		}
	}
	return nil
}

// mutualInfo is the Gaussian I(Z;Z') of a report's entropy section, under its key before and since
// it was renamed (it was called a lower bound, which it is only for Gaussian Z).
func mutualInfo(e map[string]float64) float64 {
	if v, ok := e["mutual_info_gaussian"]; ok {
		return v
	}
	return e["mutual_info_lower_bound"]
}
