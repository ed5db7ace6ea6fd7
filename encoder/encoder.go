// Package encoder is the one way to use a pretrained encoder: it owns the encoder's scope in a
// training context, builds its graph in the run's precision, loads it from a training checkpoint,
// an exported encoder file or a run folder, exports it with torchvision's names, and embeds images
// or whole data sets. The trainer, evaluate, analyze and the examples all go through it.
//
//	enc, err := encoder.Load(backend, "runs/vicreg")   // a run folder, a checkpoint or an export
//	defer enc.Close()
//	z, err := enc.Embed(images, n, height, width)       // NHWC float32, normalised
package encoder

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/pkg/core/dtypes"
	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive // GoMLX's graph DSL reads best unqualified.
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/ml/context"

	"github.com/gomlx-ssl/vicreg/checkpoints"
	"github.com/gomlx-ssl/vicreg/checkpoints/safetensors"
	"github.com/gomlx-ssl/vicreg/models"
	"github.com/gomlx-ssl/vicreg/train/config"
)

// Scope is the context scope of the encoder's variables in training ("/encoder/..." in
// checkpoints).
const Scope = config.EncoderScope

// ExportFormat is the "format" metadata value of an exported encoder file.
const ExportFormat = "vicreg-encoder"

// Build adds the encoder to a graph: models.Encoder on images in ctx's Scope sub-scope, computed
// in dtype (float32, or bfloat16 for mixed precision: see config.Precisions), returning float32
// representations. Batch norm follows ctx's training mode.
func Build(ctx *context.Context, model models.Config, dtype dtypes.DType, images *Node) *Node {
	return ToFloat32(models.Encoder(ctx.In(Scope), model, Cast(images, dtype)))
}

// Cast converts x to dtype unless it already has it.
func Cast(x *Node, dtype dtypes.DType) *Node {
	if x.DType() == dtype {
		return x
	}
	return ConvertDType(x, dtype)
}

// ToFloat32 converts x to float32 unless it already is.
func ToFloat32(x *Node) *Node { return Cast(x, dtypes.Float32) }

// Variables returns the variables of vars under the encoder's scope (their scopes unchanged).
func Variables(vars []checkpoints.Variable) []checkpoints.Variable {
	prefix := context.ScopeSeparator + Scope
	var enc []checkpoints.Variable
	for _, v := range vars {
		if v.Scope == prefix || strings.HasPrefix(v.Scope, prefix+context.ScopeSeparator) {
			enc = append(enc, v)
		}
	}
	return enc
}

// Encoder is a pretrained (or randomly initialised) encoder in evaluation mode: batch norm uses
// its running averages.
type Encoder struct {
	// Config is the configuration of the run that trained the encoder.
	Config config.Config
	// Source is the file the encoder was loaded from ("" when built from a context).
	Source string
	// Step is the training step of the checkpoint the encoder was loaded from, or -1 when it was
	// not loaded from a checkpoint (an exported encoder, or one built from a context).
	Step int64

	backend backends.Backend
	ctx     *context.Context
	dtype   dtypes.DType
	exec    *context.Exec
}

// New returns the encoder whose variables live in ctx (under Scope), for the run cfg describes.
// The variables are shared, not copied: an Encoder over a training context embeds with the
// weights of the moment. Variables that do not exist yet are initialised from ctx's generator on
// first use (a random encoder).
func New(b backends.Backend, ctx *context.Context, cfg config.Config) (*Encoder, error) {
	if err := cfg.Model.Validate(); err != nil {
		return nil, err
	}
	dtype, err := config.PrecisionDType(cfg.Precision)
	if err != nil {
		return nil, err
	}
	e := &Encoder{Config: cfg, Step: -1, backend: b, ctx: ctx.Checked(false), dtype: dtype}
	e.exec, err = context.NewExec(b, e.ctx, func(ctx *context.Context, images *Node) *Node {
		return e.Forward(ctx, images)
	})
	if err != nil {
		return nil, fmt.Errorf("building the encoder: %w", err)
	}
	return e, nil
}

// Random returns a freshly initialised encoder for cfg, its weights drawn from a generator seeded
// with cfg.Seed, as the trainer's are before the first step: the random-encoder baseline.
func Random(b backends.Backend, cfg config.Config) (*Encoder, error) {
	ctx := context.New()
	if err := ctx.SetRNGStateFromSeed(int64(cfg.Seed)); err != nil {
		return nil, err
	}
	return New(b, ctx, cfg)
}

// FromVariables returns the encoder of cfg with the encoder variables of vars (a training
// checkpoint's: those under Scope; others are ignored).
func FromVariables(b backends.Backend, cfg config.Config, vars []checkpoints.Variable) (*Encoder, error) {
	e, err := New(b, context.New(), cfg)
	if err != nil {
		return nil, err
	}
	if err := e.SetVariables(vars); err != nil {
		e.Close()
		return nil, err
	}
	return e, nil
}

// SetVariables replaces the encoder's weights with those of a training checkpoint (the variables
// under Scope). The compiled program is kept, so a series of checkpoints of one run compiles
// once. Every encoder variable must come from vars: none may keep an earlier value.
func (e *Encoder) SetVariables(vars []checkpoints.Variable) error {
	enc := Variables(vars)
	if len(enc) == 0 {
		return fmt.Errorf("no variables under /%s: not a checkpoint of this toolkit's pretraining", Scope)
	}
	if err := checkpoints.ToContext(e.ctx, enc); err != nil {
		return fmt.Errorf("loading the encoder: %w", err)
	}
	have := make(map[string]bool, len(enc))
	for _, v := range enc {
		have[v.Key()] = true
	}
	// Every variable the architecture has, also before the graph is first built (when the context
	// holds only what was just loaded): a missing running statistic or layer would otherwise be
	// initialised afresh on the first Embed.
	missing := 0
	var first string
	for _, name := range e.Config.Model.VariableNames() {
		if key := context.ScopeSeparator + Scope + name; !have[key] {
			if missing == 0 {
				first = key
			}
			missing++
		}
	}
	if missing > 0 {
		return fmt.Errorf("loading the encoder: the checkpoint has no value for %s (%d of the %s encoder's variables are missing): it is not a whole checkpoint of this model",
			first, missing, e.Config.Model.Arch)
	}
	return nil
}

// Load loads an encoder from path: a training checkpoint, an exported encoder (Export), or a
// run's checkpoint folder (its newest valid checkpoint).
func Load(b backends.Backend, path string) (*Encoder, error) {
	info, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("loading an encoder: %w", err)
	}
	if info.IsDir() {
		state, file, err := (&checkpoints.Manager{Dir: path}).LoadLatest()
		if err != nil {
			return nil, fmt.Errorf("loading an encoder from %s: %w", path, err)
		}
		defer state.Free()
		return fromState(b, state, file)
	}
	if meta := exportMetadata(path); meta != nil {
		return loadExport(b, path, meta)
	}
	state, err := checkpoints.Load(path)
	if err != nil {
		return nil, err
	}
	defer state.Free()
	return fromState(b, state, path)
}

func fromState(b backends.Backend, state *checkpoints.State, path string) (*Encoder, error) {
	cfg, err := ParseConfig(state.Config)
	if err != nil {
		return nil, fmt.Errorf("loading an encoder from %s: %w", path, err)
	}
	e, err := FromVariables(b, cfg, state.Variables)
	if err != nil {
		return nil, fmt.Errorf("loading an encoder from %s: %w", path, err)
	}
	e.Source, e.Step = path, state.Step
	return e, nil
}

// ParseConfig reads the run configuration stored in a checkpoint (of pretraining, or of
// fine-tuning: its "encoder" key) or an export and checks that it describes an encoder.
func ParseConfig(raw json.RawMessage) (config.Config, error) {
	if len(raw) == 0 {
		return config.Config{}, errors.New("the file holds no run configuration (is it a checkpoint or exported encoder of this toolkit?)")
	}
	if enc, _, ok := FineTuning(raw); ok {
		raw = enc
	}
	cfg, err := config.Parse(raw, config.Default())
	if err != nil {
		return cfg, fmt.Errorf("reading the run configuration: %w", err)
	}
	if err := cfg.Model.Validate(); err != nil {
		return cfg, fmt.Errorf("the stored model configuration: %w", err)
	}
	return cfg, nil
}

// FineTuning reports whether raw, a run configuration stored in a checkpoint or a config.json, is
// a fine-tuning run's, and then returns the configuration of its encoder (its "encoder" key) and
// its -weights mode.
func FineTuning(raw json.RawMessage) (enc json.RawMessage, weights string, ok bool) {
	var wrapper struct {
		Encoder json.RawMessage `json:"encoder"`
		Weights string          `json:"weights"`
	}
	if json.Unmarshal(raw, &wrapper) != nil || len(wrapper.Encoder) == 0 || wrapper.Weights == "" {
		return nil, "", false
	}
	return wrapper.Encoder, wrapper.Weights, true
}

// Dim is the size of the representation.
func (e *Encoder) Dim() int { return e.Config.Model.FeatureDim() }

// Model is the encoder's architecture.
func (e *Encoder) Model() models.Config { return e.Config.Model }

// Context is the context that holds the encoder's variables (under Scope), for programs of one's
// own on the same weights (see Forward).
func (e *Encoder) Context() *context.Context { return e.ctx }

// Backend is the backend the encoder runs on.
func (e *Encoder) Backend() backends.Backend { return e.backend }

// Forward adds the encoder in evaluation mode to the graph of images and returns its float32
// representations. Use it with Context to build other programs on these weights (an input
// gradient, say).
func (e *Encoder) Forward(ctx *context.Context, images *Node) *Node {
	ctx.SetTraining(images.Graph(), false)
	return Build(ctx, e.Config.Model, e.dtype, images)
}

// Embed returns the representations [n, Dim()] (row-major) of n normalised NHWC float32 images
// of the given height and width. Each new batch shape compiles the program once.
func (e *Encoder) Embed(images []float32, n, height, width int) ([]float32, error) {
	if want := n * height * width * e.Config.Model.InChannels; len(images) != want {
		return nil, fmt.Errorf("embed: %d values for %d images of %dx%dx%d (height x width x channels; want %d)", len(images), n, height, width, e.Config.Model.InChannels, want)
	}
	out, err := e.exec.Exec(tensors.FromFlatDataAndDimensions(images, n, height, width, e.Config.Model.InChannels))
	if err != nil {
		return nil, fmt.Errorf("embed: %w", err)
	}
	defer out[0].FinalizeAll()
	return tensors.CopyFlatData[float32](out[0])
}

// Close frees the compiled program.
func (e *Encoder) Close() { e.exec.Finalize() }

// Export writes the encoder of a training context (its variables under Scope) to path as a
// safetensors file with torchvision's names and layout, so that
// torchvision.models.resnet50().load_state_dict(state, strict=False) takes it (only the classifier
// missing), and with the run's configuration in its metadata, so that Load rebuilds it.
func Export(path string, ctx *context.Context, cfg config.Config) error {
	meta := map[string]string{"format": ExportFormat, "config": string(cfg.JSON())}
	if err := models.ExportTorchvision(ctx.In(Scope), cfg.Model, path, meta); err != nil {
		return fmt.Errorf("exporting the encoder: %w", err)
	}
	return nil
}

// exportMetadata returns the metadata of path when it is a safetensors file written by Export
// (reading its header only), or nil.
func exportMetadata(path string) map[string]string {
	f, err := os.Open(path)
	if err != nil {
		return nil
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return nil
	}
	h, err := safetensors.ReadHeader(bufio.NewReader(f), info.Size())
	if err != nil || h.Metadata["format"] != ExportFormat {
		return nil
	}
	return h.Metadata
}

func loadExport(b backends.Backend, path string, meta map[string]string) (*Encoder, error) {
	cfg, err := ParseConfig(json.RawMessage(meta["config"]))
	if err != nil {
		return nil, fmt.Errorf("loading an encoder from %s: %w", path, err)
	}
	ctx := context.New()
	if err := models.ImportTorchvision(ctx.In(Scope), cfg.Model, path); err != nil {
		return nil, fmt.Errorf("loading an encoder from %s: %w", path, err)
	}
	e, err := New(b, ctx, cfg)
	if err != nil {
		return nil, err
	}
	e.Source = path
	return e, nil
}

// Export writes the encoder to path as Export does for a training context.
func (e *Encoder) Export(path string) error { return Export(path, e.ctx, e.Config) }
