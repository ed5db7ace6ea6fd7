package models

import (
	"fmt"
	"slices"
	"strings"

	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/ml/context"

	"github.com/gomlx-ssl/vicreg/checkpoints/safetensors"
)

// linearWeight is a PyTorch nn.Linear weight: [out, in] there, [in, out] here.
const linearWeight paramKind = bnStat + 1

// maxNamesInError bounds how many tensor names an import error lists per kind of problem.
const maxNamesInError = 8

// ImportTorchvision loads the weights of a torchvision ResNet (its state_dict saved as safetensors,
// e.g. with safetensors.torch.save_file(model.state_dict(), path)) into ctx's scope, under the
// names Encoder uses, so that a following Encoder(ctx, c, ...) computes torchvision's function.
//
// Convolution kernels are transposed from OIHW to GoMLX's HWIO; batch-norm weight, bias,
// running_mean and running_var are copied. Entries "fc.*" and "*.num_batches_tracked" are
// ignored. F32, F64, F16 and BF16 tensors are accepted and stored as float32 (build the encoder on
// float32 images). Any unknown tensor name, missing tensor or shape that differs from what c
// implies is an error naming the tensors; nothing is loaded then.
func ImportTorchvision(ctx *context.Context, c Config, safetensorsPath string) error {
	if err := c.Validate(); err != nil {
		return fmt.Errorf("importing %s: %w", safetensorsPath, err)
	}
	f, err := safetensors.ReadFile(safetensorsPath)
	if err != nil {
		return err
	}
	ignore := func(name string) bool {
		return strings.HasPrefix(name, "fc.") || strings.HasSuffix(name, ".num_batches_tracked")
	}
	if err := importParams(ctx, paramSpecs(c), f, "", ignore); err != nil {
		return fmt.Errorf("importing %s as a %s (%s stem, width %d, %d channels): %w",
			safetensorsPath, c.Arch, c.Stem, c.Width, c.InChannels, err)
	}
	return nil
}

// expanderSpecs lists the variables Expander creates for input width in and the given widths.
func expanderSpecs(in int, dims []int) []param {
	var ps []param
	for i, d := range dims {
		p := fmt.Sprint(3 * i)
		ps = append(ps, param{torch: p + ".weight", shape: []int{in, d}, kind: linearWeight})
		if i < len(dims)-1 {
			ps = append(ps, param{torch: p + ".bias", shape: []int{d}, kind: bnParam})
			b := fmt.Sprint(3*i + 1)
			ps = append(ps,
				param{torch: b + ".weight", shape: []int{d}, kind: bnParam},
				param{torch: b + ".bias", shape: []int{d}, kind: bnParam},
				param{torch: b + ".running_mean", shape: []int{d}, kind: bnStat},
				param{torch: b + ".running_var", shape: []int{d}, kind: bnStat})
		}
		in = d
	}
	return ps
}

// importParams checks that f holds exactly the tensors ps describes (under prefix, apart from the
// ignored names), with their torch shapes, then stores them as variables in ctx.
func importParams(ctx *context.Context, ps []param, f *safetensors.File, prefix string, ignore func(string) bool) error {
	byName := make(map[string]param, len(ps))
	for _, p := range ps {
		byName[prefix+p.torch] = p
	}
	var unknown, missing, misshaped []string
	for _, name := range f.Names() {
		if ignore != nil && ignore(name) {
			continue
		}
		p, ok := byName[name]
		if !ok {
			unknown = append(unknown, name)
			continue
		}
		if got, want := f.Tensors[name].Shape, p.torchShape(); !slices.Equal(got, want) {
			misshaped = append(misshaped, fmt.Sprintf("%s has shape %v, want %v", name, got, want))
		}
	}
	for _, p := range ps {
		if _, ok := f.Tensors[prefix+p.torch]; !ok {
			missing = append(missing, prefix+p.torch)
		}
	}
	var problems []string
	for _, l := range []struct {
		what  string
		names []string
	}{{"unknown tensors", unknown}, {"missing tensors", missing}, {"mis-shaped tensors", misshaped}} {
		if len(l.names) == 0 {
			continue
		}
		shown := l.names
		if len(shown) > maxNamesInError {
			shown = append(slices.Clone(shown[:maxNamesInError]), fmt.Sprintf("and %d more", len(l.names)-maxNamesInError))
		}
		problems = append(problems, fmt.Sprintf("%d %s: %s", len(l.names), l.what, strings.Join(shown, ", ")))
	}
	if len(problems) > 0 {
		return fmt.Errorf("%s", strings.Join(problems, "; "))
	}

	values := make([]*tensors.Tensor, len(ps))
	for i, p := range ps {
		name := prefix + p.torch
		data, err := f.Tensors[name].Float32s()
		if err != nil {
			return fmt.Errorf("tensor %s: %w", name, err)
		}
		switch p.kind {
		case convKernel:
			data = oihwToHWIO(data, p.torchShape())
		case linearWeight:
			data = transpose2D(data, p.shape[1], p.shape[0])
		}
		values[i] = tensors.FromFlatDataAndDimensions(data, p.shape...)
	}
	base := ctx.Checked(false)
	for i, p := range ps {
		path, name := p.scope()
		vctx := base
		for _, s := range path {
			vctx = vctx.In(s)
		}
		if v := vctx.GetVariableByScopeAndName(vctx.Scope(), name); v != nil {
			if !v.Shape().Equal(values[i].Shape()) {
				return fmt.Errorf("tensor %s: existing variable %s has shape %s, want %s",
					prefix+p.torch, v.ScopeAndName(), v.Shape(), values[i].Shape())
			}
			if err := v.SetValue(values[i]); err != nil {
				return fmt.Errorf("tensor %s: setting %s: %w", prefix+p.torch, v.ScopeAndName(), err)
			}
			continue
		}
		vctx.VariableWithValue(name, values[i]).SetTrainable(p.kind != bnStat)
	}
	return nil
}

// oihwToHWIO reorders a convolution kernel from PyTorch's [out, in, kh, kw] to [kh, kw, in, out].
func oihwToHWIO(src []float32, oihw []int) []float32 {
	o, in, kh, kw := oihw[0], oihw[1], oihw[2], oihw[3]
	dst := make([]float32, len(src))
	for a := range o {
		for b := range in {
			for y := range kh {
				for x := range kw {
					dst[((y*kw+x)*in+b)*o+a] = src[((a*in+b)*kh+y)*kw+x]
				}
			}
		}
	}
	return dst
}

// transpose2D returns the transpose of the rows x cols row-major matrix src.
func transpose2D(src []float32, rows, cols int) []float32 {
	dst := make([]float32, len(src))
	for r := range rows {
		for c := range cols {
			dst[c*rows+r] = src[r*cols+c]
		}
	}
	return dst
}

// ExportTorchvision writes the encoder weights in ctx's scope to a safetensors file at path, in
// torchvision's state_dict layout and names (kernels OIHW, F32), the inverse of ImportTorchvision:
// the file loads into torchvision with load_state_dict(..., strict=False) (it has no fc and no
// num_batches_tracked). The variables must exist and hold values (after a first Exec, an import or
// a checkpoint load); a missing one is an error naming it. The file is written atomically; its
// metadata holds the architecture's fields and the entries of meta.
func ExportTorchvision(ctx *context.Context, c Config, path string, meta map[string]string) error {
	if err := c.Validate(); err != nil {
		return fmt.Errorf("exporting %s: %w", path, err)
	}
	f := &safetensors.File{
		Tensors:  map[string]safetensors.Tensor{},
		Metadata: map[string]string{"arch": c.Arch, "stem": c.Stem, "width": fmt.Sprint(c.Width), "in_channels": fmt.Sprint(c.InChannels)},
	}
	for k, v := range meta {
		f.Metadata[k] = v
	}
	for _, p := range paramSpecs(c) {
		scopePath, name := p.scope()
		vctx := ctx
		for _, s := range scopePath {
			vctx = vctx.In(s)
		}
		v := vctx.GetVariableByScopeAndName(vctx.Scope(), name)
		if v == nil {
			return fmt.Errorf("exporting %s: no variable %s/%s for %s", path, vctx.Scope(), name, p.torch)
		}
		value, err := v.Value()
		if err != nil {
			return fmt.Errorf("exporting %s: variable %s for %s: %w", path, v.ScopeAndName(), p.torch, err)
		}
		data, err := tensors.CopyFlatData[float32](value)
		if err != nil || !slices.Equal(value.Shape().Dimensions, p.shape) {
			return fmt.Errorf("exporting %s: variable %s is %s, want float32 %v", path, v.ScopeAndName(), value.Shape(), p.shape)
		}
		if p.kind == convKernel {
			data = hwioToOIHW(data, p.shape)
		}
		f.Tensors[p.torch] = safetensors.FromFloat32(p.torchShape(), data)
	}
	if err := safetensors.WriteFile(path, f); err != nil {
		return fmt.Errorf("exporting encoder: %w", err)
	}
	return nil
}

// hwioToOIHW reorders a kernel from [kh, kw, in, out] to PyTorch's [out, in, kh, kw].
func hwioToOIHW(src []float32, hwio []int) []float32 {
	kh, kw, in, o := hwio[0], hwio[1], hwio[2], hwio[3]
	dst := make([]float32, len(src))
	for y := range kh {
		for x := range kw {
			for b := range in {
				for a := range o {
					dst[((a*in+b)*kh+y)*kw+x] = src[((y*kw+x)*in+b)*o+a]
				}
			}
		}
	}
	return dst
}
