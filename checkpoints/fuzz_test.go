package checkpoints

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"flag"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/shapes"
	"github.com/gomlx/gomlx/pkg/core/tensors"
)

var updateSeeds = flag.Bool("update-fuzz-seeds", false, "rewrite testdata/fuzz/FuzzLoad")

// seedState is the small valid checkpoint the fuzz seeds are made from.
func seedState() *State {
	return &State{
		Step: 3, Epoch: 1, Time: time.Date(2025, 1, 2, 3, 4, 5, 6, time.UTC),
		Config:  json.RawMessage(`{"batch_size":8,"loss":{"convention":"official"}}`),
		Data:    json.RawMessage(`{"position":24}`),
		Metrics: map[string]float64{"probe_acc": 0.25, "loss": math.NaN()},
		Variables: []Variable{
			{Scope: "/m", Name: "w", Trainable: true, Value: tensors.FromValue([][]float32{{1, -2}, {3.5, 4}})},
			{Scope: "/m", Name: "mask", Value: tensors.FromValue([]bool{true, false, true})},
			{Scope: "/m", Name: "empty", Value: tensors.FromShape(shapes.Make(dtypes.Float64, 0, 4))},
			{Scope: "/", Name: "#rngState", Value: tensors.FromValue([]uint64{1, math.MaxUint64, 3})},
		},
	}
}

func encodeToBytes(t testing.TB, s *State) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := encode(&buf, s); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// TestFuzzSeeds checks the committed seeds still match the writer (run with -update-fuzz-seeds
// to rewrite them after a deliberate format change).
func TestFuzzSeeds(t *testing.T) {
	valid := encodeToBytes(t, seedState())
	first := bytes.IndexByte(valid, '\n')
	seeds := map[string][]byte{
		"valid":          valid,
		"truncated_data": valid[:len(valid)-40],
		"bad_magic":      append([]byte("vicreg-checkpoinT 1"), valid[first:]...),
		"flipped_header": func() []byte { b := bytes.Clone(valid); b[first+20] ^= 1; return b }(),
		"empty_state":    encodeToBytes(t, &State{Time: time.Unix(0, 0)}),
	}
	dir := filepath.Join("testdata", "fuzz", "FuzzLoad")
	for name, data := range seeds {
		path := filepath.Join(dir, name)
		content := fmt.Sprintf("go test fuzz v1\n[]byte(%s)\n", strconv.Quote(string(data)))
		if *updateSeeds {
			if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		got, err := os.ReadFile(path)
		if err != nil || string(got) != content {
			t.Errorf("fuzz seed %s is missing or stale (err %v): run go test ./checkpoints -run TestFuzzSeeds -update-fuzz-seeds", path, err)
		}
	}
}

// FuzzLoad feeds arbitrary bytes to the reader: it must never panic, never return a state with an
// error, and whatever it accepts must survive a write and a second read unchanged. Each input is
// also tried with its last 32 bytes replaced by the right checksum, so that mutations reach the
// header checks and the tensor reader instead of stopping at the checksum.
func FuzzLoad(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		checkDecode(t, data)
		if len(data) >= sha256.Size {
			fixed := bytes.Clone(data)
			sum := sha256.Sum256(fixed[:len(fixed)-sha256.Size])
			copy(fixed[len(fixed)-sha256.Size:], sum[:])
			checkDecode(t, fixed)
		}
	})
}

func checkDecode(t *testing.T, data []byte) {
	s, err := decode(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		if s != nil {
			t.Fatalf("decode returned a state with error %v", err)
		}
		return
	}
	encoded := encodeToBytes(t, s)
	again, err := decode(bytes.NewReader(encoded), int64(len(encoded)))
	if err != nil {
		t.Fatalf("re-reading an accepted checkpoint: %v", err)
	}
	if again.Step != s.Step || again.Epoch != s.Epoch || !again.Time.Equal(s.Time) ||
		!bytes.Equal(again.Config, s.Config) || !bytes.Equal(again.Data, s.Data) ||
		len(again.Metrics) != len(s.Metrics) || len(again.Variables) != len(s.Variables) {
		t.Fatalf("second read differs")
	}
	for i, v := range s.Variables {
		w := again.Variables[i]
		if w.Key() != v.Key() || w.Trainable != v.Trainable || !w.Value.Shape().Equal(v.Value.Shape()) ||
			!bytes.Equal(rawBytes(t, w.Value), rawBytes(t, v.Value)) {
			t.Fatalf("variable %s differs after a second read", v.Key())
		}
	}
}
