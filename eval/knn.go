package eval

import (
	"container/heap"
	"fmt"
	"math"

	"github.com/gomlx/gomlx/backends"
	. "github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/tensors"
)

// KNNConfig configures the weighted kNN classifier of Wu et al. (2018), as solo-learn uses it:
// cosine similarity, the k most similar training embeddings vote with weight exp(sim/T).
type KNNConfig struct {
	K           int     // neighbours (default 20)
	Temperature float64 // T (default 0.07)
	BatchSize   int     // test rows per similarity product (default 256)
}

func (c KNNConfig) withDefaults() KNNConfig {
	if c.K == 0 {
		c.K = 20
	}
	if c.Temperature == 0 {
		c.Temperature = 0.07
	}
	if c.BatchSize == 0 {
		c.BatchSize = 256
	}
	return c
}

// KNN classifies every test embedding by a weighted vote of its K nearest training embeddings
// (cosine similarity) and returns the accuracy. The similarity products run on the backend; the
// top-K selection runs on the host.
func KNN(b backends.Backend, train, test Features, cfg KNNConfig) (float64, error) {
	cfg = cfg.withDefaults()
	if err := train.Validate("kNN training"); err != nil {
		return 0, err
	}
	if err := test.Validate("kNN test"); err != nil {
		return 0, err
	}
	if train.Labels == nil || test.Labels == nil {
		return 0, fmt.Errorf("kNN needs labeled features")
	}
	if train.D != test.D {
		return 0, fmt.Errorf("kNN: training features have dimension %d, test features %d", train.D, test.D)
	}
	if cfg.K < 1 || cfg.Temperature <= 0 || cfg.BatchSize < 1 {
		return 0, fmt.Errorf("kNN: k, temperature and batch size must be positive, got %+v", cfg)
	}
	k := min(cfg.K, train.N)
	classes := max(train.NumClasses, test.NumClasses)
	similarity, err := NewExec(b, func(queries, keys *Node) *Node {
		return MatMul(l2Normalize(queries), Transpose(l2Normalize(keys), 0, 1))
	})
	if err != nil {
		return 0, fmt.Errorf("kNN: building the similarity product: %w", err)
	}
	defer similarity.Finalize()

	keys := tensors.FromFlatDataAndDimensions(train.X, train.N, train.D)
	batch := min(cfg.BatchSize, test.N)
	buf := make([]float32, batch*test.D)
	votes := make([]float64, classes)
	correct := 0
	for start := 0; start < test.N; start += batch {
		n := min(batch, test.N-start)
		clear(buf)
		copy(buf, test.X[start*test.D:(start+n)*test.D])
		out, err := similarity.Exec(tensors.FromFlatDataAndDimensions(buf, batch, test.D), keys)
		if err != nil {
			return 0, fmt.Errorf("kNN: similarity product: %w", err)
		}
		sims := tensors.MustCopyFlatData[float32](out[0])
		out[0].FinalizeAll()
		for i := 0; i < n; i++ {
			clear(votes)
			for _, nb := range topK(sims[i*train.N:(i+1)*train.N], k) {
				votes[train.Labels[nb.index]] += math.Exp(float64(nb.sim) / cfg.Temperature)
			}
			if argmax(votes) == int(test.Labels[start+i]) {
				correct++
			}
		}
	}
	return float64(correct) / float64(test.N), nil
}

func l2Normalize(x *Node) *Node {
	norm := Sqrt(AddScalar(ReduceAndKeep(Square(x), ReduceSum, -1), 1e-12))
	return Div(x, norm)
}

type neighbour struct {
	sim   float32
	index int
}

// minHeap keeps the k largest similarities seen so far, the smallest on top.
type minHeap []neighbour

func (h minHeap) Len() int           { return len(h) }
func (h minHeap) Less(i, j int) bool { return h[i].sim < h[j].sim }
func (h minHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *minHeap) Push(x any)        { *h = append(*h, x.(neighbour)) }
func (h *minHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

// topK returns the k entries of sims with the largest values (in no particular order).
func topK(sims []float32, k int) []neighbour {
	h := make(minHeap, 0, k)
	for i, s := range sims {
		if len(h) < k {
			heap.Push(&h, neighbour{s, i})
		} else if s > h[0].sim {
			h[0] = neighbour{s, i}
			heap.Fix(&h, 0)
		}
	}
	return h
}

func argmax(x []float64) int {
	best := 0
	for i, v := range x {
		if v > x[best] {
			best = i
		}
	}
	return best
}
