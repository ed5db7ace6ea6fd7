package finetune

import (
	"encoding/json"
	"errors"
	"math"
	"strings"
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

// TestResumeRefusesEarlierEpochs: a run saved before epochs kept their last partial batch (its
// configuration lacks last_partial_batch) cannot be continued exactly, and says so; one saved
// since compares as usual.
func TestResumeRefusesEarlierEpochs(t *testing.T) {
	c := Defaults(Finetune, 10)
	c.LastBatch = true
	var old map[string]any
	if err := json.Unmarshal(c.JSON(), &old); err != nil {
		t.Fatal(err)
	}
	delete(old, "last_partial_batch")
	saved, _ := json.Marshal(old)
	if d := c.diff(saved); len(d) != 1 || !strings.Contains(d[0], "saved by an earlier version") || !strings.Contains(d[0], "another -checkpoint-dir") {
		t.Errorf("a run saved without last_partial_batch: %q, want one line refusing it", d)
	}
	if d := c.diff(c.JSON()); len(d) != 0 {
		t.Errorf("the same configuration: %q, want no difference", d)
	}
}

// TestValidateRefusesPathsNotUTF8: a fine-tuning run's config.json records its folders as JSON
// strings, in which a Latin-1 name ("caf\xe9") would come back as another folder; refused as the
// pretraining run refuses it (config.NotUTF8).
func TestValidateRefusesPathsNotUTF8(t *testing.T) {
	for flag, mutate := range map[string]func(*Config){
		"data-dir":       func(c *Config) { c.Dataset, c.DataDir = "folder", "/data/caf\xe9" },
		"checkpoint-dir": func(c *Config) { c.CheckpointDir = "runs/caf\xe9" },
	} {
		c := Defaults(Finetune, 10)
		c.CheckpointDir, c.Augment = "runs/x", "crop-flip"
		mutate(&c)
		var fe *config.FieldError
		if err := c.Validate(); !errors.As(err, &fe) || fe.Flag != flag || !strings.Contains(err.Error(), "UTF-8") {
			t.Errorf("-%s: got %v, want a -%s error saying it is not UTF-8", flag, err, flag)
		}
	}
}
