package eval

import (
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
// balanced accuracy on the test features (Balanced), and the class it predicts for each test row.
type ProbeResult struct {
	TrainAccuracy, TestAccuracy float64
	TestBalanced                float64
	TestPred                    []int32
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
	step, err := context.NewExec(b, ctx, func(ctx *context.Context, x, labels *Node) *Node {
		loss := losses.SparseCategoricalCrossEntropyLogits([]*Node{InsertAxes(labels, -1)}, []*Node{logits(ctx, x)})
		opt.UpdateGraph(ctx, x.Graph(), loss)
		return loss
	})
	if err != nil {
		return ProbeResult{}, fmt.Errorf("linear probe: building the training step: %w", err)
	}
	defer step.Finalize()

	rng := rand.New(rand.NewPCG(cfg.Seed, 0x9e3779b97f4a7c15))
	xb := make([]float32, batch*d)
	yb := make([]int32, batch)
	for epoch := range cfg.Epochs {
		if cfg.Progress != nil && epoch > 0 {
			cfg.Progress(epoch, cfg.Epochs)
		}
		perm := rng.Perm(train.N)
		for start := 0; start+batch <= train.N; start += batch {
			for i, r := range perm[start : start+batch] {
				copy(xb[i*d:(i+1)*d], train.Row(r))
				yb[i] = train.Labels[r]
			}
			if _, err := step.Exec(tensors.FromFlatDataAndDimensions(xb, batch, d), yb); err != nil {
				return ProbeResult{}, fmt.Errorf("linear probe: training step: %w", err)
			}
		}
	}

	if cfg.Progress != nil {
		cfg.Progress(cfg.Epochs, cfg.Epochs)
	}
	predict, err := context.NewExec(b, ctx.Reuse(), func(ctx *context.Context, x *Node) *Node {
		return ArgMax(logits(ctx, x), -1, dtypes.Int32)
	})
	if err != nil {
		return ProbeResult{}, fmt.Errorf("linear probe: building the prediction: %w", err)
	}
	defer predict.Finalize()
	trainPred, err := predictions(predict, train, batch)
	if err != nil {
		return ProbeResult{}, err
	}
	testPred, err := predictions(predict, test, batch)
	if err != nil {
		return ProbeResult{}, err
	}
	return ProbeResult{TrainAccuracy: hitRate(trainPred, train.Labels), TestAccuracy: hitRate(testPred, test.Labels),
		TestBalanced: Balanced(testPred, test.Labels, classes), TestPred: testPred}, nil
}

// predictions runs predict over f in chunks of size batch (the last chunk padded, so that only two
// shapes are ever compiled) and returns the class predicted for each row.
func predictions(predict *context.Exec, f Features, batch int) ([]int32, error) {
	out := make([]int32, 0, f.N)
	buf := make([]float32, batch*f.D)
	for start := 0; start < f.N; start += batch {
		n := min(batch, f.N-start)
		clear(buf)
		copy(buf, f.X[start*f.D:(start+n)*f.D])
		res, err := predict.Exec(tensors.FromFlatDataAndDimensions(buf, batch, f.D))
		if err != nil {
			return nil, fmt.Errorf("linear probe: prediction: %w", err)
		}
		out = append(out, tensors.MustCopyFlatData[int32](res[0])[:n]...)
	}
	return out, nil
}
