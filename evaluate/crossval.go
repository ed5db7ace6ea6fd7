package main

import (
	"fmt"
	"io"
	"strings"

	"github.com/charmbracelet/log"
	"github.com/gomlx/gomlx/backends"
	"gonum.org/v1/gonum/stat"

	"github.com/gomlx-ssl/vicreg/datasets"
	"github.com/gomlx-ssl/vicreg/eval"
	"github.com/gomlx-ssl/vicreg/internal/progress"
	"github.com/gomlx-ssl/vicreg/results"
	"github.com/gomlx-ssl/vicreg/train/config"
)

// crossValidate runs k-fold cross-validation (-folds k) of the linear probe and kNN on x, the
// training split's features: the labelled images are dealt to k stratified folds
// (datasets.Folds), and each fold in turn is scored by the probe and kNN trained on the others.
// It prints each fold's accuracies and their mean and standard deviation, and records them in res.
// Every labelled image is predicted once, by the probe and kNN of the fold that holds it out:
// -per-class reports these out-of-fold predictions' recall of each class (classes names them),
// and -predictions writes the probe's, with each image's fold (scikit-learn's cross_val_predict,
// a Kaggle OOF file).
func crossValidate(b backends.Backend, x eval.Features, root string, classes datasets.Info, f *flags, stdout io.Writer, logger *log.Logger, res *results.Evaluate) error {
	_, names := x.Names(root) // relative to the data folder: a copy of it gets the same folds
	fold, err := datasets.Folds(x.Labels, x.NumClasses, names, f.folds)
	if err != nil {
		return config.Errorf("folds", "%v", err)
	}
	smallest := x.N
	for i := range f.folds {
		n := 0
		for _, fo := range fold {
			if fo >= 0 && fo != i {
				n++
			}
		}
		smallest = min(smallest, n)
	}
	knnK, err := f.knnNeighbours(smallest, fmt.Sprintf(" of the smallest training fold (%d folds)", f.folds))
	if err != nil {
		return err
	}
	n := x.N - countUnlabelled(fold)
	fmt.Fprintf(stdout, "%d-fold cross-validation on the %d labelled training images (folds stratified by class, chosen by path):\n", f.folds, n)
	cv := &results.CrossValidation{}
	var probe, probeBal, knn, knnBal, probeTop5, knnTop5 []float64
	// The out-of-fold predictions of each row (of the rows in a fold).
	oof := eval.Prediction{Class: make([]int32, x.N), Prob: make([]float32, x.N)}
	if f.classProbabilities {
		oof.Probs = make([]float32, x.N*x.NumClasses)
	}
	knnOOF := make([]int32, x.N)
	bar := progress.New("cross-validation", int64(f.folds), 0, progress.Options{Logger: logger, Unit: "folds"})
	for i := range f.folds {
		var trainIdx, testIdx []int
		for r, fo := range fold {
			switch {
			case fo == i:
				testIdx = append(testIdx, r)
			case fo >= 0:
				trainIdx = append(trainIdx, r)
			}
		}
		train, test := x.Rows(trainIdx), x.Rows(testIdx)
		rf := results.Fold{TestImages: len(testIdx)}
		var parts []string
		if f.probeEpochs > 0 {
			cfg := f.probeConfig()
			cfg.Predict, cfg.Probabilities = []eval.Features{test}, f.classProbabilities
			pr, err := eval.LinearProbe(b, train, test, cfg)
			if err != nil {
				bar.Finish()
				return err
			}
			for j, r := range testIdx {
				oof.Class[r], oof.Prob[r] = pr.Predictions[0].Class[j], pr.Predictions[0].Prob[j]
				if oof.Probs != nil {
					copy(oof.Probs[r*x.NumClasses:(r+1)*x.NumClasses], pr.Predictions[0].Probs[j*x.NumClasses:(j+1)*x.NumClasses])
				}
			}
			rf.LinearProbe, rf.LinearProbeBalanced = results.Acc(pr.TestAccuracy), results.Acc(pr.TestBalanced)
			probe, probeBal = append(probe, pr.TestAccuracy), append(probeBal, pr.TestBalanced)
			if pr.TestTop5 >= 0 {
				rf.LinearProbeTop5, probeTop5 = results.Acc(pr.TestTop5), append(probeTop5, pr.TestTop5)
			}
			parts = append(parts, fmt.Sprintf("%s %.2f%% (balanced %.2f%%%s)", f.probeName(), 100*pr.TestAccuracy, 100*pr.TestBalanced, top5(pr.TestTop5)))
		}
		if knnK > 0 {
			kr, err := eval.KNNScores(b, train, test, eval.KNNConfig{K: knnK, Temperature: f.knnT})
			if err != nil {
				bar.Finish()
				return err
			}
			for j, r := range testIdx {
				knnOOF[r] = kr.Pred[j]
			}
			rf.KNN, rf.KNNBalanced = results.Acc(kr.Accuracy), results.Acc(kr.Balanced)
			knn, knnBal = append(knn, kr.Accuracy), append(knnBal, kr.Balanced)
			if kr.Top5 >= 0 {
				rf.KNNTop5, knnTop5 = results.Acc(kr.Top5), append(knnTop5, kr.Top5)
			}
			parts = append(parts, fmt.Sprintf("kNN (k=%d) %.2f%% (balanced %.2f%%%s)", knnK, 100*kr.Accuracy, 100*kr.Balanced, top5(kr.Top5)))
		}
		cv.Folds = append(cv.Folds, rf)
		bar.Set(int64(i+1), "")
		fmt.Fprintf(stdout, "  fold %d (%d test images): %s\n", i+1, len(testIdx), strings.Join(parts, ", "))
	}
	bar.Finish()
	var summary []string
	if len(probe) > 0 {
		cv.LinearProbe, cv.LinearProbeBalanced = meanSD(probe), meanSD(probeBal)
		top := ""
		if len(probeTop5) == len(probe) {
			cv.LinearProbeTop5 = meanSD(probeTop5)
			top = ", top-5 " + percent(cv.LinearProbeTop5)
		}
		summary = append(summary, fmt.Sprintf("%s %s (balanced %s%s)", f.probeName(), percent(cv.LinearProbe), percent(cv.LinearProbeBalanced), top))
		res.ProbeEpochs, res.ClassWeight = f.probeEpochs, f.classWeight
	}
	if len(knn) > 0 {
		cv.KNN, cv.KNNBalanced = meanSD(knn), meanSD(knnBal)
		top := ""
		if len(knnTop5) == len(knn) {
			cv.KNNTop5 = meanSD(knnTop5)
			top = ", top-5 " + percent(cv.KNNTop5)
		}
		summary = append(summary, fmt.Sprintf("kNN %s (balanced %s%s)", percent(cv.KNN), percent(cv.KNNBalanced), top))
		res.KNNK, res.KNNT = knnK, f.knnT
	}
	fmt.Fprintf(stdout, "  mean ± sd over %d folds: %s\n", f.folds, strings.Join(summary, ", "))
	res.CrossValidation = cv
	res.TrainImages = &n
	if !f.perClass && f.predictions == "" && f.confusion == "" {
		return nil
	}
	// The out-of-fold predictions, in the rows' order.
	var rows, folds []int
	for r, fo := range fold {
		if fo >= 0 {
			rows, folds = append(rows, r), append(folds, fo+1)
		}
	}
	labelled := x.Rows(rows)
	p := oof.Rows(rows, x.NumClasses)
	var probePred, knnPred []int32
	if len(probe) > 0 {
		probePred = p.Class
	}
	if len(knn) > 0 {
		knnPred = make([]int32, len(rows))
		for j, r := range rows {
			knnPred[j] = knnOOF[r]
		}
	}
	if f.perClass {
		res.PerClass = perClass(stdout, "the labelled images, each predicted by the fold that held it out", classes, labelled, probePred, knnPred)
	}
	if f.confusion != "" {
		if res.Confusion, err = drawConfusion(stdout, f.confusion, "the labelled images, each predicted by the fold that held it out", classes, p.Class, labelled.Labels, max(classes.NumClasses, x.NumClasses)); err != nil {
			return err
		}
	}
	if f.predictions != "" {
		err := eval.WritePredictions(f.predictions, eval.Predictions{X: labelled, Root: root, Labels: classes, Classes: classes, P: p, Fold: folds,
			Probabilities: f.classProbabilities})
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "wrote the linear probe's out-of-fold predictions of %d images to %s\n", labelled.N, f.predictions)
		res.Predictions, res.PredictionsImages = f.predictions, &labelled.N
	}
	return nil
}

// countUnlabelled is the number of rows in no fold.
func countUnlabelled(fold []int) int {
	n := 0
	for _, f := range fold {
		if f < 0 {
			n++
		}
	}
	return n
}

// meanSD is the mean of v and its sample standard deviation (0 for one value).
func meanSD(v []float64) *results.MeanSD {
	m, sd := stat.MeanStdDev(v, nil)
	if len(v) < 2 {
		sd = 0
	}
	return &results.MeanSD{Mean: m, SD: sd}
}

// percent writes a mean and standard deviation of fractions as percentages.
func percent(m *results.MeanSD) string {
	return fmt.Sprintf("%.2f ± %.2f%%", 100*m.Mean, 100*m.SD)
}
