package config

import (
	"sort"

	"github.com/gomlx-ssl/vicreg/losses"
	"github.com/gomlx-ssl/vicreg/models"
)

// Presets are named configurations. "mnist" is the default job: it runs on 2 CPU cores in
// minutes. "cifar10" and "cifar100" reproduce solo-learn's VICReg recipe; "imagenet" the official
// one (main_vicreg.py's defaults).
var Presets = map[string]func() Config{
	"mnist": func() Config {
		c := base()
		c.Dataset, c.Augment = "mnist", "mnist" // ImageSize 0: the data set's own (28 for MNIST)
		c.Model = models.Config{Arch: "resnet18", Stem: "imagenet", Width: 24, InChannels: 1}
		c.Expander = "256-256-256"
		c.Epochs, c.BatchSize = 5, 256
		c.LR, c.Eta, c.WeightDecay, c.WarmupEpochs = 0.3, 0.02, 1e-4, 0.5
		return c
	},
	"cifar10":  func() Config { return soloCIFAR("cifar10") },
	"cifar100": func() Config { return soloCIFAR("cifar100") },
	"imagenet": func() Config {
		c := base()
		c.Dataset, c.Augment, c.ImageSize = "folder", "vicreg", 224
		// main_vicreg.py builds its backbone with zero_init_residual=True.
		c.Model = models.Config{Arch: "resnet50", Stem: "imagenet", Width: 64, InChannels: 3, ZeroInitResidual: true}
		c.Expander = "8192-8192-8192"
		c.Epochs, c.BatchSize = 1000, 2048
		c.LR, c.Eta, c.WeightDecay, c.WarmupEpochs = 0.2, 0.001, 1e-6, 10
		c.LossParams.VarianceConvention = "half"
		return c
	},
}

// soloCIFAR is solo-learn's VICReg recipe for CIFAR (its scripts/pretrain/cifar/vicreg.yaml).
func soloCIFAR(dataset string) Config {
	c := base()
	c.Dataset, c.Augment, c.ImageSize = dataset, "solo-cifar", 32
	c.Model = models.Config{Arch: "resnet18", Stem: "solo", Width: 64, InChannels: 3} // solo-learn's stem: padding 2
	c.Expander = "2048-2048-2048"
	c.Epochs, c.BatchSize = 1000, 256
	c.LR, c.Eta, c.WeightDecay, c.WarmupEpochs, c.Clip = 0.3, 0.02, 1e-4, 10, true
	return c
}

func base() Config {
	return Config{
		Seed: 0, Loss: "vicreg", LossParams: losses.Defaults(), Optimizer: "lars", Momentum: 0.9,
		ProbeLR: 0.1, CheckpointDir: "runs/vicreg", KeepLast: 3, LogEvery: 10, KNNK: 20,
		KNNTemperature: 0.07, ProbeEpochs: 30, MapPoints: 2000, Baselines: true, OnNonFinite: OnNonFiniteStop, Devices: 1,
		Precision: "f32",
	}
}

// PresetNames lists the presets, sorted.
func PresetNames() []string {
	var names []string
	for n := range Presets {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Default is the configuration of `go run ./train` with no flags: the "mnist" preset.
func Default() Config { return Presets["mnist"]() }
