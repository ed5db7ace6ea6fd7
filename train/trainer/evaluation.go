package trainer

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/charmbracelet/log"
	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/ml/context"

	"github.com/gomlx-ssl/vicreg/datasets"
	"github.com/gomlx-ssl/vicreg/embedmap"
	"github.com/gomlx-ssl/vicreg/encoder"
	"github.com/gomlx-ssl/vicreg/eval"
	"github.com/gomlx-ssl/vicreg/internal/progress"
	"github.com/gomlx-ssl/vicreg/results"
	"github.com/gomlx-ssl/vicreg/train/config"
)

// evaluator measures the encoder during and after training: the online probe's accuracy at each
// epoch end (and a kNN accuracy every EvalEvery epochs), and at the end the offline linear probe,
// kNN and the baselines.
type evaluator struct {
	b      backends.Backend
	ctx    *context.Context
	cfg    config.Config
	net    *Network
	data   *data
	logger *log.Logger
	opts   Options
	enc    *encoder.Encoder // over the training context, built on first use
	began  time.Time
}

// embed embeds ds with enc, showing the progress as the phase name (final evaluation only: the
// per-epoch evaluation is short and would interleave with the training bar).
func (e *evaluator) embed(enc *encoder.Encoder, ds datasets.Data, name string) (eval.Features, error) {
	opt := encoder.EmbedOptions{BatchSize: e.batch(), Size: e.data.size, SkipBadImages: e.cfg.SkipBadImages}
	if name != "" {
		bar := e.bar(name, int64(ds.Info().Len), "images")
		defer bar.Finish()
		opt.Progress = func(done, _ int) { bar.Set(int64(done), "") }
	}
	return enc.EmbedDataset(ds, opt)
}

func (e *evaluator) bar(name string, total int64, unit string) *progress.Bar {
	return progress.New(name, total, 0, progress.Options{Writer: e.opts.Progress, Logger: e.logger, Quiet: e.opts.NoProgressBar, Unit: unit})
}

func (e *evaluator) close() {
	if e.enc != nil {
		e.enc.Close()
	}
}

func (e *evaluator) batch() int { return max(e.cfg.BatchSize, 256) }

// encoder returns the encoder over the training context (its weights of the moment).
func (e *evaluator) encoder() (*encoder.Encoder, error) {
	if e.enc == nil {
		var err error
		if e.enc, err = encoder.New(e.b, e.ctx, e.cfg); err != nil {
			return nil, err
		}
	}
	return e.enc, nil
}

// endOfEpoch is the Loop's evaluation hook.
func (e *evaluator) endOfEpoch(batchesPerEpoch int64) func(step int64, epochs float64, last bool) (map[string]float64, error) {
	e.began = time.Now()
	return func(step int64, epochs float64, last bool) (map[string]float64, error) {
		if e.data.eval == nil {
			return nil, nil
		}
		enc, err := e.encoder()
		if err != nil {
			return nil, err
		}
		evalF, err := e.embed(enc, e.data.eval, "")
		if err != nil {
			return nil, err
		}
		acc, err := onlineProbeAccuracy(e.ctx, evalF)
		if err != nil {
			return nil, err
		}
		out := map[string]float64{results.KeyProbeAcc: acc}
		withKNN := e.cfg.EvalEvery > 0 && step%batchesPerEpoch == 0 && int(step/batchesPerEpoch)%e.cfg.EvalEvery == 0 && !last
		if withKNN {
			trainF, err := e.embed(enc, e.data.train, "")
			if err != nil {
				return nil, err
			}
			if out[results.KeyKNNAcc], err = eval.KNN(e.b, trainF, evalF, eval.KNNConfig{K: e.cfg.KNNK, Temperature: e.cfg.KNNTemperature}); err != nil {
				return nil, err
			}
			e.logger.Info("kNN", "epochs", fmt.Sprintf("%.2f", epochs), "knn_acc", fmt.Sprintf("%.4f", out[results.KeyKNNAcc]))
		}
		e.logger.Info("evaluated", "epochs", fmt.Sprintf("%.2f", epochs), "step", step, "online_probe_acc", fmt.Sprintf("%.4f", acc),
			"elapsed", time.Since(e.began).Round(time.Second))
		return out, nil
	}
}

// onlineProbeAccuracy is the accuracy of the online linear probe (its weights in ctx's probe
// scope) on features, computed on the host.
func onlineProbeAccuracy(ctx *context.Context, f eval.Features) (float64, error) {
	scope := ctx.In(config.ProbeScope).Scope()
	read := func(name string) ([]float32, error) {
		v := ctx.GetVariableByScopeAndName(scope, name)
		if v == nil {
			return nil, fmt.Errorf("the online probe has no variable %s/%s", scope, name)
		}
		t, err := v.Value()
		if err != nil {
			return nil, err
		}
		return tensors.CopyFlatData[float32](t)
	}
	w, err := read("weights")
	if err != nil {
		return 0, err
	}
	bias, err := read("biases")
	if err != nil {
		return 0, err
	}
	classes := len(bias)
	if len(w) != f.D*classes {
		return 0, fmt.Errorf("the online probe has %d weights for %d-dimensional features and %d classes", len(w), f.D, classes)
	}
	return eval.Accuracy(f, func(x []float32, logits []float64) {
		for c := range classes {
			s := float64(bias[c])
			for j, v := range x {
				s += float64(v) * float64(w[j*classes+c])
			}
			logits[c] = s
		}
	}, classes)
}

// final runs the offline linear probe and kNN on the frozen encoder (with all the training labels
// and with each LowLabel fraction of them), and the baselines.
func (e *evaluator) final(res *results.Pretrain) error {
	enc, err := e.encoder()
	if err != nil {
		return err
	}
	probeCfg := finalProbe(e.cfg)
	e.logger.Info("evaluating the frozen encoder", "train_images", e.data.train.Info().Len, "eval_images", e.data.eval.Info().Len, "split", e.data.eval.Info().Split)
	if err := e.stopped("embedding"); err != nil {
		return err
	}
	trainF, evalF, err := e.features(enc, "pretrained encoder")
	if err != nil {
		return err
	}
	if err := e.stopped("probe and kNN"); err != nil {
		return err
	}
	lin, knn, err := e.probeAndKNN(trainF, evalF, probeCfg, "pretrained encoder")
	if err != nil {
		return err
	}
	res.Linear, res.KNN = results.Acc(lin.TestAccuracy), results.Acc(knn.Accuracy)
	res.ClassWeight = e.cfg.ProbeClassWeight
	res.LinearBalanced, res.KNNBalanced = results.Acc(lin.TestBalanced), results.Acc(knn.Balanced)
	if lin.TestTop5 >= 0 && knn.Top5 >= 0 { // more than 5 classes
		res.LinearTop5, res.KNNTop5 = results.Acc(lin.TestTop5), results.Acc(knn.Top5)
	}
	if class, acc := eval.Majority(trainF, evalF); class >= 0 {
		res.Majority, res.MajorityClass = results.Acc(acc), e.data.train.Info().ClassName(class)
	}
	res.Confusion = NewConfusion(e.data.train.Info(), eval.ConfusionMatrix(lin.TestPred, evalF.Labels, max(trainF.NumClasses, evalF.NumClasses)))
	res.EvalImages = evalF.N // the images scored: without those left out as bad (-skip-bad-images)
	if e.cfg.MapPoints > 0 {
		if err := e.stopped("map"); err != nil {
			return err
		}
		// A map that cannot be drawn costs the run nothing else.
		if res.Map, err = e.drawMap(evalF); err != nil {
			e.logger.Warn("could not draw the map of the embeddings", "err", err)
		}
	}
	for _, p := range e.cfg.LowLabel {
		if err := e.stopped(fmt.Sprintf("%g%% of the labels", p)); err != nil {
			return err
		}
		idx, err := datasets.LabelFraction(trainF.Labels, trainF.NumClasses, p, e.cfg.Seed)
		if err != nil {
			return err
		}
		lin, knn, err := e.probeAndKNN(trainF.Rows(idx), evalF, probeCfg, fmt.Sprintf("pretrained encoder, %g%% of the labels", p))
		if err != nil {
			return err
		}
		res.LowLabel = append(res.LowLabel, results.LowLabel{Percent: p, Images: len(idx), Linear: lin.TestAccuracy, KNN: knn.Accuracy,
			LinearBalanced: results.Acc(lin.TestBalanced), KNNBalanced: results.Acc(knn.Balanced)})
	}
	if !e.cfg.Baselines {
		return nil
	}
	if err := e.stopped("raw pixels"); err != nil {
		return err
	}
	pixTrain, err := eval.Pixels(e.data.train, e.data.size, e.cfg.SkipBadImages)
	if err != nil {
		return err
	}
	pixEval, err := eval.Pixels(e.data.eval, e.data.size, e.cfg.SkipBadImages)
	if err != nil {
		return err
	}
	pbar := e.bar("linear probe (raw pixels)", int64(probeCfg.Epochs), "epochs")
	pixCfg := probeCfg
	pixCfg.Progress = func(done, _ int) { pbar.Set(int64(done), "") }
	pix, err := eval.LinearProbe(e.b, pixTrain, pixEval, pixCfg)
	pbar.Finish()
	if err != nil {
		return err
	}
	res.PixelLinear, res.PixelLinearBalanced = results.Acc(pix.TestAccuracy), results.Acc(pix.TestBalanced)
	if err := e.stopped("random encoder"); err != nil {
		return err
	}
	random, err := encoder.Random(e.b, e.cfg)
	if err != nil {
		return err
	}
	defer random.Close()
	if trainF, evalF, err = e.features(random, "random encoder"); err != nil {
		return err
	}
	randomLin, _, err := e.probeAndKNN(trainF, evalF, probeCfg, "random encoder")
	if err != nil {
		return err
	}
	res.RandomLinear, res.RandomLinearBalanced = results.Acc(randomLin.TestAccuracy), results.Acc(randomLin.TestBalanced)
	return nil
}

// finalProbe is the configuration of the final evaluation's linear probes (the pretrained
// encoder's, with each label fraction, and the baselines').
func finalProbe(cfg config.Config) eval.ProbeConfig {
	return eval.ProbeConfig{Epochs: cfg.ProbeEpochs, Seed: cfg.Seed, Balanced: cfg.ProbeClassWeight == "balanced"}
}

// minMapImages is the fewest held-out images the final evaluation draws a map of.
const minMapImages = 10

// drawMap draws the t-SNE map of at most MapPoints of the embeddings evalF (chosen by Seed) to
// the run's MapFile and its PNG, their coordinates beside them, and returns its record, the files
// relative to the run's folder; nil, with a log line, for fewer than minMapImages images. The
// perplexity is scikit-learn's 30, or a third of the images less one where they are fewer than 91.
func (e *evaluator) drawMap(evalF eval.Features) (*results.EmbeddingMap, error) {
	n := min(evalF.N, e.cfg.MapPoints)
	if n < minMapImages {
		e.logger.Info("no map of the embeddings: too few held-out images", "images", n, "least", minMapImages)
		return nil, nil
	}
	info := e.data.train.Info()
	dir := e.cfg.CheckpointDir
	o := embedmap.DrawOptions{Figures: []string{filepath.Join(dir, MapFile), filepath.Join(dir, strings.TrimSuffix(MapFile, ".svg")+".png")},
		Method: embedmap.MethodTSNE, Points: e.cfg.MapPoints, Seed: e.cfg.Seed, Perplexity: min(30, float64(n-1)/3),
		Root: datasets.DataDirOf(e.cfg.Dataset, e.cfg.DataDir), Classes: info.Names(max(info.NumClasses, evalF.NumClasses)), Split: e.data.eval.Info().Split}
	bars := progress.NewPhases(func(phase string, total int64) *progress.Bar {
		name, unit := embedmap.Phase(phase, fmt.Sprintf("t-SNE of %d %s images", n, o.Split))
		return e.bar(name, total, unit)
	})
	o.Progress = bars.Set
	r, err := embedmap.Draw(e.b, evalF, o)
	bars.Finish()
	if err != nil {
		return nil, err
	}
	r.Figure, r.Coordinates = MapFile, filepath.Base(r.Coordinates)
	return r, nil
}

// errEvaluationStopped is final's error when a signal (Options.Stop) arrives during it: the
// trained checkpoint is saved, and -resume evaluates it again.
var errEvaluationStopped = errors.New("the final evaluation was stopped by a signal")

// stopped returns errEvaluationStopped once Options.Stop is set; the evaluation checks it before
// each of its phases (embedding, probe and kNN, each label fraction, each baseline), and what the
// phases before measured is kept.
func (e *evaluator) stopped(phase string) error {
	if e.opts.beforePhase != nil {
		e.opts.beforePhase(phase)
	}
	if e.opts.Stop != nil && e.opts.Stop.Load() {
		return errEvaluationStopped
	}
	return nil
}

// features embeds the training and evaluation images.
func (e *evaluator) features(enc *encoder.Encoder, what string) (train, evalF eval.Features, err error) {
	if train, err = e.embed(enc, e.data.train, "embedding the training images ("+what+")"); err != nil {
		return
	}
	evalF, err = e.embed(enc, e.data.eval, "embedding the "+e.data.eval.Info().Split+" images ("+what+")")
	return
}

func (e *evaluator) probeAndKNN(trainF, evalF eval.Features, probeCfg eval.ProbeConfig, what string) (eval.ProbeResult, eval.KNNResult, error) {
	pbar := e.bar("linear probe ("+what+")", int64(probeCfg.Epochs), "epochs")
	probeCfg.Progress = func(done, _ int) { pbar.Set(int64(done), "") }
	lin, err := eval.LinearProbe(e.b, trainF, evalF, probeCfg)
	pbar.Finish()
	if err != nil {
		return lin, eval.KNNResult{}, err
	}
	bar := e.bar("kNN ("+what+")", int64(evalF.N), "images")
	defer bar.Finish()
	knn, err := eval.KNNScores(e.b, trainF, evalF, eval.KNNConfig{K: e.cfg.KNNK, Temperature: e.cfg.KNNTemperature,
		Progress: func(done, _ int) { bar.Set(int64(done), "") }})
	return lin, knn, err
}
