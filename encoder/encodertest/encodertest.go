// Package encodertest writes the checkpoints of tiny runs for the tests of the commands that read
// them (evaluate, analyze), without training: a randomly initialised encoder stored the way the
// trainer stores one.
package encodertest

import (
	"testing"

	. "github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/ml/context"

	"github.com/gomlx-ssl/vicreg/backend/backendtest"
	"github.com/gomlx-ssl/vicreg/checkpoints"
	"github.com/gomlx-ssl/vicreg/models"
	"github.com/gomlx-ssl/vicreg/train/config"
)

// TinyModel is the encoder of the tiny runs: ResNet-18 of width 2 with the CIFAR stem, on 3
// channels.
var TinyModel = models.Config{Arch: "resnet18", Stem: "cifar", Width: 2, InChannels: 3}

// WriteTinyRuns writes one run folder per edit, each holding a checkpoint at every one of steps,
// and returns the folders. Every checkpoint holds the same variables: the TinyModel encoder
// initialised from seed 7, under /encoder as the trainer stores them. The stored configuration is
// config.Default() on the synthetic set with the solo-cifar augmentation, seed 7 and TinyModel,
// changed by the run's edit (the variables stay TinyModel's whatever the edit says: enough for
// checks that read the configuration first).
func WriteTinyRuns(t testing.TB, steps []int64, edits ...func(*config.Config)) []string {
	t.Helper()
	b := backendtest.XLA(t)
	ctx := context.New()
	if err := ctx.SetRNGStateFromSeed(7); err != nil {
		t.Fatal(err)
	}
	exec, err := context.NewExec(b, ctx, func(ctx *context.Context, x *Node) *Node {
		ctx.SetTraining(x.Graph(), false)
		return models.Encoder(ctx.In("encoder"), TinyModel, x)
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := exec.Exec(tensors.FromShape(tensors.FromFlatDataAndDimensions(make([]float32, 16*16*3), 1, 16, 16, 3).Shape())); err != nil {
		t.Fatal(err)
	}
	vars, err := checkpoints.FromContext(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var dirs []string
	for _, edit := range edits {
		run := config.Default()
		run.Dataset, run.Augment, run.Seed, run.Model = "synthetic", "solo-cifar", 7, TinyModel
		edit(&run)
		dir := t.TempDir()
		m, err := checkpoints.NewManager(dir, 5, "")
		if err != nil {
			t.Fatal(err)
		}
		for _, step := range steps {
			if _, err := m.Save(&checkpoints.State{Step: step, Config: run.JSON(), Variables: vars}); err != nil {
				t.Fatal(err)
			}
		}
		dirs = append(dirs, dir)
	}
	return dirs
}
