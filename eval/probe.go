package eval

import (
	"cmp"
	"fmt"
	"math/rand/v2"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/pkg/core/dtypes"
	. "github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/shapes"
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/ml/context"
	"github.com/gomlx/gomlx/pkg/ml/context/initializers"
	"github.com/gomlx/gomlx/pkg/ml/train/losses"

	"github.com/gomlx-ssl/vicreg/linalg"
	"github.com/gomlx-ssl/vicreg/train/optim"
)

// ProbeConfig configures the offline linear probe: a softmax classifier on standardised frozen
// features, trained on shuffled mini-batches with the toolkit's AdamW (train/optim, at its default
// β₁, β₂ and ε and a constant learning rate).
type ProbeConfig struct {
	Epochs      int     // passes over the training features (default 30)
	BatchSize   int     // default 1024 (capped at the number of training rows)
	LR          float64 // AdamW learning rate (default 1e-2)
	WeightDecay float64 // AdamW's decoupled weight decay, on the weights only, not the biases (default 0)
	Seed        uint64  // shuffling seed
	// Progress, when set, is called after each epoch with the epochs done and the total.
	Progress func(done, total int)
	// Predict are feature sets (of the training features' dimension; their labels, if any, are
	// not used) that the trained probe classifies: ProbeResult.Predictions.
	Predict []Features
	// Probabilities asks for every class's probability in those predictions (Prediction.Probs).
	Probabilities bool
	// Balanced weights each training row's loss by its class's inverse frequency, N/(C·n_c) for
	// n_c of the N rows in class c and C classes present (scikit-learn's
	// class_weight="balanced"), the weighted losses of a batch divided by the sum of their
	// weights (PyTorch's CrossEntropyLoss(weight=...)): every class counts as much, whatever its
	// number of images, for the balanced accuracy on imbalanced classes.
	Balanced bool
}

// ClassWeights are the weights ProbeConfig.Balanced gives each class of labels (with classes
// classes): N/(C·n_c), n_c the rows of class c, N the labelled rows, C the classes with rows; 0
// for a class without rows. Rows of unknown label (-1) are not counted.
func ClassWeights(labels []int32, classes int) []float32 {
	count := make([]int, classes)
	for _, l := range labels {
		if l >= 0 {
			count[l]++
		}
	}
	return ClassWeightsOf(count)
}

// ClassWeightsOf are ClassWeights of labels that count[c] rows have for each class c.
func ClassWeightsOf(count []int) []float32 {
	n, present := 0, 0
	for _, k := range count {
		if k > 0 {
			n += k
			present++
		}
	}
	w := make([]float32, len(count))
	for c, k := range count {
		if k > 0 {
			w[c] = float32(float64(n) / float64(present*k))
		}
	}
	return w
}

// probeLoss is the probe's loss on a batch: the mean cross-entropy of logits [batch, classes]
// against labels [batch], or with weights [batch] (nil: none) the weighted mean, the weights
// normalised to sum to the batch size.
func probeLoss(logits, labels, weights *Node) *Node {
	extra := []*Node{InsertAxes(labels, -1)}
	if weights != nil {
		extra = append(extra, MulScalar(Div(weights, ReduceAllSum(weights)), float64(weights.Shape().Dimensions[0])))
	}
	return losses.SparseCategoricalCrossEntropyLogits(extra, []*Node{logits})
}

func (c ProbeConfig) withDefaults() ProbeConfig {
	if c.Epochs == 0 {
		c.Epochs = 30
	}
	if c.BatchSize == 0 {
		c.BatchSize = 1024
	}
	if c.LR == 0 {
		c.LR = 1e-2
	}
	return c
}

// ProbeResult is the accuracy of the linear probe on its training and test features, its
// balanced accuracy on the test features (Balanced) and its top-5 accuracy there (TestTop5: -1 with
// 5 classes or fewer), the class it predicts for each test row, and its predictions of each of
// ProbeConfig.Predict's feature sets.
type ProbeResult struct {
	TrainAccuracy, TestAccuracy float64
	TestBalanced, TestTop5      float64
	TestPred                    []int32
	Predictions                 []Prediction
}

// Prediction is a classifier's prediction for each row of a feature set: the class of highest
// score (the lowest among ties), and the probability the classifier gives it (the softmax of its
// scores).
type Prediction struct {
	Class []int32
	Prob  []float32
	// Probs is every class's probability for each row (the softmax of its scores), row-major
	// [rows, classes], where asked for (ProbeConfig.Probabilities; Predict); nil otherwise.
	Probs []float32
}

// Rows returns the predictions of the given rows (a copy), with their classes' probabilities
// when p has them, whose rows hold classes values each.
func (p Prediction) Rows(rows []int, classes int) Prediction {
	out := Prediction{Class: make([]int32, len(rows)), Prob: make([]float32, len(rows))}
	if p.Probs != nil {
		out.Probs = make([]float32, 0, len(rows)*classes)
	}
	for j, r := range rows {
		out.Class[j], out.Prob[j] = p.Class[r], p.Prob[r]
		if p.Probs != nil {
			out.Probs = append(out.Probs, p.Probs[r*classes:(r+1)*classes]...)
		}
	}
	return out
}

// LinearProbe trains a linear classifier on train and reports its accuracy on train and test.
// Features are standardised with the training mean and deviation first (an affine map, so the
// probe stays linear in the representation).
func LinearProbe(b backends.Backend, train, test Features, cfg ProbeConfig) (ProbeResult, error) {
	cfg = cfg.withDefaults()
	if err := train.Validate("probe training"); err != nil {
		return ProbeResult{}, err
	}
	if err := test.Validate("probe test"); err != nil {
		return ProbeResult{}, err
	}
	if err := train.labeled("linear probe", "training"); err != nil {
		return ProbeResult{}, err
	}
	if err := test.labeled("linear probe", "test"); err != nil {
		return ProbeResult{}, err
	}
	if train.D != test.D {
		return ProbeResult{}, fmt.Errorf("linear probe: training features have dimension %d, test features %d", train.D, test.D)
	}
	for i, p := range cfg.Predict {
		if err := p.Validate("probe prediction"); err != nil {
			return ProbeResult{}, err
		}
		if p.D != train.D {
			return ProbeResult{}, fmt.Errorf("linear probe: training features have dimension %d, the features to predict (set %d) %d", train.D, i, p.D)
		}
	}
	if cfg.Epochs < 0 || cfg.BatchSize < 0 || cfg.LR < 0 {
		return ProbeResult{}, fmt.Errorf("linear probe: epochs, batch size and learning rate must be positive, got %+v", cfg)
	}
	classes := max(train.NumClasses, test.NumClasses)
	std := fitStandardizer(train)
	train, test = std.apply(train), std.apply(test)
	batch := min(cfg.BatchSize, train.N)
	d := train.D

	ctx := context.New()
	logits := func(ctx *context.Context, x *Node) *Node {
		ctx = ctx.In("probe").WithInitializer(initializers.Zero)
		w := ctx.VariableWithShape("weights", shapes.Make(dtypes.Float32, d, classes)).ValueGraph(x.Graph())
		bias := ctx.VariableWithShape("biases", shapes.Make(dtypes.Float32, classes)).ValueGraph(x.Graph())
		return Add(linalg.MatMul(x, w), InsertAxes(bias, 0))
	}
	opt, err := optim.New(optim.Config{Kind: "adamw", WeightDecay: cfg.WeightDecay, Schedule: optim.Constant(cfg.LR)})
	if err != nil {
		return ProbeResult{}, fmt.Errorf("linear probe: %w", err)
	}
	step, err := context.NewExec(b, ctx, func(ctx *context.Context, inputs []*Node) *Node {
		var weights *Node
		if cfg.Balanced {
			weights = inputs[2]
		}
		loss := probeLoss(logits(ctx, inputs[0]), inputs[1], weights)
		opt.UpdateGraph(ctx, inputs[0].Graph(), loss)
		return loss
	})
	if err != nil {
		return ProbeResult{}, fmt.Errorf("linear probe: building the training step: %w", err)
	}
	defer step.Finalize()

	rng := rand.New(rand.NewPCG(cfg.Seed, 0x9e3779b97f4a7c15))
	xb := make([]float32, batch*d)
	yb := make([]int32, batch)
	var classWeight, wb []float32
	if cfg.Balanced {
		classWeight, wb = ClassWeights(train.Labels, classes), make([]float32, batch)
	}
	for epoch := range cfg.Epochs {
		if cfg.Progress != nil && epoch > 0 {
			cfg.Progress(epoch, cfg.Epochs)
		}
		perm := rng.Perm(train.N)
		for start := 0; start+batch <= train.N; start += batch {
			for i, r := range perm[start : start+batch] {
				copy(xb[i*d:(i+1)*d], train.Row(r))
				yb[i] = train.Labels[r]
				if wb != nil {
					wb[i] = classWeight[yb[i]]
				}
			}
			inputs := []any{tensors.FromFlatDataAndDimensions(xb, batch, d), yb}
			if wb != nil {
				inputs = append(inputs, wb)
			}
			if _, err := step.Exec(inputs...); err != nil {
				return ProbeResult{}, fmt.Errorf("linear probe: training step: %w", err)
			}
		}
	}

	if cfg.Progress != nil {
		cfg.Progress(cfg.Epochs, cfg.Epochs)
	}
	// Each row's class (Top1 ranks ties as ArgMax would: the lower class first) and, for the test
	// rows with more than 5 classes, the top-5 hits, from one pass of each batch's logits.
	scores, err := context.NewExec(b, ctx.Reuse(), func(ctx *context.Context, x *Node) *Node { return logits(ctx, x) })
	if err != nil {
		return ProbeResult{}, fmt.Errorf("linear probe: building the scores: %w", err)
	}
	defer scores.Finalize()
	predictRows := func(f Features, topK int) (pred []int32, hits int, err error) {
		pred = make([]int32, 0, f.N)
		var rankErr error // a NaN score
		err = inBatches(scores, f, batch, func(r []*tensors.Tensor, n int) {
			l, done := tensors.MustCopyFlatData[float32](r[0])[:n*classes], len(pred)
			pred = append(pred, Top1(l, classes)...)
			if topK > 0 {
				h, _, herr := topKHits(l, f.Labels[done:done+n], classes, topK)
				hits, rankErr = hits+h, cmp.Or(rankErr, herr)
			}
		})
		return pred, hits, cmp.Or(err, rankErr)
	}
	trainPred, _, err := predictRows(train, 0)
	if err != nil {
		return ProbeResult{}, fmt.Errorf("linear probe: prediction: %w", err)
	}
	topK := 0
	if classes > 5 {
		topK = 5
	}
	testPred, top5, err := predictRows(test, topK)
	if err != nil {
		return ProbeResult{}, fmt.Errorf("linear probe: prediction: %w", err)
	}
	res := ProbeResult{TrainAccuracy: hitRate(trainPred, train.Labels), TestAccuracy: hitRate(testPred, test.Labels),
		TestBalanced: Balanced(testPred, test.Labels, classes), TestTop5: -1, TestPred: testPred}
	if topK > 0 {
		res.TestTop5 = float64(top5) / float64(test.N)
	}
	if len(cfg.Predict) == 0 {
		return res, nil
	}
	// The class as ArgMax chooses it (as Top1 above: the lower class among ties), and its softmax
	// probability: the highest, softmax being monotonic.
	classify, err := context.NewExec(b, ctx.Reuse(), func(ctx *context.Context, x *Node) []*Node {
		l := logits(ctx, x)
		p := Softmax(l, -1)
		out := []*Node{ArgMax(l, -1, dtypes.Int32), ReduceMax(p, -1)}
		if cfg.Probabilities {
			out = append(out, p)
		}
		return out
	})
	if err != nil {
		return ProbeResult{}, fmt.Errorf("linear probe: building the classification: %w", err)
	}
	defer classify.Finalize()
	for _, p := range cfg.Predict {
		var out Prediction
		err := inBatches(classify, std.apply(p), batch, func(r []*tensors.Tensor, n int) {
			out.Class = append(out.Class, tensors.MustCopyFlatData[int32](r[0])[:n]...)
			out.Prob = append(out.Prob, tensors.MustCopyFlatData[float32](r[1])[:n]...)
			if cfg.Probabilities {
				out.Probs = append(out.Probs, tensors.MustCopyFlatData[float32](r[2])[:n*classes]...)
			}
		})
		if err != nil {
			return ProbeResult{}, fmt.Errorf("linear probe: classification: %w", err)
		}
		res.Predictions = append(res.Predictions, out)
	}
	return res, nil
}

// inBatches runs exec over the rows of f in chunks of size batch (the last chunk padded with
// zeros, so that one shape is ever compiled) and hands each chunk's outputs to fn with the
// number of its rows that are f's.
func inBatches(exec *context.Exec, f Features, batch int, fn func(outputs []*tensors.Tensor, n int)) error {
	buf := make([]float32, batch*f.D)
	for start := 0; start < f.N; start += batch {
		n := min(batch, f.N-start)
		clear(buf)
		copy(buf, f.X[start*f.D:(start+n)*f.D])
		out, err := exec.Exec(tensors.FromFlatDataAndDimensions(buf, batch, f.D))
		if err != nil {
			return err
		}
		fn(out, n)
	}
	return nil
}
