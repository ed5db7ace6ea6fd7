package embedmap

import (
	"fmt"
	"math"
	"runtime"
	"slices"
	"sync"

	"github.com/gomlx/gomlx/backends"

	"github.com/gomlx-ssl/vicreg/eval"
)

// DefaultAngle is Barnes-Hut t-SNE's θ unless TSNEConfig says otherwise (scikit-learn's angle):
// a cell of the quadtree whose side is below θ times its centre of mass's distance from a point
// stands for all its points in that point's repulsion.
const DefaultAngle = 0.5

// sparseP is a symmetric sparse matrix in compressed rows: row i's columns are col[start[i]:
// start[i+1]], in increasing order, and its values val[start[i]:start[i+1]].
type sparseP struct {
	start, col []int32
	val        []float64
}

// neighbourCount is the number of nearest rows Barnes-Hut t-SNE's affinities spread over
// (scikit-learn's): three times the perplexity, and one.
func neighbourCount(n int, perplexity float64) int { return min(n-1, int(3*perplexity+1)) }

// sparseAffinities returns the joint affinities of the rows of x restricted to each row's
// neighbourCount nearest rows (van der Maaten, 2014; scikit-learn's method="barnes_hut"): p_j|i
// over those neighbours, each row's β_i bisected as for the exact map (conditionalRow), then
// p_j|i + p_i|j normalised to sum to 1. The neighbours are found on the backend
// (eval.NearestByDistance, which calls progress), the rest in Go in float64.
func sparseAffinities(b backends.Backend, x eval.Features, perplexity float64, progress func(done, total int)) (sparseP, error) {
	k := neighbourCount(x.N, perplexity)
	nbs, err := eval.NearestByDistance(b, x, x, k+1, 0, progress)
	if err != nil {
		return sparseP{}, fmt.Errorf("t-SNE: the nearest neighbours: %w", err)
	}
	n := x.N
	cols := make([]int32, n*k)
	vals := make([]float64, n*k)
	d := make([]float64, k)
	for i, row := range nbs {
		// Drop the row itself: the first of its neighbours unless duplicates of it came first.
		self := slices.IndexFunc(row, func(nb eval.Neighbour) bool { return nb.Index == i })
		if self < 0 {
			self = len(row) - 1
		}
		row = slices.Delete(row, self, self+1)
		for t, nb := range row {
			cols[i*k+t], d[t] = int32(nb.Index), -float64(nb.Similarity)
		}
		conditionalRow(d, math.Log(perplexity), vals[i*k:(i+1)*k])
	}
	return symmetrise(n, k, cols, vals), nil
}

// conditionalRow sets p to p_j|i ∝ exp(−β d_j) over the squared distances d of row i's
// neighbours, with β bisected until the entropy is within perplexityTolerance of target (at
// most perplexitySteps steps), as scikit-learn's _binary_search_perplexity: β starts at 1 and is
// doubled or halved until the target is bracketed. The distances are taken less their smallest,
// which leaves p unchanged and keeps the exponentials from underflowing.
func conditionalRow(d []float64, target float64, p []float64) {
	nearest := slices.Min(d)
	beta, lo, hi := 1.0, math.Inf(-1), math.Inf(1)
	for range perplexitySteps {
		sum := 0.0
		for j, dj := range d {
			p[j] = math.Exp(-(dj - nearest) * beta)
			sum += p[j]
		}
		if sum == 0 {
			sum = 1e-8
		}
		mean := 0.0
		for j, dj := range d {
			p[j] /= sum
			mean += (dj - nearest) * p[j]
		}
		diff := math.Log(sum) + beta*mean - target
		if math.Abs(diff) <= perplexityTolerance {
			break
		}
		if diff > 0 { // entropy too high: β too small
			lo = beta
			if math.IsInf(hi, 1) {
				beta *= 2
			} else {
				beta = (beta + hi) / 2
			}
		} else {
			hi = beta
			if math.IsInf(lo, -1) {
				beta /= 2
			} else {
				beta = (beta + lo) / 2
			}
		}
	}
}

// symmetrise returns (C + Cᵀ) / sum for the n × n matrix C whose row i holds vals[i*k:(i+1)*k]
// in the columns cols[i*k:(i+1)*k].
func symmetrise(n, k int, cols []int32, vals []float64) sparseP {
	start := make([]int32, n+1)
	for i := range n {
		for _, j := range cols[i*k : (i+1)*k] {
			start[i+1]++
			start[j+1]++
		}
	}
	for i := range n {
		start[i+1] += start[i]
	}
	type entry struct {
		col int32
		val float64
	}
	entries := make([]entry, start[n])
	fill := slices.Clone(start[:n])
	total := 0.0
	for i := range n {
		for t, j := range cols[i*k : (i+1)*k] {
			v := vals[i*k+t]
			entries[fill[i]] = entry{j, v}
			fill[i]++
			entries[fill[j]] = entry{int32(i), v}
			fill[j]++
			total += 2 * v
		}
	}
	total = max(total, 1e-300)
	p := sparseP{start: make([]int32, n+1)}
	p.col, p.val = make([]int32, 0, len(entries)), make([]float64, 0, len(entries))
	for i := range n {
		row := entries[start[i]:start[i+1]]
		slices.SortStableFunc(row, func(a, b entry) int { return int(a.col - b.col) })
		for t, e := range row {
			if t > 0 && e.col == row[t-1].col {
				p.val[len(p.val)-1] += e.val / total
				continue
			}
			p.col, p.val = append(p.col, e.col), append(p.val, e.val/total)
		}
		p.start[i+1] = int32(len(p.col))
	}
	return p
}

// quadTree is a Barnes-Hut quadtree of points on the plane: each node a square cell with the
// number of its points and their centre of mass. Its points are sorted so that every node's
// are contiguous.
type quadTree struct {
	nodes []quadNode
	order []int32 // the points, each node's order[lo:hi]
	at    []int32 // each point's place in order
}

type quadNode struct {
	cx, cy float64 // the points' centre of mass
	width2 float64 // the cell's squared side
	lo, hi int32   // its points: order[lo:hi]
	child  int32   // its first child (the others follow it); 0 for a leaf
	nChild int32
}

// maxTreeDepth bounds the quadtree's depth: a cell of the root's side / 2^50 holds points that
// float64 hardly tells apart, and stays a leaf.
const maxTreeDepth = 50

// build makes t the quadtree of the n points y (x and y of each in turn), reusing its memory.
func (t *quadTree) build(y []float64) {
	n := len(y) / 2
	if cap(t.order) < n {
		t.order, t.at = make([]int32, n), make([]int32, n)
	}
	t.order, t.at = t.order[:n], t.at[:n]
	for i := range t.order {
		t.order[i] = int32(i)
	}
	minX, maxX, minY, maxY := math.Inf(1), math.Inf(-1), math.Inf(1), math.Inf(-1)
	for i := range n {
		minX, maxX = min(minX, y[2*i]), max(maxX, y[2*i])
		minY, maxY = min(minY, y[2*i+1]), max(maxY, y[2*i+1])
	}
	t.nodes = append(t.nodes[:0], quadNode{})
	t.fill(0, y, 0, int32(n), minX, minY, max(maxX-minX, maxY-minY), 0)
	for k, i := range t.order {
		t.at[i] = int32(k)
	}
}

// fill makes node the cell of side side at (x0, y0) (its lower left corner) holding the points
// order[lo:hi], and its children.
func (t *quadTree) fill(node int, y []float64, lo, hi int32, x0, y0, side float64, depth int) {
	pts := t.order[lo:hi]
	sx, sy := 0.0, 0.0
	same := true
	for _, i := range pts {
		sx, sy = sx+y[2*i], sy+y[2*i+1]
		same = same && y[2*i] == y[2*pts[0]] && y[2*i+1] == y[2*pts[0]+1]
	}
	nd := quadNode{cx: sx / float64(len(pts)), cy: sy / float64(len(pts)), width2: side * side, lo: lo, hi: hi}
	if len(pts) == 1 || same || depth == maxTreeDepth {
		t.nodes[node] = nd
		return
	}
	half := side / 2
	mx, my := x0+half, y0+half
	// The quadrants in turn: left below, left above, right below, right above.
	split := func(pts []int32, below func(i int32) bool) int {
		k := 0
		for m, i := range pts {
			if below(i) {
				pts[k], pts[m] = pts[m], pts[k]
				k++
			}
		}
		return k
	}
	left := split(pts, func(i int32) bool { return y[2*i] < mx })
	bottomL := split(pts[:left], func(i int32) bool { return y[2*i+1] < my })
	bottomR := split(pts[left:], func(i int32) bool { return y[2*i+1] < my })
	bounds := [5]int32{0, int32(bottomL), int32(left), int32(left + bottomR), int32(len(pts))}
	corners := [4][2]float64{{x0, y0}, {x0, my}, {mx, y0}, {mx, my}}
	nd.child = int32(len(t.nodes))
	for q := range 4 {
		if bounds[q+1] > bounds[q] {
			nd.nChild++
		}
	}
	t.nodes[node] = nd
	for range nd.nChild {
		t.nodes = append(t.nodes, quadNode{})
	}
	c := int(nd.child)
	for q := range 4 {
		if bounds[q+1] > bounds[q] {
			t.fill(c, y, lo+bounds[q], lo+bounds[q+1], corners[q][0], corners[q][1], half, depth+1)
			c++
		}
	}
}

// repulsion returns point i's repulsion by all the other points, Σ_j w_ij² (y_i − y_j), and
// its share of the map's normalisation, Σ_j w_ij, with w_ij = 1 / (1 + ‖y_i − y_j‖²): a cell
// that does not hold i, of squared side below θ² times its centre of mass's squared distance
// from y_i (or a leaf), counts as its points all at that centre. stack is scratch memory,
// returned for the next call.
func (t *quadTree) repulsion(i int, y []float64, theta2 float64, stack []int32) (fx, fy, z float64, _ []int32) {
	pos := t.at[i]
	xi, yi := y[2*i], y[2*i+1]
	stack = append(stack[:0], 0)
	for len(stack) > 0 {
		nd := &t.nodes[stack[len(stack)-1]]
		stack = stack[:len(stack)-1]
		if pos >= nd.lo && pos < nd.hi { // i's own cell
			if nd.child == 0 {
				for _, j := range t.order[nd.lo:nd.hi] {
					if int(j) == i {
						continue
					}
					dx, dy := xi-y[2*j], yi-y[2*j+1]
					w := 1 / (1 + dx*dx + dy*dy)
					z += w
					fx, fy = fx+w*w*dx, fy+w*w*dy
				}
				continue
			}
			for c := range nd.nChild {
				stack = append(stack, nd.child+c)
			}
			continue
		}
		dx, dy := xi-nd.cx, yi-nd.cy
		d2 := dx*dx + dy*dy
		if nd.child == 0 || nd.width2 < theta2*d2 {
			w := 1 / (1 + d2)
			m := float64(nd.hi - nd.lo)
			z += m * w
			fx, fy = fx+m*w*w*dx, fy+m*w*w*dy
			continue
		}
		for c := range nd.nChild {
			stack = append(stack, nd.child+c)
		}
	}
	return fx, fy, z, stack
}

// gradientChunk is the number of points one goroutine computes the forces on at a time; the
// normalisation is summed chunk by chunk in order, so that the map does not depend on the
// number of cores.
const gradientChunk = 256

// bhGradient holds the memory of Barnes-Hut t-SNE's gradient, reused across iterations.
type bhGradient struct {
	p      sparseP
	theta2 float64
	tree   quadTree
	attr   []float64 // each point's attraction Σ_j p_ij w_ij (y_i − y_j)
	rep    []float64 // and repulsion Σ_j w_ij² (y_i − y_j)
	zs     []float64 // each chunk's share of Z
	stacks [][]int32
}

func newBHGradient(p sparseP, angle float64) *bhGradient {
	n := len(p.start) - 1
	chunks := (n + gradientChunk - 1) / gradientChunk
	return &bhGradient{p: p, theta2: angle * angle, attr: make([]float64, 2*n), rep: make([]float64, 2*n), zs: make([]float64, chunks),
		stacks: make([][]int32, chunks)}
}

// forces computes the attraction and repulsion of every point of the map y and returns Z, the
// sum of w_ij over all pairs i ≠ j, building the quadtree first; the chunks run on all cores.
func (g *bhGradient) forces(y []float64) float64 {
	g.tree.build(y)
	n := len(y) / 2
	var wg sync.WaitGroup
	next := make(chan int, len(g.zs))
	for c := range g.zs {
		next <- c
	}
	close(next)
	for range min(runtime.GOMAXPROCS(0), len(g.zs)) {
		wg.Go(func() {
			for c := range next {
				z := 0.0
				for i := c * gradientChunk; i < min(n, (c+1)*gradientChunk); i++ {
					var fx, fy, zi float64
					fx, fy, zi, g.stacks[c] = g.tree.repulsion(i, y, g.theta2, g.stacks[c])
					g.rep[2*i], g.rep[2*i+1] = fx, fy
					z += zi
					ax, ay := 0.0, 0.0
					for e := g.p.start[i]; e < g.p.start[i+1]; e++ {
						j := g.p.col[e]
						dx, dy := y[2*i]-y[2*j], y[2*i+1]-y[2*j+1]
						pw := g.p.val[e] / (1 + dx*dx + dy*dy)
						ax, ay = ax+pw*dx, ay+pw*dy
					}
					g.attr[2*i], g.attr[2*i+1] = ax, ay
				}
				g.zs[c] = z
			}
		})
	}
	wg.Wait()
	z := 0.0
	for _, zc := range g.zs {
		z += zc
	}
	return z
}

// gradient writes to grad the gradient of KL(P ‖ Q) at the map y, with P multiplied by
// exaggeration: 4 (exaggeration Σ_j p_ij w_ij (y_i − y_j) − Σ_j w_ij² (y_i − y_j) / Z).
func (g *bhGradient) gradient(y []float64, exaggeration float64, grad []float64) {
	z := g.forces(y)
	for k := range grad {
		grad[k] = 4 * (exaggeration*g.attr[k] - g.rep[k]/z)
	}
}

// divergence returns KL(P ‖ Q) = Σ p_ij log(p_ij Z / w_ij) over the pairs of P, with Z from the
// quadtree as the gradient has it.
func (g *bhGradient) divergence(y []float64) float64 {
	z := g.forces(y)
	kl := 0.0
	for i := range len(g.p.start) - 1 {
		for e := g.p.start[i]; e < g.p.start[i+1]; e++ {
			j := g.p.col[e]
			dx, dy := y[2*i]-y[2*j], y[2*i+1]-y[2*j+1]
			if p := g.p.val[e]; p > 0 {
				kl += p * math.Log(p*z*(1+dx*dx+dy*dy))
			}
		}
	}
	return kl
}

// barnesHut runs cfg's gradient descent from the map y (N × 2, row-major) on the affinities p
// with Barnes-Hut's gradient, in place, and returns the final divergence.
func barnesHut(p sparseP, y []float64, cfg TSNEConfig) float64 {
	g := newBHGradient(p, cfg.Angle)
	grad, update, gains := make([]float64, len(y)), make([]float64, len(y)), make([]float64, len(y))
	for it := range cfg.Iterations {
		exaggeration, mom := 1.0, momentum
		if it < cfg.ExaggerationIterations {
			exaggeration, mom = cfg.Exaggeration, exaggerationMomentum
		}
		if it == 0 || it == cfg.ExaggerationIterations {
			// Each phase starts still, with unit gains (scikit-learn runs them as two descents).
			clear(update)
			for k := range gains {
				gains[k] = 1
			}
		}
		g.gradient(y, exaggeration, grad)
		for k := range y {
			if update[k]*grad[k] < 0 {
				gains[k] += 0.2
			} else {
				gains[k] *= 0.8
			}
			gains[k] = max(gains[k], minGain)
			update[k] = mom*update[k] - cfg.LearningRate*gains[k]*grad[k]
			y[k] += update[k]
		}
		if cfg.Progress != nil {
			cfg.Progress(it+1, cfg.Iterations)
		}
	}
	return g.divergence(y)
}
