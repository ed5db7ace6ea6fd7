package finetune

import (
	"errors"
	"math"
	"testing"

	"github.com/gomlx-ssl/vicreg/train/config"
)

// TestValidateRefusesNonFiniteValues: NaN fails every comparison and +Inf passes "> 0", so each
// float setting is checked as a number: NaN and infinities are usage errors naming the flag,
// before Run locks the folder or writes anything.
func TestValidateRefusesNonFiniteValues(t *testing.T) {
	nan, inf := math.NaN(), math.Inf(1)
	for _, tc := range []struct {
		flag   string
		mutate func(*Config)
	}{
		{"wd", func(c *Config) { c.WeightDecay = nan }},
		{"wd", func(c *Config) { c.WeightDecay = inf }},
		{"momentum", func(c *Config) { c.Momentum = nan }},
		{"lr-backbone", func(c *Config) { c.LRBackbone = nan }},
		{"lr-backbone", func(c *Config) { c.LRBackbone = inf }},
		{"lr-head", func(c *Config) { c.LRHead = inf }},
		{"lr-head", func(c *Config) { c.LRHead = nan }},
		{"checkpoint-dir", func(c *Config) { c.Dataset, c.DataDir, c.CheckpointDir = "folder", "/data/photos", "/data/photos/ft" }},
	} {
		c := Defaults(Finetune, 10)
		c.CheckpointDir, c.Augment = "runs/x", "crop-flip"
		if err := c.Validate(); err != nil {
			t.Fatalf("the defaults: %v", err)
		}
		tc.mutate(&c)
		var fe *config.FieldError
		if err := c.Validate(); !errors.As(err, &fe) || fe.Flag != tc.flag {
			t.Errorf("-%s: got %v, want a -%s error", tc.flag, err, tc.flag)
		}
	}
}
