package checkpoints

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/pkg/core/dtypes"
	. "github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/ml/context"

	"github.com/gomlx-ssl/vicreg/models"
)

// EncoderScope is the scope of the encoder's variables in a training checkpoint.
const EncoderScope = "/encoder"

// EncoderConfig is the configuration stored in an exported encoder file: what is needed to
// rebuild the network, and the data set it was trained on (for normalisation statistics).
type EncoderConfig struct {
	Model   models.Config `json:"model"`
	Dataset string        `json:"dataset"`
}

// Encoder is a frozen, pretrained encoder loaded from a checkpoint, ready to embed images.
type Encoder struct {
	// Config describes the network; Dataset names the data it was trained on.
	Config  models.Config
	Dataset string

	backend backends.Backend
	ctx     *context.Context
	exec    *context.Exec
}

// LoadEncoder loads the encoder from path: a file written by the trainer's encoder export, a
// training checkpoint (its "/encoder" variables), or a folder of training checkpoints (the newest
// valid one). The encoder runs on backend b in evaluation mode (batch norm uses its running
// averages).
func LoadEncoder(b backends.Backend, path string) (*Encoder, error) {
	var state *State
	info, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("loading an encoder: %w", err)
	}
	if info.IsDir() {
		dir := path
		if state, path, err = (&Manager{Dir: dir}).LoadLatest(); err != nil {
			return nil, fmt.Errorf("loading an encoder from %s: %w", dir, err)
		}
	} else if state, err = Load(path); err != nil {
		return nil, err
	}
	var conf EncoderConfig
	if err := json.Unmarshal(state.Config, &conf); err != nil || conf.Model.Arch == "" {
		return nil, fmt.Errorf("loading an encoder from %s: the file has no model configuration (is it a VICReg checkpoint or exported encoder?)", path)
	}
	if err := conf.Model.Validate(); err != nil {
		return nil, fmt.Errorf("loading an encoder from %s: %w", path, err)
	}
	var vars []Variable
	inTraining := false
	for _, v := range state.Variables {
		if v.Scope == EncoderScope || strings.HasPrefix(v.Scope, EncoderScope+"/") {
			inTraining = true
		}
	}
	for _, v := range state.Variables {
		if inTraining {
			if !(v.Scope == EncoderScope || strings.HasPrefix(v.Scope, EncoderScope+"/")) {
				continue
			}
			v.Scope = strings.TrimPrefix(v.Scope, EncoderScope)
			if v.Scope == "" {
				v.Scope = "/"
			}
		}
		vars = append(vars, v)
	}
	ctx := context.New()
	if err := ToContext(ctx, vars); err != nil {
		return nil, fmt.Errorf("loading an encoder from %s: %w", path, err)
	}
	e := &Encoder{Config: conf.Model, Dataset: conf.Dataset, backend: b, ctx: ctx}
	e.exec, err = context.NewExec(b, ctx.Reuse(), func(ctx *context.Context, images *Node) *Node {
		ctx.SetTraining(images.Graph(), false)
		return models.Encoder(ctx, e.Config, images)
	})
	if err != nil {
		return nil, fmt.Errorf("loading an encoder from %s: %w", path, err)
	}
	return e, nil
}

// Dim is the size of the representation.
func (e *Encoder) Dim() int { return e.Config.FeatureDim() }

// Embed returns the representations [n, Dim()] (row-major) of n normalised NHWC float32 images of
// the given height and width. Each new batch size compiles the program once.
func (e *Encoder) Embed(images []float32, n, height, width int) ([]float32, error) {
	if want := n * height * width * e.Config.InChannels; len(images) != want {
		return nil, fmt.Errorf("embed: %d values for %d images of %dx%dx%d (want %d)", len(images), n, height, width, e.Config.InChannels, want)
	}
	out, err := e.exec.Exec(tensors.FromFlatDataAndDimensions(images, n, height, width, e.Config.InChannels))
	if err != nil {
		return nil, fmt.Errorf("embed: %w", err)
	}
	defer out[0].FinalizeAll()
	if out[0].DType() != dtypes.Float32 {
		return nil, fmt.Errorf("embed: unexpected output dtype %s", out[0].DType())
	}
	return tensors.MustCopyFlatData[float32](out[0]), nil
}

// Close frees the compiled program.
func (e *Encoder) Close() { e.exec.Finalize() }
