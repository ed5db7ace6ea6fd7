package optim

import (
	"encoding/json"
	"errors"
	"math"
	"os"
	"slices"
	"testing"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	. "github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/ml/context"
	"gonum.org/v1/gonum/floats"

	"github.com/gomlx-ssl/vicreg/backend/backendtest"
)

func TestScheduleValues(t *testing.T) {
	s := Schedule{Base: 0.4, WarmupSteps: 10, TotalSteps: 110, FinalFraction: 0.001}
	for _, tc := range []struct {
		step int64
		want float64
	}{
		{0, 0},
		{5, 0.2},            // half-way through warm-up
		{10, 0.4},           // end of warm-up: the peak
		{60, 0.4 * 0.5005},  // mid-decay: q = 1/2, lr = (base + base/1000)/2
		{110, 0.4 * 0.001},  // end: base * final fraction
		{1000, 0.4 * 0.001}, // past the end: stays at the end value
	} {
		if got := s.At(tc.step); math.Abs(got-tc.want) > 1e-12 {
			t.Errorf("At(%d) = %v, want %v", tc.step, got, tc.want)
		}
	}
	b := backendtest.Backend(t)
	exec := MustNewExec(b, func(step *Node) *Node { return s.Graph(step) })
	for step := int64(0); step <= 120; step += 7 {
		got := tensors.ToScalar[float32](exec.MustExec(step)[0])
		if want := s.At(step); math.Abs(float64(got)-want) > 1e-6 {
			t.Errorf("graph schedule at step %d = %v, host %v", step, got, want)
		}
	}
}

// TestSchedulePerEpoch: with Every, the rate is PyTorch's CosineAnnealingLR stepped once an epoch
// (its closed form (1 + cos(pi*e/T))/2 for epoch e of T), held through the epoch's batches.
func TestSchedulePerEpoch(t *testing.T) {
	const base, batches = 0.08, 3
	s := Schedule{Base: base, TotalSteps: 4, Every: batches}
	perEpoch := []float64{1, 0.8535533905932737, 0.5, 0.14644660940672624, 0} // T = 4; e = 4: past the end
	b := backendtest.Backend(t)
	exec := MustNewExec(b, func(step *Node) *Node { return s.Graph(step) })
	for step := int64(0); step < int64(len(perEpoch))*batches; step++ {
		want := base * perEpoch[step/batches]
		if got := s.At(step); math.Abs(got-want) > 1e-12 {
			t.Errorf("At(%d) = %v, want %v (epoch %d)", step, got, want, step/batches)
		}
		if got := tensors.ToScalar[float32](exec.MustExec(step)[0]); math.Abs(float64(got)-want) > 1e-6 {
			t.Errorf("graph schedule at step %d = %v, want %v", step, got, want)
		}
	}
	if err := (Schedule{Base: 1, TotalSteps: 1, Every: -1}).Validate(); err == nil {
		t.Error("a negative period accepted")
	}
}

func TestScheduleValidate(t *testing.T) {
	for _, s := range []Schedule{
		{Base: -1, TotalSteps: 10},
		{Base: 1, TotalSteps: 0},
		{Base: 1, TotalSteps: 10, WarmupSteps: 11},
		{Base: 1, TotalSteps: 10, FinalFraction: 2},
	} {
		if s.Validate() == nil {
			t.Errorf("%+v: no error", s)
		}
	}
}

// TestOneLARSUpdate applies two updates of the official VICReg LARS (Clip false) to a matrix W and
// a bias b whose gradients are the constants G and gb (loss = sum(W*G) + sum(b*gb)), and compares
// with its formulas computed here by hand in float64. TestLARSMatchesSoloLearn checks Clip.
func TestOneLARSUpdate(t *testing.T) {
	W0 := []float64{1, -2, 0.5, 3}
	G := []float64{0.3, 0.1, -0.2, 0.4}
	b0 := []float64{0.2, -0.1}
	gb := []float64{1, -2}
	const lr, wd, eta, mom = 0.5, 0.01, 0.02, 0.9

	norm := func(x []float64) float64 {
		var s float64
		for _, v := range x {
			s += v * v
		}
		return math.Sqrt(s)
	}
	// reference runs `steps` updates by hand.
	reference := func(steps int) (W, b []float64) {
		W = append([]float64(nil), W0...)
		b = append([]float64(nil), b0...)
		muW := make([]float64, 4)
		mub := make([]float64, 2)
		for range steps {
			dp := make([]float64, 4)
			for i := range dp {
				dp[i] = G[i] + wd*W[i]
			}
			q := eta * norm(W) / norm(dp)
			for i := range W {
				muW[i] = mom*muW[i] + q*dp[i]
				W[i] -= lr * muW[i]
			}
			for i := range b { // excluded: no weight decay, no adaptation
				mub[i] = mom*mub[i] + gb[i]
				b[i] -= lr * mub[i]
			}
		}
		return W, b
	}

	b := backendtest.Backend(t)
	{
		ctx := context.New()
		wVar := ctx.In("layer").VariableWithValue("weights", tensors.FromFlatDataAndDimensions(f32(W0), 2, 2))
		bVar := ctx.In("layer").VariableWithValue("biases", f32(b0))
		opt, err := New(Config{Kind: "lars", WeightDecay: wd, Momentum: mom, Eta: eta,
			Schedule: Schedule{Base: lr, TotalSteps: 1 << 40}})
		if err != nil {
			t.Fatal(err)
		}
		exec := context.MustNewExec(b, ctx, func(ctx *context.Context, g *Graph) *Node {
			wv := wVar.ValueGraph(g)
			bv := bVar.ValueGraph(g)
			loss := Add(ReduceAllSum(Mul(wv, Const(g, tensors.FromFlatDataAndDimensions(f32(G), 2, 2)))),
				ReduceAllSum(Mul(bv, Const(g, f32(gb)))))
			opt.UpdateGraph(ctx, g, loss)
			return loss
		})
		for step := 1; step <= 2; step++ {
			exec.MustExec()
			wantW, wantB := reference(step)
			gotW := tensors.MustCopyFlatData[float32](wVar.MustValue())
			gotB := tensors.MustCopyFlatData[float32](bVar.MustValue())
			for i := range wantW {
				if math.Abs(float64(gotW[i])-wantW[i]) > 1e-6 {
					t.Errorf("step %d: W[%d] = %v, want %v", step, i, gotW[i], wantW[i])
				}
			}
			for i := range wantB {
				if math.Abs(float64(gotB[i])-wantB[i]) > 1e-6 {
					t.Errorf("step %d: b[%d] = %v, want %v", step, i, gotB[i], wantB[i])
				}
			}
		}
		if got := tensors.ToScalar[int64](StepVar(ctx).MustValue()); got != 2 {
			t.Errorf("step counter = %d after two updates, want 2", got)
		}
	}
}

// TestSGDWeightDecay: two steps of SGD with momentum and weight decay on a matrix and a bias,
// against torch.optim.SGD's update (d = g + wd·p; buf = m·buf + d; p -= lr·buf): the bias, being
// Excluded, is not decayed by default, and is with DecayAll (evaluate.py's SGD over all the
// backbone's parameters).
func TestSGDWeightDecay(t *testing.T) {
	W0 := []float64{1, -2, 0.5, 3}
	G := []float64{0.3, 0.1, -0.2, 0.4}
	b0 := []float64{0.2, -0.1}
	gb := []float64{1, -2}
	const lr, wd, mom = 0.5, 0.1, 0.9
	torchSGD := func(p0, g []float64, wd float64, steps int) []float64 {
		p := slices.Clone(p0)
		buf := make([]float64, len(p))
		for range steps {
			for i := range p {
				buf[i] = mom*buf[i] + g[i] + wd*p[i]
				p[i] -= lr * buf[i]
			}
		}
		return p
	}
	b := backendtest.Backend(t)
	for _, decayAll := range []bool{false, true} {
		ctx := context.New()
		wVar := ctx.In("layer").VariableWithValue("weights", tensors.FromFlatDataAndDimensions(f32(W0), 2, 2))
		bVar := ctx.In("layer").VariableWithValue("biases", f32(b0))
		opt, err := New(Config{Kind: "sgd", WeightDecay: wd, Momentum: mom, DecayAll: decayAll, Schedule: Constant(lr)})
		if err != nil {
			t.Fatal(err)
		}
		exec := context.MustNewExec(b, ctx, func(ctx *context.Context, g *Graph) *Node {
			loss := Add(ReduceAllSum(Mul(wVar.ValueGraph(g), Const(g, tensors.FromFlatDataAndDimensions(f32(G), 2, 2)))),
				ReduceAllSum(Mul(bVar.ValueGraph(g), Const(g, f32(gb)))))
			opt.UpdateGraph(ctx, g, loss)
			return loss
		})
		biasWD := 0.0
		if decayAll {
			biasWD = wd
		}
		for step := 1; step <= 2; step++ {
			exec.MustExec()
			for _, v := range []struct {
				name      string
				got, want []float64
			}{
				{"W", f64(tensors.MustCopyFlatData[float32](wVar.MustValue())), torchSGD(W0, G, wd, step)},
				{"b", f64(tensors.MustCopyFlatData[float32](bVar.MustValue())), torchSGD(b0, gb, biasWD, step)},
			} {
				for i := range v.want {
					if math.Abs(v.got[i]-v.want[i]) > 1e-6 {
						t.Errorf("DecayAll %v, step %d: %s[%d] = %v, want %v", decayAll, step, v.name, i, v.got[i], v.want[i])
					}
				}
			}
		}
	}
}

func f64(x []float32) []float64 {
	out := make([]float64, len(x))
	for i, v := range x {
		out[i] = float64(v)
	}
	return out
}

// TestConfigErrorsNameTheSetting checks that every invalid setting gives a *FieldError whose Field
// names it, with a message that says what is valid, and that valid settings (zero AdamW settings
// included: they mean the defaults) pass.
func TestConfigErrorsNameTheSetting(t *testing.T) {
	ok := Config{Kind: "lars", Eta: 0.02, Momentum: 0.9, Schedule: Schedule{Base: 1, TotalSteps: 10}}
	for _, tc := range []struct {
		mutate func(*Config)
		field  string
		want   string
	}{
		{func(c *Config) { c.Kind = "adam" }, FieldKind, `optimizer "adam" unknown: use one of lars, sgd, adamw`},
		{func(c *Config) { c.Eta = 0 }, FieldEta, "LARS trust coefficient eta 0 must be a finite number > 0"},
		{func(c *Config) { c.Momentum = 1 }, FieldMomentum, "momentum 1 must be in [0, 1)"},
		{func(c *Config) { c.Momentum = math.NaN() }, FieldMomentum, "momentum NaN must be in [0, 1)"},
		{func(c *Config) { c.WeightDecay = -1 }, FieldWeightDecay, "weight decay -1 must be a finite number >= 0"},
		{func(c *Config) { c.Schedule.Base = math.Inf(1) }, FieldLR, "learning rate +Inf must be a finite number >= 0"},
		{func(c *Config) { c.Schedule.TotalSteps = 0 }, FieldTotalSteps, "total steps 0 must be > 0"},
		{func(c *Config) { c.Schedule.WarmupSteps = 11 }, FieldWarmupSteps, "warm-up steps 11 must be between 0 and the total steps 10"},
		{func(c *Config) { c.Schedule.FinalFraction = 2 }, FieldFinalFraction, "final learning-rate fraction 2 must be in [0, 1]"},
		{func(c *Config) { c.Kind, c.Beta1 = "adamw", 1 }, FieldBeta1, "AdamW beta1 1 must be in (0, 1) (0 means 0.9)"},
		{func(c *Config) { c.Kind, c.Beta2 = "adamw", -0.5 }, FieldBeta2, "AdamW beta2 -0.5 must be in (0, 1) (0 means 0.999)"},
		{func(c *Config) { c.Kind, c.Epsilon = "adamw", -1 }, FieldEpsilon, "AdamW epsilon -1 must be a finite number > 0 (0 means 1e-08)"},
		{func(c *Config) { c.HeadScope, c.HeadLR = "/probe", -0.1 }, FieldHeadLR, "head learning rate -0.1 must be a finite number >= 0"},
	} {
		c := ok
		tc.mutate(&c)
		_, err := New(c)
		var fe *FieldError
		if !errors.As(err, &fe) || fe.Field != tc.field || err.Error() != tc.want {
			t.Errorf("want a *FieldError for %q saying %q, got %#v", tc.field, tc.want, err)
		}
	}
	for _, c := range []Config{ok, {Kind: "adamw", Schedule: Constant(1e-3)}, {Kind: "sgd", Schedule: Constant(0)}} {
		if _, err := New(c); err != nil {
			t.Errorf("valid config %+v rejected: %v", c, err)
		}
	}
}

// larsFixture is testdata/lars_reference.json (written by testdata/lars_reference.py with numpy).
type larsFixture struct {
	Config struct {
		WeightDecay   float64 `json:"weight_decay"`
		Eta, Momentum float64
		A             float64 `json:"a"`
		Base          float64
		WarmupSteps   int64   `json:"warmup_steps"`
		TotalSteps    int64   `json:"total_steps"`
		FinalFraction float64 `json:"final_fraction"`
	}
	Shapes           map[string][]int
	Initial          map[string][]float64
	GradientConstant map[string][]float64   `json:"gradient_constant"`
	AfterStep        []map[string][]float64 `json:"after_step"`
	WeightsRatio     []*float64             `json:"weights_ratio"`
}

// TestLARSMatchesSoloLearn runs solo-learn's LARS (Clip: its trust ratio η‖w‖/(‖g‖ + λ‖w‖ + ε),
// weight decay only when both norms are positive, min(ratio/lr, 1), biases excluded) for 7 steps
// of a warm-up-then-cosine schedule on a matrix, an all-zero matrix and a bias, with gradients
// G + a·W, against a float64 numpy reference. The steps cover lr = 0, a ratio below 1/lr and a
// ratio clipped to 1. A negative control computes the formula -lars-clip used before (the
// official ratio η‖w‖/‖g + λw‖, clipped) and checks that this test would have failed with it.
func TestLARSMatchesSoloLearn(t *testing.T) {
	raw, err := os.ReadFile("testdata/lars_reference.json")
	if err != nil {
		t.Fatal(err)
	}
	var f larsFixture
	if err := json.Unmarshal(raw, &f); err != nil {
		t.Fatal(err)
	}
	c := f.Config
	sched := Schedule{Base: c.Base, WarmupSteps: c.WarmupSteps, TotalSteps: c.TotalSteps, FinalFraction: c.FinalFraction}
	names := []string{"weights", "zero", "biases"}
	const tol = 1e-5 // float32 against float64, relative to max(1, |value|)

	b := backendtest.Backend(t)
	ctx := context.New()
	vars := map[string]*context.Variable{}
	for _, name := range names {
		vars[name] = ctx.In("layer").VariableWithValue(name, tensors.FromFlatDataAndDimensions(f32(f.Initial[name]), f.Shapes[name]...))
	}
	opt, err := New(Config{Kind: "lars", WeightDecay: c.WeightDecay, Momentum: c.Momentum, Eta: c.Eta, Clip: true, Schedule: sched})
	if err != nil {
		t.Fatal(err)
	}
	exec := context.MustNewExec(b, ctx, func(ctx *context.Context, g *Graph) *Node {
		loss := ScalarZero(g, dtypes.Float32)
		for _, name := range names {
			w := vars[name].ValueGraph(g)
			gc := Const(g, tensors.FromFlatDataAndDimensions(f32(f.GradientConstant[name]), f.Shapes[name]...))
			loss = Add(loss, Add(ReduceAllSum(Mul(w, gc)), MulScalar(ReduceAllSum(Square(w)), c.A/2)))
		}
		opt.UpdateGraph(ctx, g, loss)
		return loss
	})
	for step, want := range f.AfterStep {
		exec.MustExec()
		for _, name := range names {
			got := tensors.MustCopyFlatData[float32](vars[name].MustValue())
			for i, w := range want[name] {
				if math.Abs(float64(got[i])-w) > tol*max(1, math.Abs(w)) {
					t.Errorf("step %d (lr %.4g, ratio %v): %s[%d] = %.7g, solo-learn %.7g", step, sched.At(int64(step)), deref(f.WeightsRatio[step]), name, i, got[i], w)
				}
			}
		}
	}

	// Negative controls, in float64: the formula before this change (the official ratio
	// η‖w‖/‖g + λw‖, clipped with lr = 0 read as lr = 1), and its ratio alone (lr = 0 handled as
	// solo-learn does), both leave the reference by far more than the tolerance.
	for _, control := range []struct {
		name        string
		zeroLRAsOne bool
	}{{"the old -lars-clip formula", true}, {"the official trust ratio, clipped", false}} {
		old := map[string][]float64{}
		bufs := map[string][]float64{}
		for _, name := range names {
			old[name] = append([]float64(nil), f.Initial[name]...)
			bufs[name] = make([]float64, len(old[name]))
		}
		worst := 0.0
		for step := range f.AfterStep {
			lr := sched.At(int64(step))
			for _, name := range names {
				w := old[name]
				g := make([]float64, len(w))
				for i := range g {
					g[i] = f.GradientConstant[name][i] + c.A*w[i]
				}
				d := g
				if len(f.Shapes[name]) > 1 {
					d = make([]float64, len(g))
					for i := range d {
						d[i] = g[i] + c.WeightDecay*w[i]
					}
					q := 1.0
					if floats.Norm(w, 2) > 0 && floats.Norm(d, 2) > 0 {
						q = c.Eta * floats.Norm(w, 2) / floats.Norm(d, 2)
					}
					switch {
					case lr > 0:
						q = math.Min(q/lr, 1)
					case control.zeroLRAsOne:
						q = math.Min(q, 1)
					default:
						q = 1
					}
					floats.Scale(q, d)
				}
				for i := range w {
					bufs[name][i] = c.Momentum*bufs[name][i] + d[i]
					w[i] -= lr * bufs[name][i]
				}
				for i, v := range f.AfterStep[step][name] {
					worst = max(worst, math.Abs(w[i]-v)/max(1, math.Abs(v)))
				}
			}
		}
		if worst < 100*tol {
			t.Errorf("%s stays within %.2g of solo-learn's: this test could not tell them apart", control.name, worst)
		}
		t.Logf("%s departs from solo-learn's by up to %.3g (tolerance %g)", control.name, worst, tol)
	}
}

func deref(p *float64) any {
	if p == nil {
		return "none"
	}
	return *p
}

// TestAdamWUpdate applies three AdamW updates with the default β₁, β₂ and ε (Config leaves them
// at 0) to a matrix and a bias (excluded from weight decay), gradients G + a·W, at a constant
// learning rate, against the formulas computed here in float64.
func TestAdamWUpdate(t *testing.T) {
	W0 := []float64{0.5, -1, 2, 0.25}
	b0 := []float64{0.1, -0.3}
	G := []float64{0.2, -0.4, 0.1, 0.3}
	gb := []float64{-1, 0.5}
	const lr, wd, a = 0.01, 0.1, 0.5
	reference := func(steps int) (W, bias []float64) {
		W, bias = append([]float64(nil), W0...), append([]float64(nil), b0...)
		m := [2][]float64{make([]float64, 4), make([]float64, 2)}
		v := [2][]float64{make([]float64, 4), make([]float64, 2)}
		for t := 1; t <= steps; t++ {
			for k, x := range [][]float64{W, bias} {
				for i := range x {
					g := []([]float64){G, gb}[k][i] + a*x[i]
					m[k][i] = 0.9*m[k][i] + 0.1*g
					v[k][i] = 0.999*v[k][i] + 0.001*g*g
					mHat := m[k][i] / (1 - math.Pow(0.9, float64(t)))
					vHat := v[k][i] / (1 - math.Pow(0.999, float64(t)))
					u := mHat / (math.Sqrt(vHat) + 1e-8)
					if k == 0 {
						u += wd * x[i]
					}
					x[i] -= lr * u
				}
			}
		}
		return W, bias
	}
	b := backendtest.Backend(t)
	ctx := context.New()
	wVar := ctx.In("layer").VariableWithValue("weights", tensors.FromFlatDataAndDimensions(f32(W0), 2, 2))
	bVar := ctx.In("layer").VariableWithValue("biases", f32(b0))
	opt, err := New(Config{Kind: "adamw", WeightDecay: wd, Schedule: Constant(lr)})
	if err != nil {
		t.Fatal(err)
	}
	exec := context.MustNewExec(b, ctx, func(ctx *context.Context, g *Graph) *Node {
		w, bv := wVar.ValueGraph(g), bVar.ValueGraph(g)
		loss := Add(ReduceAllSum(Mul(w, Const(g, tensors.FromFlatDataAndDimensions(f32(G), 2, 2)))), ReduceAllSum(Mul(bv, Const(g, f32(gb)))))
		loss = Add(loss, MulScalar(Add(ReduceAllSum(Square(w)), ReduceAllSum(Square(bv))), a/2))
		opt.UpdateGraph(ctx, g, loss)
		return loss
	})
	for step := 1; step <= 3; step++ {
		exec.MustExec()
		wantW, wantB := reference(step)
		for i, got := range tensors.MustCopyFlatData[float32](wVar.MustValue()) {
			if math.Abs(float64(got)-wantW[i]) > 1e-6 {
				t.Errorf("step %d: W[%d] = %.8g, want %.8g", step, i, got, wantW[i])
			}
		}
		for i, got := range tensors.MustCopyFlatData[float32](bVar.MustValue()) {
			if math.Abs(float64(got)-wantB[i]) > 1e-6 {
				t.Errorf("step %d: b[%d] = %.8g, want %.8g", step, i, got, wantB[i])
			}
		}
	}
}

func f32(x []float64) []float32 {
	out := make([]float32, len(x))
	for i, v := range x {
		out[i] = float32(v)
	}
	return out
}
