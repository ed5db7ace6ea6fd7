package trainer

import (
	"fmt"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/pkg/core/distributed"
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/ml/context"

	"github.com/gomlx-ssl/vicreg/train/config"
)

// BatchAxis is the name of the device-mesh axis over which the batch is split.
const BatchAxis = "batch"

// dataParallel runs the training step over several devices of one backend with GoMLX's
// AutoSharding strategy (XLA's Shardy partitioner, the same machinery as JAX's jit with shardings):
// the step is written as one program over the global batch, its three inputs are split along
// their first (batch) axis over a 1-D mesh, and every variable and output is replicated. The
// partitioner inserts the all-reduces that whole-batch reductions need, so batch-norm statistics,
// the loss's variance and covariance, the gradients and therefore the update are those of the
// global batch: the result equals one device's up to the order of floating-point additions.
type dataParallel struct {
	mesh  *distributed.DeviceMesh
	batch *distributed.ShardingSpec
}

// distribute configures exec (not yet compiled) for data parallelism over devices devices of b.
func distribute(b backends.Backend, exec *context.Exec, devices int) (*dataParallel, error) {
	if err := CheckDevices(b, devices); err != nil {
		return nil, err
	}
	mesh, err := distributed.NewDeviceMesh([]int{devices}, []string{BatchAxis})
	if err != nil {
		return nil, fmt.Errorf("device mesh of %d devices: %w", devices, err)
	}
	batch, err := distributed.BuildSpec(mesh).S(BatchAxis).Done()
	if err != nil {
		return nil, fmt.Errorf("batch sharding over %d devices: %w", devices, err)
	}
	exec.AutoSharding(mesh).
		WithInputShardingSpecs(batch, batch, batch).
		WithOutputShardingSpecs(distributed.NewReplicatedShardingSpec(mesh))
	return &dataParallel{mesh: mesh, batch: batch}, nil
}

// CheckDevices returns a UsageError (flag -devices) unless b has at least devices devices.
func CheckDevices(b backends.Backend, devices int) error {
	if devices < 1 {
		return config.Errorf("devices", "must be >= 1, got %d", devices)
	}
	if have := b.NumDevices(); devices > have {
		return config.Errorf("devices", "%d devices asked for, but the %s backend has %d (%s)", devices, b.Name(), have, b.Description())
	}
	return nil
}

// exec splits each input along its batch axis, runs the step and returns the outputs of the first
// device (all devices hold the same replicated values).
func (d *dataParallel) exec(exec *context.Exec, inputs ...any) ([]*tensors.Tensor, error) {
	args := make([]any, len(inputs))
	for i, in := range inputs {
		t, ok := in.(*tensors.Tensor)
		if !ok {
			t = tensors.FromAnyValue(in)
		}
		if dims := t.Shape().Dimensions; len(dims) == 0 || dims[0]%d.mesh.NumDevices() != 0 {
			return nil, fmt.Errorf("input %d of shape %s: the batch axis must be a multiple of the %d devices", i, t.Shape(), d.mesh.NumDevices())
		}
		dt, err := distributed.ShardTensor(d.batch, t)
		if err != nil {
			return nil, fmt.Errorf("splitting input %d over %d devices: %w", i, d.mesh.NumDevices(), err)
		}
		args[i] = dt
	}
	dOuts, err := exec.DistributedExec(args...)
	for _, a := range args {
		_ = a.(*distributed.Tensor).FinalizeAll()
	}
	if err != nil {
		return nil, err
	}
	outs := make([]*tensors.Tensor, len(dOuts))
	for i, o := range dOuts {
		if outs[i], err = o.Shards()[0].LocalClone(); err != nil {
			return nil, fmt.Errorf("reading output %d: %w", i, err)
		}
		if err := o.FinalizeAll(); err != nil {
			return nil, fmt.Errorf("freeing output %d: %w", i, err)
		}
	}
	return outs, nil
}
