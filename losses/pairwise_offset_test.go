package losses

import (
	"math"
	"math/rand/v2"
	"sort"
	"testing"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/graph"

	"github.com/gomlx-ssl/vicreg/backend/backendtest"
)

// TestPairwiseEntropyTranslationFloat32: the Kolchinsky–Tracey estimate depends on the points
// only through ||z_i - z_j||², so it is translation invariant, also in float32 for points whose
// common offset (100, 1000) is large against their spread (0.1): uncentred, |z_i|² + |z_j|² -
// 2 z_i·z_j cancelled there (AutoSigma fell back to σ = 1 at offset 1000, the estimate was 45.7
// against 4.8).
//
// Independent expectation: the formula evaluated in float64 on the same float32 values with the
// offset removed (direct differences, no Gram matrix).
func TestPairwiseEntropyTranslationFloat32(t *testing.T) {
	b := backendtest.Backend(t)
	for _, offset := range []float64{100, 1000} {
		pairwiseAtOffset(t, b, offset)
	}
}

func pairwiseAtOffset(t *testing.T, b backends.Backend, offset float64) {
	const n, d, spread = 64, 32, 0.1
	r := rand.New(rand.NewPCG(5, 6))
	data := make([]float64, n*d)
	for i := range data {
		data[i] = float64(float32(offset + spread*r.NormFloat64())) // exactly representable in float32
	}
	sq := func(i, j int) float64 {
		s := 0.0
		for c := range d {
			e := data[i*d+c] - data[j*d+c]
			s += e * e
		}
		return s
	}
	kt := func(sigma, div float64) float64 {
		total := 0.0
		for i := range n {
			m, terms := math.Inf(-1), make([]float64, n)
			for j := range n {
				terms[j] = -sq(i, j) / (div * sigma * sigma)
				m = math.Max(m, terms[j])
			}
			s := 0.0
			for _, v := range terms {
				s += math.Exp(v - m)
			}
			total += m + math.Log(s) - math.Log(n)
		}
		return 0.5*d*math.Log(2*math.Pi*math.E*sigma*sigma) - total/n
	}
	var pairs []float64
	for i := range n {
		for j := i + 1; j < n; j++ {
			pairs = append(pairs, sq(i, j))
		}
	}
	sort.Float64s(pairs)
	wantSigma := math.Sqrt(pairs[(len(pairs)+1)/2-1] / (2 * math.Log(n)))
	wantB, wantBAuto := kt(0.3, 8), kt(wantSigma, 8)

	z := tensorOf(data, n, d, dtypes.Float32)
	out := run(t, b, func(z, _ *graph.Node) []*graph.Node {
		return []*graph.Node{PairwiseEntropy(z, 0.3, Bhattacharyya), PairwiseEntropy(z, Auto, Bhattacharyya), AutoSigma(z)}
	}, z, z)
	if got := out[0][0]; math.Abs(got-wantB) > 0.01 {
		t.Errorf("PairwiseEntropy(σ = 0.3, Bhattacharyya) of N(%g, 0.1²) points in float32 = %.4f, want %.4f (translation invariant)", offset, got, wantB)
	}
	if got := out[1][0]; math.Abs(got-wantBAuto) > 0.01 {
		t.Errorf("offset %g: PairwiseEntropy(Auto, Bhattacharyya) = %.4f, want %.4f", offset, got, wantBAuto)
	}
	if got := out[2][0]; math.Abs(got-wantSigma) > 0.01*wantSigma {
		t.Errorf("offset %g: AutoSigma = %.5f, want %.5f", offset, got, wantSigma)
	}
}
