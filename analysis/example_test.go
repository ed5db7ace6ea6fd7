package analysis_test

import (
	"fmt"
	"math/rand/v2"

	"github.com/gomlx-ssl/vicreg/analysis"
)

// Test whether one sample looks Gaussian, and report a pass fraction with its Wilson interval.
func Example() {
	rng := rand.New(rand.NewPCG(1, 2))
	gauss, unif := make([]float64, 64), make([]float64, 64)
	for i := range gauss {
		gauss[i], unif[i] = rng.NormFloat64(), rng.Float64()
	}
	_, pg, _ := analysis.AndersonDarling(gauss)
	_, pu, _ := analysis.AndersonDarling(unif)
	fmt.Printf("Gaussian sample rejected at 5%%: %v\n", pg < 0.05)
	fmt.Printf("uniform sample rejected at 5%%: %v\n", pu < 0.05)
	p := analysis.NewProportion(58, 64, 0.05)
	fmt.Printf("58 of 64 anchors pass: %.3f [%.3f, %.3f]\n", p.Fraction, p.Lo, p.Hi)
	// Output:
	// Gaussian sample rejected at 5%: false
	// uniform sample rejected at 5%: true
	// 58 of 64 anchors pass: 0.906 [0.810, 0.956]
}
