package analysis

import (
	"fmt"
	"github.com/gomlx-ssl/vicreg/datasets"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// KSUniform is the one-sample Kolmogorov–Smirnov test of the values u against the uniform
// distribution on [0, 1]: the statistic D = sup |F_n(x) - x| and its p-value from Kolmogorov's
// limiting distribution with Stephens' (1970) small-sample correction
// λ = (√n + 0.12 + 0.11/√n)·D, accurate to about 0.01 for n >= 20 and better for large n.
// A p-value test is calibrated when its p-values under the null pass this test.
func KSUniform(u []float64) (d, p float64, err error) {
	n := len(u)
	if n == 0 {
		return 0, 0, fmt.Errorf("Kolmogorov-Smirnov test: no values")
	}
	s := append([]float64(nil), u...)
	sort.Float64s(s)
	for i, v := range s {
		if math.IsNaN(v) || v < 0 || v > 1 {
			return 0, 0, fmt.Errorf("Kolmogorov-Smirnov test: value %g is not in [0, 1]", v)
		}
		fn := float64(n)
		d = math.Max(d, math.Max(float64(i+1)/fn-v, v-float64(i)/fn))
	}
	return d, ksPValue(n, d), nil
}

// ksPValue is the p-value of the Kolmogorov–Smirnov statistic d of n values (Stephens' form).
func ksPValue(n int, d float64) float64 {
	sq := math.Sqrt(float64(n))
	return kolmogorovQ((sq + 0.12 + 0.11/sq) * d)
}

// kolmogorovQ is P(K > λ) for Kolmogorov's distribution K = sup |Brownian bridge|.
func kolmogorovQ(l float64) float64 {
	if l <= 0 {
		return 1
	}
	if l < 1.18 {
		// Q = 1 - (√(2π)/λ) Σ_{j>=1} exp(-(2j-1)²π²/(8λ²)), fast for small λ.
		s := 0.0
		for j := 1; j <= 8; j++ {
			k := float64(2*j - 1)
			s += math.Exp(-k * k * math.Pi * math.Pi / (8 * l * l))
		}
		return math.Min(1, math.Max(0, 1-math.Sqrt(2*math.Pi)/l*s))
	}
	// Q = 2 Σ_{j>=1} (-1)^(j-1) exp(-2j²λ²).
	s := 0.0
	for j := 1; j <= 100; j++ {
		term := math.Exp(-2 * float64(j*j) * l * l)
		if j%2 == 0 {
			s -= term
		} else {
			s += term
		}
		if term < 1e-16 {
			break
		}
	}
	return math.Min(1, math.Max(0, 2*s))
}

// CalibrationConfig configures Calibrate: samples of Views points (the sweep's M) tested on
// Components principal components (k), in a representation of Dim dimensions, Reps
// replications per condition.
type CalibrationConfig struct {
	Views, Components, Dim, Reps, NullDraws int
	// Level is the level of the Kolmogorov–Smirnov test that decides whether a condition's
	// p-values are uniform.
	Level float64
	Seed  uint64
}

// DefaultCalibrationConfig matches the sweep's defaults (DefaultOptions) in a 64-dimensional
// representation.
func DefaultCalibrationConfig() CalibrationConfig {
	o := DefaultOptions()
	return CalibrationConfig{Views: o.Views, Components: o.Components, Dim: 64, Reps: 2000, NullDraws: o.NullDraws, Level: 0.01, Seed: 1}
}

// CalibrationRow is one condition of Calibrate: the p-values of Reps samples, their
// Kolmogorov–Smirnov test against uniformity and their rejection rates.
type CalibrationRow struct {
	Name string `json:"name"`
	// Null says whether the samples are Gaussian, so that a calibrated test gives uniform
	// p-values; Calibrated whether the KS test at Level accepts uniformity.
	Null       bool    `json:"null"`
	Reps       int     `json:"reps"`
	KSD        float64 `json:"ks_d"`
	KSP        float64 `json:"ks_p"`
	Calibrated bool    `json:"uniform_at_level"`
	MeanP      float64 `json:"mean_p"`
	// Reject01 and Reject05 are the fractions of p-values below 0.01 and 0.05.
	Reject01 float64 `json:"reject_0_01"`
	Reject05 float64 `json:"reject_0_05"`
}

// Calibrate checks that NormalityTest's p-values are uniform under the null, for the ways the
// components can be chosen, and shows the Kolmogorov–Smirnov test's power on miscalibrated or
// non-Gaussian cases:
//
//   - null: N(0, I_k) samples tested directly; Gaussian samples in Dim dimensions with an
//     anisotropic covariance on their first k principal components (the sweep's test); the same
//     through a random linear map with float32 outputs; random k-dimensional projections; the full
//     space of a small dimension;
//   - miscalibrated: the lognormal approximation's p-value of the same statistic; the Bonferroni
//     minimum of Mardia's skewness and kurtosis p-values, min(1, 2·min(p₁, p₂)), which is
//     conservative;
//   - not Gaussian: |x| of a Gaussian centred on the kink, and an exponential sample (p-values
//     should be small).
func Calibrate(cfg CalibrationConfig) ([]CalibrationRow, error) {
	m, k, d := cfg.Views, cfg.Components, cfg.Dim
	if k < 1 || d < k || m <= k+3 || cfg.Reps < 10 || cfg.NullDraws < 1 || !(cfg.Level > 0 && cfg.Level < 1) {
		return nil, fmt.Errorf("calibration: need 1 <= components <= dim, views > components + 3, reps >= 10, null draws >= 1 and 0 < level < 1 (got %+v)", cfg)
	}
	test := NormalityTest{Components: k, NullDraws: cfg.NullDraws, Seed: cfg.Seed}
	full := min(d, max(1, (m-2)/4)) // a full space small enough for m points
	rng := rand.New(rand.NewPCG(cfg.Seed, 0xca11b))
	scales := make([]float64, d) // anisotropic: standard deviations spanning two decades
	for j := range scales {
		scales[j] = math.Pow(100, -float64(j)/float64(max(1, d-1)))
	}
	mix := make([][]float64, d) // anisotropic and correlated: mix·diag(scales)
	for i := range mix {
		mix[i] = make([]float64, d)
		for j := range mix[i] {
			mix[i][j] = rng.NormFloat64() * scales[j]
		}
	}
	lin := make([][]float64, d) // a random linear map from 2d inputs to d outputs
	for i := range lin {
		lin[i] = make([]float64, 2*d)
		for j := range lin[i] {
			lin[i][j] = rng.NormFloat64()
		}
	}
	gauss := func(r *rand.Rand, n, p int) [][]float64 {
		x := make([][]float64, n)
		for i := range x {
			x[i] = make([]float64, p)
			for j := range x[i] {
				x[i][j] = r.NormFloat64()
			}
		}
		return x
	}
	aniso := func(r *rand.Rand) [][]float64 {
		z := gauss(r, m, d)
		out := make([][]float64, m)
		for i, row := range z {
			out[i] = make([]float64, d)
			for a, w := range mix {
				out[i][a] = 3 // a mean far from zero
				for b, v := range row {
					out[i][a] += w[b] * v
				}
			}
		}
		return out
	}
	pcaP := func(x [][]float64) (float64, error) {
		r, err := test.Test(x)
		return r.P, err
	}
	type condition struct {
		name   string
		null   bool
		sample func(r *rand.Rand) [][]float64
		p      func(x [][]float64) (float64, error)
	}
	conds := []condition{
		{fmt.Sprintf("N(0, I_%d), tested directly", k), true, func(r *rand.Rand) [][]float64 { return gauss(r, m, k) }, pcaP},
		{fmt.Sprintf("anisotropic Gaussian in %d dimensions, first %d principal components (the sweep's test)", d, k), true, aniso, pcaP},
		{fmt.Sprintf("linear map of Gaussian inputs (%d to %d, float32 outputs), first %d principal components", 2*d, d, k), true, func(r *rand.Rand) [][]float64 {
			x := gauss(r, m, 2*d)
			out := make([][]float64, m)
			for i, row := range x {
				out[i] = make([]float64, d)
				for a, w := range lin {
					s := 0.0
					for b, v := range row {
						s += w[b] * (1 + 0.01*v) // inputs 1 + 0.01·ε: small noise around an anchor
					}
					out[i][a] = float64(float32(s))
				}
			}
			return out
		}, pcaP},
		{fmt.Sprintf("anisotropic Gaussian in %d dimensions, %d random projections", d, k), true, aniso, func(x [][]float64) (float64, error) {
			proj := projectRandom(x, k, rand.New(rand.NewPCG(uint64(len(x)), 0x9)))
			return hzMC(proj, cfg.NullDraws, cfg.Seed)
		}},
		{fmt.Sprintf("anisotropic Gaussian in %d dimensions, full space", full), true, func(r *rand.Rand) [][]float64 {
			x := aniso(r)
			for i := range x {
				x[i] = x[i][:full]
			}
			return x
		}, func(x [][]float64) (float64, error) { return hzMC(x, cfg.NullDraws, cfg.Seed) }},
		{"the same statistic with the lognormal approximation's p-value", true, aniso, func(x [][]float64) (float64, error) {
			r, err := test.Test(x)
			return r.PLognormal, err
		}},
		{fmt.Sprintf("Bonferroni minimum of Mardia's skewness and kurtosis on %d principal components", k), true, aniso, func(x [][]float64) (float64, error) {
			proj, _, err := PCA(x, k)
			if err != nil {
				return 0, err
			}
			r, err := Mardia(proj)
			return math.Min(1, 2*math.Min(r.SkewP, r.KurtP)), err
		}},
		{"not Gaussian: |x| of a Gaussian centred on the kink", false, func(r *rand.Rand) [][]float64 {
			x := gauss(r, m, d)
			for _, row := range x {
				for j, v := range row {
					row[j] = math.Abs(v)
				}
			}
			return x
		}, pcaP},
		{"not Gaussian: exponential coordinates", false, func(r *rand.Rand) [][]float64 {
			x := gauss(r, m, d)
			for _, row := range x {
				for j := range row {
					row[j] = r.ExpFloat64()
				}
			}
			return x
		}, pcaP},
	}
	var rows []CalibrationRow
	for ci, c := range conds {
		ps := make([]float64, cfg.Reps)
		for i := range ps {
			r := rand.New(rand.NewPCG(datasets.SplitMix64(cfg.Seed^uint64(ci)<<40), datasets.SplitMix64(uint64(i)+0x9e37)))
			p, err := c.p(c.sample(r))
			if err != nil {
				return nil, fmt.Errorf("calibration %q: %w", c.name, err)
			}
			ps[i] = p
		}
		row := CalibrationRow{Name: c.name, Null: c.null, Reps: cfg.Reps}
		var err error
		if row.KSD, row.KSP, err = KSUniform(ps); err != nil {
			return nil, fmt.Errorf("calibration %q: %w", c.name, err)
		}
		row.Calibrated = row.KSP >= cfg.Level
		for _, p := range ps {
			row.MeanP += p / float64(len(ps))
			if p < 0.01 {
				row.Reject01 += 1 / float64(len(ps))
			}
			if p < 0.05 {
				row.Reject05 += 1 / float64(len(ps))
			}
		}
		rows = append(rows, row)
	}
	return rows, nil
}

// hzMC is the Henze–Zirkler p-value of x in its own dimensions, from the Monte Carlo null.
func hzMC(x [][]float64, draws int, seed uint64) (float64, error) {
	r, err := HenzeZirkler(x)
	if err != nil {
		return 0, err
	}
	return hzNull(r.N, r.P, draws, seed).pValue(r.Stat), nil
}

// projectRandom projects the rows of x on k random Gaussian directions.
func projectRandom(x [][]float64, k int, rng *rand.Rand) [][]float64 {
	d := len(x[0])
	dirs := make([][]float64, k)
	for a := range dirs {
		dirs[a] = make([]float64, d)
		for j := range dirs[a] {
			dirs[a][j] = rng.NormFloat64()
		}
	}
	out := make([][]float64, len(x))
	for i, row := range x {
		out[i] = make([]float64, k)
		for a, u := range dirs {
			for j, v := range row {
				out[i][a] += u[j] * v
			}
		}
	}
	return out
}

// Files written by WriteCalibration.
const (
	CalibrationJSON  = "calibration.json"
	CalibrationTable = "calibration.md"
)

// WriteCalibration writes Calibrate's rows into dir as JSON and as a Markdown table.
func WriteCalibration(dir string, cfg CalibrationConfig, rows []CalibrationRow) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("calibration folder: %w", err)
	}
	if err := writeJSON(filepath.Join(dir, CalibrationJSON), map[string]any{"config": cfg, "test": TestName(cfg.Components, cfg.NullDraws), "rows": rows}); err != nil {
		return err
	}
	var sb strings.Builder
	fmt.Fprintf(&sb, "# Calibration of the noise sweep's normality test\n\nTest: %s. Samples of %d points; %d replications per condition; "+
		"representation of %d dimensions. A condition's p-values are uniform when the Kolmogorov–Smirnov test against U(0, 1) does not reject at level %g.\n\n",
		TestName(cfg.Components, cfg.NullDraws), cfg.Views, cfg.Reps, cfg.Dim, cfg.Level)
	sb.WriteString("| condition | null | KS D | KS p | uniform | mean p | p < 0.01 | p < 0.05 |\n|---|---|---|---|---|---|---|---|\n")
	for _, r := range rows {
		fmt.Fprintf(&sb, "| %s | %v | %.4f | %.4f | %v | %.3f | %.3f | %.3f |\n", r.Name, r.Null, r.KSD, r.KSP, r.Calibrated, r.MeanP, r.Reject01, r.Reject05)
	}
	return writeFile(filepath.Join(dir, CalibrationTable), []byte(sb.String()))
}
