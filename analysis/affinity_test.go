package analysis

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/gomlx/gomlx/backends"
	. "github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/tensors"

	"github.com/gomlx-ssl/vicreg/backend/backendtest"
)

// graphFunc is a Func built from a graph function of x [n, in] -> [n, out], with the input
// gradient taken the way Network takes it: one backward pass of Σ_i u_i·f(x_i).
type graphFunc struct {
	in, out   int
	fwd, grad *Exec
}

func newGraphFunc(t *testing.T, b backends.Backend, in, out int, fn func(x *Node) *Node) *graphFunc {
	t.Helper()
	fwd, err := NewExec(b, fn)
	if err != nil {
		t.Fatal(err)
	}
	grad, err := NewExec(b, func(x, u *Node) *Node {
		return Gradient(ReduceAllSum(Mul(fn(x), u)), x)[0]
	})
	if err != nil {
		t.Fatal(err)
	}
	return &graphFunc{in: in, out: out, fwd: fwd, grad: grad}
}

func (g *graphFunc) InDim() int  { return g.in }
func (g *graphFunc) OutDim() int { return g.out }
func (g *graphFunc) Forward(x []float32, n int) ([]float32, error) {
	out, err := g.fwd.Exec(tensors.FromFlatDataAndDimensions(x, n, g.in))
	if err != nil {
		return nil, err
	}
	return tensors.MustCopyFlatData[float32](out[0]), nil
}
func (g *graphFunc) InputGrad(x, u []float32, n int) ([]float32, error) {
	out, err := g.grad.Exec(tensors.FromFlatDataAndDimensions(x, n, g.in), tensors.FromFlatDataAndDimensions(u, n, g.out))
	if err != nil {
		return nil, err
	}
	return tensors.MustCopyFlatData[float32](out[0]), nil
}

func TestAffinityLinear(t *testing.T) {
	b := backendtest.Backend(t)
	const in, out = 6, 4
	rng := rand.New(rand.NewPCG(3, 4))
	w := make([][]float32, in)
	for i := range w {
		w[i] = make([]float32, out)
		for j := range w[i] {
			w[i][j] = float32(rng.NormFloat64())
		}
	}
	bias := []float32{0.5, -1, 2, 0}
	f := newGraphFunc(t, b, in, out, func(x *Node) *Node {
		return Add(MatMul(x, Const(x.Graph(), w)), InsertAxes(Const(x.Graph(), bias), 0))
	})
	const k = 5
	anchors := make([]float32, k*in)
	for i := range anchors {
		anchors[i] = float32(rng.NormFloat64())
	}
	res, err := Affinity(f, anchors, k, AffinityConfig{Scales: []float64{0.01, 0.1, 1, 10}, Directions: 3, Samples: 8, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range res {
		for a, ratio := range r.Ratios {
			if math.Abs(ratio-1) > 1e-3 {
				t.Errorf("scale %g, anchor %d: ratio %.6f, want 1 for a linear map", r.Scale, a, ratio)
			}
		}
		if r.Summary.N != k || math.Abs(r.Summary.Median-1) > 1e-3 {
			t.Errorf("scale %g: summary %+v", r.Scale, r.Summary)
		}
	}
}

// TestAffinitySquare checks the ratio against the prediction for f(x) = x² (elementwise). With
// δ ~ N(0, s²I) and a unit u, u·(f(x+δ) - f(x)) = Σ_i u_i(2x_iδ_i + δ_i²), so
//
//	E[(u·Δf)²] = 4s²·Σ_i u_i²x_i² + s⁴·(2·Σ_i u_i² + (Σ_i u_i)²)   (odd moments vanish; E δ⁴ = 3s⁴),
//	E[(∇(u·f)·δ)²] = s²·||2u⊙x||² = 4s²·Σ_i u_i²x_i²,
//
// and summed over directions the ratio is Σ_u E[(u·Δf)²] / Σ_u 4s²Σ_i u_i²x_i². (In 1-D with u = 1:
// 1 + 3s²/(4x²).)
func TestAffinitySquare(t *testing.T) {
	b := backendtest.Backend(t)
	const in = 3
	f := newGraphFunc(t, b, in, in, func(x *Node) *Node { return Square(x) })
	x := []float64{0.5, -1, 0.3}
	dirs := [][]float64{{1, 0, 0}, {0.6, 0.8, 0}, {1 / math.Sqrt(3), -1 / math.Sqrt(3), 1 / math.Sqrt(3)}}
	// k replicas of the same anchor: independent estimates, whose spread gives the Monte Carlo error.
	const k, samples = 40, 500
	anchors := make([]float32, 0, k*in)
	for range k {
		for _, v := range x {
			anchors = append(anchors, float32(v))
		}
	}
	scales := []float64{0.2, 0.5, 1}
	res, err := affinity(f, anchors, k, dirs, scales, samples, rand.New(rand.NewPCG(7, 8)))
	if err != nil {
		t.Fatal(err)
	}
	for si, s := range scales {
		var num, den float64
		for _, u := range dirs {
			lin, sum, sq := 0.0, 0.0, 0.0
			for i := range u {
				lin += u[i] * u[i] * float64(float32(x[i])) * float64(float32(x[i]))
				sum += u[i]
				sq += u[i] * u[i]
			}
			num += 4*s*s*lin + s*s*s*s*(2*sq+sum*sum)
			den += 4 * s * s * lin
		}
		want := num / den
		sum := Summarize(res[si].Ratios)
		sd := 0.0
		for _, r := range res[si].Ratios {
			sd += (r - sum.Mean) * (r - sum.Mean)
		}
		se := math.Sqrt(sd/float64(k-1)) / math.Sqrt(k)
		t.Logf("scale %g: measured %.5f ± %.5f, predicted %.5f", s, sum.Mean, se, want)
		// The ratio estimator has an O(1/samples) bias, well below the tolerance here.
		if math.Abs(sum.Mean-want) > 4*se+1e-4 {
			t.Errorf("scale %g: ratio %.5f ± %.5f, predicted %.5f", s, sum.Mean, se, want)
		}
		if want-1 < 10*se {
			t.Errorf("scale %g: the test cannot tell %.5f from 1 (se %.5f)", s, want, se)
		}
	}
}

func TestAffinityErrors(t *testing.T) {
	b := backendtest.Backend(t)
	f := newGraphFunc(t, b, 2, 2, func(x *Node) *Node { return x })
	if _, err := Affinity(f, make([]float32, 3), 2, AffinityConfig{Scales: []float64{1}, Directions: 1, Samples: 1}); err == nil {
		t.Error("wrong anchor size: no error")
	}
	if _, err := Affinity(f, make([]float32, 4), 2, AffinityConfig{Directions: 1, Samples: 1}); err == nil {
		t.Error("no scales: no error")
	}
}

func TestSummarize(t *testing.T) {
	s := Summarize([]float64{4, 1, math.NaN(), 3, 2, math.Inf(1)})
	want := Summary{N: 4, Mean: 2.5, Min: 1, Max: 4, Q1: 1.75, Median: 2.5, Q3: 3.25}
	if s != want {
		t.Errorf("Summarize = %+v, want %+v", s, want)
	}
}

// TestAffinityInfiniteRatio: where the gradient vanishes but f moves under noise (ReLU at 0), the
// ratio is +Inf, and it counts as the least affine in the quartiles: with two anchors at x = 1
// (ratio 1) and two at x = 0 (+Inf), the median and Q3 are +Inf and the A2 verdict fails at that
// scale, where dropping the infinite ratios had read "close to affine".
func TestAffinityInfiniteRatio(t *testing.T) {
	anchors := []float32{1, 1, 0, 0}
	res, err := Affinity(kinkFunc{d: 1}, anchors, 4, AffinityConfig{Scales: []float64{0.01}, Directions: 2, Samples: 16, Seed: 3})
	if err != nil {
		t.Fatal(err)
	}
	for a, r := range res[0].Ratios {
		want := 1.0
		if anchors[a] == 0 {
			want = math.Inf(1)
		}
		if r != want && math.Abs(r-want) > 1e-6 {
			t.Fatalf("anchor %d: ratio %g, want %g", a, r, want)
		}
	}
	if s := res[0].Summary; s.N != 4 || math.Abs(s.Q1-1) > 1e-6 || !math.IsInf(s.Median, 1) || !math.IsInf(s.Q3, 1) {
		t.Errorf("summary %+v; want N 4, Q1 1, median and Q3 +Inf", s)
	}
	rep := &Report{Options: Options{Anchors: 4, Views: 8, Alpha: 0.05, Scales: []float64{0.01}, Directions: 2, NoiseSamples: 16},
		Models: []ModelReport{{Label: "kink", Affinity: res}}}
	md := Markdown(rep)
	i := strings.Index(md, "close to affine")
	if i < 0 {
		t.Fatalf("no A2 verdict in the summary:\n%s", md)
	}
	if verdict := md[i : i+strings.Index(md[i:], "\n")]; !strings.Contains(verdict, "not at s ∈ {0.01}") {
		t.Errorf("half of the anchors have an infinite ratio, yet the A2 verdict reads: %q", verdict)
	}
}

// kinkFunc is f(x) = max(x, 0) element-wise, with the gradient 0 at x <= 0 (the convention of a
// ReLU's derivative at its kink).
type kinkFunc struct{ d int }

func (f kinkFunc) InDim() int  { return f.d }
func (f kinkFunc) OutDim() int { return f.d }
func (f kinkFunc) Forward(x []float32, n int) ([]float32, error) {
	out := make([]float32, len(x))
	for i, v := range x {
		out[i] = max(v, 0)
	}
	return out, nil
}
func (f kinkFunc) InputGrad(x, u []float32, n int) ([]float32, error) {
	g := make([]float32, len(x))
	for i, v := range x {
		if v > 0 {
			g[i] = u[i]
		}
	}
	return g, nil
}
