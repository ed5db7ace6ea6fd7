package results

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"slices"
)

// MetricsFileName is the name of the metrics file, beside a run's checkpoints (and its File),
// that go run ./train and go run ./evaluate -weights write (without -metrics).
const MetricsFileName = "metrics.jsonl"

// MetricsFile is a metrics file: it appends one JSON object per line; a resumed run appends to the same file.
// Each process also writes the lines to a TensorBoard event file of its own beside it (see
// EventsPrefix).
type MetricsFile struct {
	path   string
	f      *os.File
	w      *bufio.Writer
	had    bool // the file held lines when it was opened
	events *eventsFile
}

// OpenMetrics opens (creating it if needed) the JSON-lines metrics file at path for appending.
// A last line cut short (a process that died while writing it: a full disk, a power cut) is
// removed first, so that the lines appended start on a line of their own; the steps it was about
// are trained again by the resumed run.
func OpenMetrics(path string) (*MetricsFile, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, fmt.Errorf("metrics file %s: %w", path, err)
	}
	if err := dropCutLine(path); err != nil {
		return nil, fmt.Errorf("metrics file %s: removing a last line cut short: %w", path, err)
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("metrics file %s: %w", path, err)
	}
	info, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("metrics file %s: %w", path, err)
	}
	events, err := createEvents(filepath.Dir(path))
	if err != nil {
		f.Close()
		return nil, err
	}
	return &MetricsFile{path: path, f: f, w: bufio.NewWriter(f), had: info.Size() > 0, events: events}, nil
}

// dropCutLine truncates the file at path after its last newline, when it does not end with one
// (nothing when it does not exist or is empty).
func dropCutLine(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return err
	}
	end := info.Size()
	buf := make([]byte, 64<<10)
	for off := end; off > 0; {
		n := min(off, int64(len(buf)))
		off -= n
		if _, err := f.ReadAt(buf[:n], off); err != nil {
			return err
		}
		if i := bytes.LastIndexByte(buf[:n], '\n'); i >= 0 {
			if keep := off + int64(i) + 1; keep != end {
				return f.Truncate(keep)
			}
			return nil
		}
	}
	if end > 0 {
		return f.Truncate(0) // a single line, cut short
	}
	return nil
}

// HadLines reports whether the file held lines when it was opened: those of an earlier process
// (a run resumed, or a first attempt that stopped before its first checkpoint).
func (m *MetricsFile) HadLines() bool { return m.had }

// Write appends one line; non-finite values are written as null. Lines are flushed at once, so a
// killed run loses nothing it reported.
func (m *MetricsFile) Write(values map[string]float64) error {
	line := make(map[string]any, len(values))
	for k, v := range values {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			line[k] = nil
		} else {
			line[k] = v
		}
	}
	data, _ := json.Marshal(line)
	m.w.Write(data)
	m.w.WriteByte('\n')
	if err := m.w.Flush(); err != nil {
		return fmt.Errorf("metrics file %s: %w", m.path, err)
	}
	return m.events.line(values)
}

// Close flushes and closes the file; closing twice is harmless.
func (m *MetricsFile) Close() error {
	if m.f == nil {
		return nil
	}
	err := m.w.Flush()
	if cerr := m.f.Close(); err == nil {
		err = cerr
	}
	if cerr := m.events.close(); err == nil {
		err = cerr
	}
	m.f = nil
	return err
}

// MetricPoint is one value of a metrics file, with the step and the epoch (NaN where its line
// has none, as a rollback's) of its line.
type MetricPoint struct {
	Step, Epoch, Value float64
}

// The keys of a metrics file's lines, besides the objective's terms (named as in package losses):
// Metrics says which lines hold each.
const (
	KeyStep             = "step"
	KeyEpoch            = "epoch"
	KeyLoss             = "loss"
	KeyLR               = "lr"
	KeyZStd             = "z_std"
	KeyProbeLoss        = "probe_loss"
	KeyProbeBatchAcc    = "probe_batch_acc"
	KeyBatchAcc         = "batch_acc"
	KeyLRHead           = "lr_head"
	KeyImagesPerSec     = "images_per_sec"
	KeyStepImagesPerSec = "step_images_per_sec"
	KeyBadImages        = "bad_images"
	KeyProbeAcc         = "probe_acc"
	KeyKNNAcc           = "knn_acc"
	KeyLinearAcc        = "linear_acc"
	KeyTop1             = "top1"
	KeyTop5             = "top5"
	KeyBalanced         = "balanced"
	KeyRollbackFromStep = "rollback_from_step"
)

// Keys lists every key of a metrics file but the objective's terms (and ResumedKey, which marks a
// line rather than a metric): a key of a file that is not among them is a term of the objective.
var Keys = []string{KeyStep, KeyEpoch, KeyLoss, KeyLR, KeyZStd, KeyProbeLoss, KeyProbeBatchAcc, KeyBatchAcc, KeyLRHead,
	KeyImagesPerSec, KeyStepImagesPerSec, KeyBadImages, KeyProbeAcc, KeyKNNAcc, KeyLinearAcc, KeyTop1, KeyTop5,
	KeyBalanced, KeyRollbackFromStep}

// Metrics are the values of a metrics file by key, each in the order of the file's lines;
// non-finite values (written as null) are left out. Every line has "step", and "epoch" but for a
// rollback's and a resume's; accuracies are fractions. The keys (the Key constants):
//
//   - training lines, the means over the -log-every window: "loss", the objective's terms by
//     name ("invariance", "variance", "covariance", ... unweighted), "lr", "z_std" and the online
//     probe's "probe_loss" and "probe_batch_acc" in pretraining; "loss", "batch_acc" and
//     "lr_head" in fine-tuning; "images_per_sec" (wall clock) and "step_images_per_sec" (compute
//     alone) in both; in pretraining with -skip-bad-images, "bad_images" (images replaced per
//     step, its mean);
//   - evaluation lines: "probe_acc" (online probe, each epoch) and "knn_acc" (-eval-every) in
//     pretraining, and the final evaluation's "linear_acc" and "knn_acc" at the last step;
//     "top1", "top5" (more than 5 classes) and "balanced" (top-1's balanced accuracy) after each
//     fine-tuning epoch;
//   - "rollback_from_step" (a rollback to the line's step) and ResumedKey (not a metric).
type Metrics map[string][]MetricPoint

// ResumedKey marks the line that a resumed run writes before its first step: {"step": S,
// "resumed": 1}, S the step of the checkpoint it resumed from (0 for a run started again over the
// lines of a first attempt that stopped before its first checkpoint). Lines written before it
// with a step after S come from a process that went on past its last checkpoint: the resumed run
// trains those steps again.
const ResumedKey = "resumed"

// ReadMetrics reads a JSON-lines metrics file (MetricsFile's); lines without a
// step are skipped. At a ResumedKey line at step S, the values read so far at steps after S are
// dropped: the run trained those steps again from S (the file keeps both). A value of a key at the
// step of its previous value replaces it (a finished run evaluated again writes its final line
// again); the values of steps trained again after a rollback are kept, as the rollback's line.
func ReadMetrics(path string) (Metrics, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("metrics file: %w", err)
	}
	defer f.Close()
	series := Metrics{}
	lastLine := map[string]int{} // the line of each key's last value
	rolledBack := 0              // the line of the last rollback
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for line := 1; sc.Scan(); line++ {
		var rec map[string]*float64
		if err := json.Unmarshal(sc.Bytes(), &rec); err != nil {
			return nil, fmt.Errorf("metrics file %s:%d: %w (want a JSON-lines metrics file, a run's %s: one object of numbers per line)", path, line, err, MetricsFileName)
		}
		step := rec[KeyStep]
		if step == nil {
			continue
		}
		if rec[ResumedKey] != nil {
			for k, pts := range series {
				series[k] = slices.DeleteFunc(pts, func(p MetricPoint) bool { return p.Step > *step })
			}
			continue
		}
		if rec[KeyRollbackFromStep] != nil {
			rolledBack = line
		}
		epoch := math.NaN()
		if e := rec[KeyEpoch]; e != nil {
			epoch = *e
		}
		for k, v := range rec {
			if k == KeyStep || k == KeyEpoch || v == nil {
				continue
			}
			pt := MetricPoint{Step: *step, Epoch: epoch, Value: *v}
			// A value at the step of the key's previous one replaces it: a finished run evaluated
			// again (-resume) writes its final line again. Not across a rollback, whose steps trained
			// again are kept beside the first values (also when the first value again is at the
			// step of the last before it); each rollback stays, even to one step.
			if pts := series[k]; k != KeyRollbackFromStep && len(pts) > 0 && pts[len(pts)-1].Step == *step && lastLine[k] > rolledBack {
				pts[len(pts)-1] = pt
				lastLine[k] = line
				continue
			}
			series[k] = append(series[k], pt)
			lastLine[k] = line
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("metrics file %s: %w", path, err)
	}
	return series, nil
}
