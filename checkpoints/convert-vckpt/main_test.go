package main

import (
	"bytes"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/gomlx/gomlx/pkg/core/dtypes/bfloat16"
	"github.com/x448/float16"

	"github.com/gomlx-ssl/vicreg/checkpoints"
)

// The fixtures in testdata were written by the version-1 writer (checkpoints/format.go before its
// removal) from the values listed in TestConvertsFixture.

// copyFixture copies testdata/name into dir.
func copyFixture(t *testing.T, name, dir string) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func flatOf(t *testing.T, s *checkpoints.State, key string) any {
	t.Helper()
	for _, v := range s.Variables {
		if v.Key() == key {
			var out any
			if err := v.Value.ConstFlatData(func(flat any) { out = reflect.ValueOf(flat).Interface() }); err != nil {
				t.Fatal(err)
			}
			return reflect.ValueOf(out).Interface()
		}
	}
	t.Fatalf("no variable %s", key)
	return nil
}

func TestConvertsFixture(t *testing.T) {
	dir := t.TempDir()
	old := copyFixture(t, "ckpt-000001234.vckpt", dir)
	before, _ := os.ReadFile(old)
	var out bytes.Buffer
	if code := run([]string{dir}, &out); code != 0 {
		t.Fatalf("exit %d:\n%s", code, out.String())
	}
	target := filepath.Join(dir, "ckpt-000001234.safetensors")
	if !strings.Contains(out.String(), target) {
		t.Errorf("the output does not name %s:\n%s", target, out.String())
	}
	if after, _ := os.ReadFile(old); !bytes.Equal(before, after) {
		t.Error("the old file changed")
	}
	// The Manager now finds the run.
	s, path, err := (&checkpoints.Manager{Dir: dir}).LoadLatest()
	if err != nil || path != target {
		t.Fatalf("LoadLatest: %s, %v", path, err)
	}
	if s.Step != 1234 || s.Epoch != 7 || !s.Time.Equal(time.Date(2025, 3, 4, 5, 6, 7, 891011121, time.UTC)) ||
		string(s.Config) != `{"batch_size":256,"optimizer":{"name":"lars","lr":0.3}}` || string(s.Data) != `{"epoch":7,"position":1024}` {
		t.Errorf("state: step %d epoch %d time %v config %s data %s", s.Step, s.Epoch, s.Time, s.Config, s.Data)
	}
	if len(s.Metrics) != 3 || s.Metrics["probe_acc"] != 0.875 || !math.IsNaN(s.Metrics["loss"]) || !math.IsInf(s.Metrics["grad_norm"], 1) {
		t.Errorf("metrics %v", s.Metrics)
	}
	wantKeys := []string{"/encoder/conv1/weights", "/encoder/bn1/mean", "/optimizer/global_step", "/optimizer/count", "/#rngState",
		"/m/mask", "/m/i8", "/m/u8", "/m/i16", "/m/u16", "/m/u32", "/m/f16", "/m/bf16", "/m/c64", "/m/empty"}
	var keys []string
	for _, v := range s.Variables {
		keys = append(keys, v.Key())
		if v.Trainable != (v.Key() == "/encoder/conv1/weights") {
			t.Errorf("%s: trainable %v", v.Key(), v.Trainable)
		}
	}
	if !reflect.DeepEqual(keys, wantKeys) {
		t.Errorf("variables %v, want %v (in the saved order)", keys, wantKeys)
	}
	want := map[string]any{
		"/encoder/conv1/weights": []float32{1.5, -2, 3, 4, float32(math.Inf(-1)), 0},
		"/encoder/bn1/mean":      []float64{math.Pi, -1e-300},
		"/optimizer/global_step": []int64{1234},
		"/optimizer/count":       []int32{-7, 7},
		"/#rngState":             []uint64{0, 1 << 63, math.MaxUint64},
		"/m/mask":                []bool{true, false, true},
		"/m/i8":                  []int8{-128, 0, 127},
		"/m/u8":                  []uint8{0, 7, 255},
		"/m/i16":                 []int16{-32768, 1, 32767},
		"/m/u16":                 []uint16{0, 513, 65535},
		"/m/u32":                 []uint32{0, 1 << 31, math.MaxUint32},
		"/m/f16":                 []float16.Float16{float16.Fromfloat32(0.5), float16.Fromfloat32(-3)},
		"/m/bf16":                []bfloat16.BFloat16{bfloat16.FromFloat32(0.25), bfloat16.FromFloat32(-7)},
		"/m/c64":                 []complex64{complex(1, -2), complex(0.5, 3)},
		"/m/empty":               []float32{},
	}
	for k, w := range want {
		if g := flatOf(t, s, k); !reflect.DeepEqual(g, w) {
			t.Errorf("%s = %v, want %v", k, g, w)
		}
	}

	// A second run leaves the converted file alone.
	stat1, _ := os.Stat(target)
	out.Reset()
	if code := run([]string{old}, &out); code != 0 || !strings.Contains(out.String(), "already converted") {
		t.Errorf("second run: exit %d:\n%s", code, out.String())
	}
	if stat2, _ := os.Stat(target); !stat2.ModTime().Equal(stat1.ModTime()) {
		t.Error("the converted file was rewritten")
	}
}

// TestRefusesDamagedAndUnconvertible: a flipped byte (the old checksum) and a complex128 variable
// (no safetensors dtype) are reported, nothing is written for them, and the exit status is 1,
// while the good file given with them is still converted.
func TestRefusesDamagedAndUnconvertible(t *testing.T) {
	dir := t.TempDir()
	damaged := copyFixture(t, "ckpt-000001234.vckpt", dir)
	raw, _ := os.ReadFile(damaged)
	raw[len(raw)-40] ^= 1 // in the tensor data
	if err := os.WriteFile(damaged, raw, 0o644); err != nil {
		t.Fatal(err)
	}
	complexFile := copyFixture(t, "complex128.vckpt", dir)
	good := filepath.Join(dir, "good")
	if err := os.Mkdir(good, 0o755); err != nil {
		t.Fatal(err)
	}
	copyFixture(t, "ckpt-000001234.vckpt", good)
	var out bytes.Buffer
	code := run([]string{damaged, complexFile, good}, &out)
	if code != 1 {
		t.Errorf("exit %d, want 1:\n%s", code, out.String())
	}
	for _, want := range []string{damaged, "checksum does not match", complexFile, `/m/z\" has dtype Complex128`, "2 of=3"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("the output does not say %q:\n%s", want, out.String())
		}
	}
	for _, p := range []string{filepath.Join(dir, "ckpt-000001234.safetensors"), filepath.Join(dir, "complex128.safetensors")} {
		if _, err := os.Stat(p); !os.IsNotExist(err) {
			t.Errorf("%s was written: %v", p, err)
		}
	}
	if _, err := checkpoints.Load(filepath.Join(good, "ckpt-000001234.safetensors")); err != nil {
		t.Errorf("the good file was not converted: %v", err)
	}
}

func TestUsage(t *testing.T) {
	for _, args := range [][]string{nil, {"-h"}, {filepath.Join(t.TempDir(), "missing.vckpt")}} {
		var out bytes.Buffer
		if code := run(args, &out); code != 2 {
			t.Errorf("%v: exit %d, want 2:\n%s", args, code, out.String())
		}
		if len(args) == 1 && !strings.Contains(out.String(), args[0]) && args[0] != "-h" {
			t.Errorf("%v: the output does not name the path:\n%s", args, out.String())
		}
	}
	// A file of the current format is not an old one.
	dir := t.TempDir()
	p := filepath.Join(dir, "x.vckpt")
	if err := checkpoints.Save(p, &checkpoints.State{}); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if code := run([]string{p}, &out); code != 1 || !strings.Contains(out.String(), "not a checkpoint of format version 1") {
		t.Errorf("a current-format file: exit %d:\n%s", code, out.String())
	}
}
