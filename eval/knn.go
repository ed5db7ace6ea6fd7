package eval

import (
	"cmp"
	"container/heap"
	"fmt"
	"math"
	"slices"

	"github.com/gomlx/gomlx/backends"
	. "github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/tensors"

	"github.com/gomlx-ssl/vicreg/linalg"
)

// KNNConfig configures the weighted kNN classifier of Wu et al. (2018), as solo-learn uses it:
// cosine similarity, the k most similar training embeddings vote with weight exp(sim/T).
type KNNConfig struct {
	K           int     // neighbours (default 20)
	Temperature float64 // T (default 0.07)
	BatchSize   int     // test rows per similarity product (default 256; fewer where the scores would pass maxScores)
	// Progress, when set, is called after each batch of test rows with the rows done and the total.
	Progress func(done, total int)
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
// (cosine similarity) and returns the accuracy (KNNScores has the balanced accuracy too). The
// similarity products run on the backend; the top-K selection runs on the host.
func KNN(b backends.Backend, train, test Features, cfg KNNConfig) (float64, error) {
	r, err := KNNScores(b, train, test, cfg)
	return r.Accuracy, err
}

// KNNResult is the kNN classifier's accuracy on the test features, its balanced accuracy
// (Balanced), its top-5 accuracy (the label among the 5 classes of most votes, ties to the lower
// class; -1 with 5 classes or fewer), and the class it predicts for each test row.
type KNNResult struct {
	Accuracy, Balanced, Top5 float64
	Pred                     []int32
}

// KNNScores is KNN, with the balanced accuracy beside the accuracy.
func KNNScores(b backends.Backend, train, test Features, cfg KNNConfig) (KNNResult, error) {
	cfg = cfg.withDefaults()
	if err := train.labeled("kNN", "training"); err != nil {
		return KNNResult{}, err
	}
	if err := test.labeled("kNN", "test"); err != nil {
		return KNNResult{}, err
	}
	if cfg.Temperature <= 0 {
		return KNNResult{}, fmt.Errorf("kNN: the temperature must be positive, got %+v", cfg)
	}
	classes := max(train.NumClasses, test.NumClasses)
	votes := make([]float64, classes)
	pred := make([]int32, test.N)
	top5 := 0
	err := eachNeighbours(b, train, test, [2]string{"training", "test"}, cfg.K, cfg.BatchSize, cosine, cfg.Progress, func(i int, nbs []Neighbour) {
		clear(votes)
		for _, nb := range nbs {
			votes[train.Labels[nb.Index]] += math.Exp(float64(nb.Similarity) / cfg.Temperature)
		}
		pred[i] = int32(argmax(votes))
		if rank(votes, int(test.Labels[i])) < 5 {
			top5++
		}
	})
	if err != nil {
		return KNNResult{}, fmt.Errorf("kNN: %w", err)
	}
	res := KNNResult{Accuracy: hitRate(pred, test.Labels), Balanced: Balanced(pred, test.Labels, classes), Top5: -1, Pred: pred}
	if classes > 5 {
		res.Top5 = float64(top5) / float64(test.N)
	}
	return res, nil
}

// Neighbour is one of a query's nearest keys: its row in the keys and its cosine similarity (of
// NearestByDistance: its squared Euclidean distance, negated).
type Neighbour struct {
	Index      int
	Similarity float32
}

// NearestNeighbours returns, for every row of queries, its k most similar rows of keys by cosine
// similarity, the most similar first (image retrieval; the kNN classifier votes with them); all
// the keys when there are fewer than k. The similarity products run on the backend, batch query
// rows at a time (0: 256).
func NearestNeighbours(b backends.Backend, keys, queries Features, k, batch int) ([][]Neighbour, error) {
	return nearest(b, keys, queries, k, batch, cosine, nil)
}

// NearestByDistance is NearestNeighbours by Euclidean distance: each query row's k nearest rows
// of keys, the nearest first (ties by row), each Neighbour's Similarity the negated squared
// distance (float32, linalg.CrossSquaredDistances). progress, when set, is called after each
// batch with the query rows done and their number.
func NearestByDistance(b backends.Backend, keys, queries Features, k, batch int, progress func(done, total int)) ([][]Neighbour, error) {
	return nearest(b, keys, queries, k, batch, negSquaredDistance, progress)
}

func nearest(b backends.Backend, keys, queries Features, k, batch int, score func(queries, keys *Node) *Node, progress func(done, total int)) ([][]Neighbour, error) {
	out := make([][]Neighbour, queries.N)
	err := eachNeighbours(b, keys, queries, [2]string{"key", "query"}, k, batch, score, progress, func(i int, nbs []Neighbour) {
		sorted := slices.Clone(nbs)
		slices.SortFunc(sorted, func(a, b Neighbour) int {
			if a.Similarity != b.Similarity {
				return cmp.Compare(b.Similarity, a.Similarity)
			}
			return cmp.Compare(a.Index, b.Index)
		})
		out[i] = sorted
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// maxScores bounds the scores of a batch of query rows against all the keys, held on the backend
// and again in Go (128 MiB of float32 each): against ImageNet's 1.28 million training images, 26
// test rows a batch, where 256 would hold 1.3 GB twice over.
const maxScores = 1 << 25

// batchRows is the number of query rows that eachNeighbours scores at once against keys keys:
// batch, or fewer where their scores would pass maxScores, and at least one.
func batchRows(batch, keys int) int { return max(1, min(batch, maxScores/max(keys, 1))) }

// cosine is the cosine similarity of each of a batch of query rows with each key: a score that
// eachNeighbours ranks keys by.
func cosine(queries, keys *Node) *Node {
	return MatMul(l2Normalize(queries), Transpose(l2Normalize(keys), 0, 1))
}

// negSquaredDistance is the negated squared Euclidean distance of each of a batch of query rows
// from each key: a score that eachNeighbours ranks keys by.
func negSquaredDistance(queries, keys *Node) *Node {
	return Neg(linalg.CrossSquaredDistances(queries, keys))
}

// eachNeighbours calls fn with each query row's k keys of the highest score (cosine or
// negSquaredDistance; in no particular order). names are what the keys and the queries are
// called in errors.
func eachNeighbours(b backends.Backend, keys, queries Features, names [2]string, k, batch int, score func(queries, keys *Node) *Node, progress func(done, total int), fn func(query int, nbs []Neighbour)) error {
	if err := keys.Validate(names[0]); err != nil {
		return err
	}
	if err := queries.Validate(names[1]); err != nil {
		return err
	}
	if keys.D != queries.D {
		return fmt.Errorf("%s features have dimension %d, %s features %d", names[0], keys.D, names[1], queries.D)
	}
	if batch == 0 {
		batch = 256
	}
	if k < 1 || batch < 1 {
		return fmt.Errorf("k and the batch size must be positive, got %d and %d", k, batch)
	}
	batch = batchRows(batch, keys.N)
	k = min(k, keys.N)
	similarity, err := NewExec(b, score)
	if err != nil {
		return fmt.Errorf("building the similarity product: %w", err)
	}
	defer similarity.Finalize()

	keyT := tensors.FromFlatDataAndDimensions(keys.X, keys.N, keys.D)
	batch = min(batch, queries.N)
	buf := make([]float32, batch*queries.D)
	for start := 0; start < queries.N; start += batch {
		n := min(batch, queries.N-start)
		clear(buf)
		copy(buf, queries.X[start*queries.D:(start+n)*queries.D])
		out, err := similarity.Exec(tensors.FromFlatDataAndDimensions(buf, batch, queries.D), keyT)
		if err != nil {
			return fmt.Errorf("similarity product: %w", err)
		}
		sims := tensors.MustCopyFlatData[float32](out[0])
		out[0].FinalizeAll()
		for i := 0; i < n; i++ {
			fn(start+i, topK(sims[i*keys.N:(i+1)*keys.N], k))
		}
		if progress != nil {
			progress(start+n, queries.N)
		}
	}
	return nil
}

func l2Normalize(x *Node) *Node {
	norm := Sqrt(AddScalar(ReduceAndKeep(Square(x), ReduceSum, -1), 1e-12))
	return Div(x, norm)
}

// minHeap keeps the k largest similarities seen so far, the smallest on top.
type minHeap []Neighbour

func (h minHeap) Len() int           { return len(h) }
func (h minHeap) Less(i, j int) bool { return h[i].Similarity < h[j].Similarity }
func (h minHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *minHeap) Push(x any)        { *h = append(*h, x.(Neighbour)) }
func (h *minHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

// topK returns the k entries of sims with the largest values (in no particular order).
func topK(sims []float32, k int) []Neighbour {
	h := make(minHeap, 0, k)
	for i, s := range sims {
		if len(h) < k {
			heap.Push(&h, Neighbour{Index: i, Similarity: s})
		} else if s > h[0].Similarity {
			h[0] = Neighbour{Index: i, Similarity: s}
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
