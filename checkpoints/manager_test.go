package checkpoints

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/charmbracelet/log"
	"github.com/gomlx/gomlx/pkg/core/tensors"
)

// newTestManager returns a Manager whose log goes to the returned buffer.
func newTestManager(t *testing.T, dir string, keepLast int, best string) (*Manager, *bytes.Buffer) {
	t.Helper()
	m, err := NewManager(dir, keepLast, best)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	m.Logger = log.New(&buf)
	return m, &buf
}

func stepState(step int64, metrics map[string]float64) *State {
	return &State{Step: step, Metrics: metrics, Variables: []Variable{
		{Scope: "/m", Name: "w", Trainable: true, Value: tensors.FromValue([]float32{float32(step), 1})},
	}}
}

func names(paths []string) []string {
	out := make([]string, len(paths))
	for i, p := range paths {
		out[i] = filepath.Base(p)
	}
	return out
}

func mustList(t *testing.T, m *Manager) []string {
	t.Helper()
	paths, err := m.List()
	if err != nil {
		t.Fatal(err)
	}
	return names(paths)
}

// flipByte corrupts one byte of the data section of a file (its last byte).
func flipByte(t *testing.T, path string) {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	raw[len(raw)-1] ^= 0xff
	if err := os.WriteFile(path, raw, 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestListOrderAndNames(t *testing.T) {
	dir := t.TempDir()
	m, _ := newTestManager(t, dir, 0, "")
	for _, step := range []int64{10, 5, 1_000_000_000, 0} {
		if _, err := m.Save(stepState(step, nil)); err != nil {
			t.Fatal(err)
		}
	}
	for _, junk := range []string{"notes.txt", "ckpt-abc.safetensors", "ckpt-000000007.safetensors.corrupt", "ckpt-.safetensors",
		".ckpt-000000003.safetensors.tmp-99", "ckpt-000000004.vckpt", "LOCK"} {
		if err := os.WriteFile(filepath.Join(dir, junk), []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want := []string{"ckpt-000000000.safetensors", "ckpt-000000005.safetensors", "ckpt-000000010.safetensors", "ckpt-1000000000.safetensors"}
	if got := mustList(t, m); !slices.Equal(got, want) {
		t.Errorf("List = %v, want %v", got, want)
	}
	s, path, err := m.LoadLatest()
	if err != nil || s.Step != 1_000_000_000 || filepath.Base(path) != want[3] {
		t.Errorf("LoadLatest = step %v, %s, %v", s, path, err)
	}
}

func TestRetentionKeepsLastAndBest(t *testing.T) {
	dir := t.TempDir()
	m, _ := newTestManager(t, dir, 2, "probe_acc")
	acc := []float64{0.1, 0.9, 0.3, 0.2, 0.4, 0.5}
	// After saving step i+1, the folder must hold the two newest plus the best so far.
	wantAfter := [][]int{{1}, {1, 2}, {2, 3}, {2, 3, 4}, {2, 4, 5}, {2, 5, 6}}
	for i, a := range acc {
		path, err := m.Save(stepState(int64(i+1), map[string]float64{"probe_acc": a, "loss": 1}))
		if err != nil {
			t.Fatal(err)
		}
		if path != m.PathForStep(int64(i+1)) {
			t.Errorf("Save returned %s, want %s", path, m.PathForStep(int64(i+1)))
		}
		var want []string
		for _, step := range wantAfter[i] {
			want = append(want, filepath.Base(m.PathForStep(int64(step))))
		}
		if got := mustList(t, m); !slices.Equal(got, want) {
			t.Errorf("after step %d: %v, want %v", i+1, got, want)
		}
	}
	best, err := m.Best()
	if err != nil || best != m.PathForStep(2) {
		t.Errorf("Best = %s, %v; want %s", best, err, m.PathForStep(2))
	}
}

func TestBestEdgeCases(t *testing.T) {
	m, _ := newTestManager(t, t.TempDir(), 0, "probe_acc")
	if _, err := m.Best(); !errors.Is(err, ErrNoCheckpoint) {
		t.Errorf("Best on empty folder: %v, want ErrNoCheckpoint", err)
	}
	for step, metrics := range map[int64]map[string]float64{
		1: {"probe_acc": 0.7},
		2: {"loss": 3},           // no probe_acc: ignored
		3: {"probe_acc": 0.7},    // tie with step 1: the newer wins
		4: {"probe_acc": nan()},  // NaN: ignored
		5: {"probe_acc": -inf()}, // lower
	} {
		if _, err := m.Save(stepState(step, metrics)); err != nil {
			t.Fatal(err)
		}
	}
	if best, err := m.Best(); err != nil || best != m.PathForStep(3) {
		t.Errorf("Best = %s, %v; want %s", best, err, m.PathForStep(3))
	}
	m.BestMetric = ""
	if _, err := m.Best(); err == nil || !strings.Contains(err.Error(), "no best metric") {
		t.Errorf("Best without metric: %v", err)
	}
}

func TestLoadLatestSkipsCorrupt(t *testing.T) {
	dir := t.TempDir()
	m, logs := newTestManager(t, dir, 0, "")
	for step := int64(1); step <= 3; step++ {
		if _, err := m.Save(stepState(step, nil)); err != nil {
			t.Fatal(err)
		}
	}
	flipByte(t, m.PathForStep(3))
	raw, err := os.ReadFile(m.PathForStep(2))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(m.PathForStep(4), raw[:100], 0o644); err != nil { // truncated in its header
		t.Fatal(err)
	}
	s, path, err := m.LoadLatest()
	if err != nil {
		t.Fatal(err)
	}
	if s.Step != 2 || path != m.PathForStep(2) {
		t.Errorf("LoadLatest = step %d at %s, want step 2", s.Step, path)
	}
	if got := flatValue(t, s.Variables[0].Value).([]float32); got[0] != 2 {
		t.Errorf("loaded values %v", got)
	}
	for _, step := range []int64{3, 4} {
		p := m.PathForStep(step)
		if !strings.Contains(logs.String(), p) {
			t.Errorf("log does not report the damaged %s:\n%s", p, logs)
		}
		if _, err := os.Stat(p); err != nil {
			t.Errorf("damaged checkpoint %s was removed: %v", p, err)
		}
	}
	if !strings.Contains(logs.String(), "checksum mismatch") {
		t.Errorf("log does not say why:\n%s", logs)
	}
}

func TestLoadLatestNoneValid(t *testing.T) {
	dir := t.TempDir()
	m, _ := newTestManager(t, dir, 0, "")
	if _, _, err := m.LoadLatest(); !errors.Is(err, ErrNoCheckpoint) || !strings.Contains(err.Error(), dir) {
		t.Errorf("empty folder: %v, want ErrNoCheckpoint naming %s", err, dir)
	}
	for step := int64(1); step <= 2; step++ {
		if _, err := m.Save(stepState(step, nil)); err != nil {
			t.Fatal(err)
		}
		flipByte(t, m.PathForStep(step))
	}
	_, _, err := m.LoadLatest()
	if !errors.Is(err, ErrNoValidCheckpoint) || !errors.Is(err, ErrCorrupt) || errors.Is(err, ErrNoCheckpoint) {
		t.Errorf("all damaged: %v, want ErrNoValidCheckpoint and ErrCorrupt, not ErrNoCheckpoint", err)
	}
	for step := int64(1); step <= 2; step++ {
		if err == nil || !strings.Contains(err.Error(), m.PathForStep(step)) {
			t.Errorf("error does not name %s: %v", m.PathForStep(step), err)
		}
	}
}

func TestLeftoverTempFilesIgnoredAndCleaned(t *testing.T) {
	dir := t.TempDir()
	m, _ := newTestManager(t, dir, 0, "")
	if _, err := m.Save(stepState(1, nil)); err != nil {
		t.Fatal(err)
	}
	// A crash in the middle of Save leaves a partial temporary file behind.
	tmp := filepath.Join(dir, ".ckpt-000000002.safetensors.tmp-12345")
	if err := os.WriteFile(tmp, []byte("\x10\x00\x00\x00\x00\x00\x00\x00{\"a\""), 0o644); err != nil {
		t.Fatal(err)
	}
	other := filepath.Join(dir, ".hidden-user-file")
	if err := os.WriteFile(other, []byte("keep me"), 0o644); err != nil {
		t.Fatal(err)
	}
	if got := mustList(t, m); !slices.Equal(got, []string{"ckpt-000000001.safetensors"}) {
		t.Errorf("List = %v", got)
	}
	if s, _, err := m.LoadLatest(); err != nil || s.Step != 1 {
		t.Errorf("LoadLatest: %v", err)
	}
	if _, err := os.Stat(tmp); err != nil {
		t.Fatalf("the temporary file should still be there before a new manager starts: %v", err)
	}
	m2, _ := newTestManager(t, dir, 0, "")
	if _, err := os.Stat(tmp); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("NewManager did not remove %s: %v", tmp, err)
	}
	if _, err := os.Stat(other); err != nil {
		t.Errorf("NewManager removed an unrelated file: %v", err)
	}
	if got := mustList(t, m2); !slices.Equal(got, []string{"ckpt-000000001.safetensors"}) {
		t.Errorf("List = %v", got)
	}
}

func TestSaveOverDamagedCheckpointMovesItAside(t *testing.T) {
	dir := t.TempDir()
	m, logs := newTestManager(t, dir, 0, "")
	for range 2 {
		if _, err := m.Save(stepState(7, nil)); err != nil {
			t.Fatal(err)
		}
		flipByte(t, m.PathForStep(7))
	}
	if _, err := m.Save(stepState(7, nil)); err != nil {
		t.Fatal(err)
	}
	p := m.PathForStep(7)
	for _, aside := range []string{p + ".corrupt", p + ".corrupt.1"} {
		if _, err := os.Stat(aside); err != nil {
			t.Errorf("damaged checkpoint not kept as %s: %v", aside, err)
		}
	}
	if _, err := Load(p); err != nil {
		t.Errorf("new checkpoint: %v", err)
	}
	if !strings.Contains(logs.String(), "moved a damaged checkpoint aside") {
		t.Errorf("log:\n%s", logs)
	}
	// A valid checkpoint of the same step is simply replaced.
	if _, err := m.Save(stepState(7, map[string]float64{"x": 1})); err != nil {
		t.Fatal(err)
	}
	if s, err := Load(p); err != nil || s.Metrics["x"] != 1 {
		t.Errorf("replaced checkpoint: %v, %v", s, err)
	}
	if got := mustList(t, m); !slices.Equal(got, []string{"ckpt-000000007.safetensors"}) {
		t.Errorf("List = %v", got)
	}
}

func TestRetentionKeepsUnreadableCheckpoints(t *testing.T) {
	dir := t.TempDir()
	m, logs := newTestManager(t, dir, 1, "")
	if _, err := m.Save(stepState(1, nil)); err != nil {
		t.Fatal(err)
	}
	// Damage the header of step 1: retention must not delete what it cannot read.
	raw, _ := os.ReadFile(m.PathForStep(1))
	raw[0] = 'X'
	if err := os.WriteFile(m.PathForStep(1), raw, 0o644); err != nil {
		t.Fatal(err)
	}
	for step := int64(2); step <= 3; step++ {
		if _, err := m.Save(stepState(step, nil)); err != nil {
			t.Fatal(err)
		}
	}
	want := []string{"ckpt-000000001.safetensors", "ckpt-000000003.safetensors"}
	if got := mustList(t, m); !slices.Equal(got, want) {
		t.Errorf("List = %v, want %v", got, want)
	}
	if !strings.Contains(logs.String(), "keeping a damaged checkpoint") {
		t.Errorf("log:\n%s", logs)
	}
}

func TestManagerSaveFailureKeepsEverything(t *testing.T) {
	dir := t.TempDir()
	m, _ := newTestManager(t, dir, 1, "")
	if _, err := m.Save(stepState(1, nil)); err != nil {
		t.Fatal(err)
	}
	withFailingTemp(t, 10, false)
	path, err := m.Save(stepState(2, nil))
	if err == nil || !errors.Is(err, syscall.ENOSPC) || path != "" {
		t.Fatalf("Save = %q, %v; want an ENOSPC error", path, err)
	}
	if got := mustList(t, m); !slices.Equal(got, []string{"ckpt-000000001.safetensors"}) {
		t.Errorf("after a failed save: %v", got)
	}
	assertNoFiles(t, dir, "ckpt-000000001.safetensors")
	if s, _, err := m.LoadLatest(); err != nil || s.Step != 1 {
		t.Errorf("LoadLatest after a failed save: %v", err)
	}
}

func TestNewManagerErrors(t *testing.T) {
	if _, err := NewManager("", 1, ""); err == nil {
		t.Error("empty folder accepted")
	}
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := NewManager(filepath.Join(file, "sub"), 1, ""); err == nil || !strings.Contains(err.Error(), file) {
		t.Errorf("folder under a file: %v", err)
	}
}

func nan() float64 { return math.NaN() }
func inf() float64 { return math.Inf(1) }

// TestOldFormatFolder: a folder holding only checkpoints of the old format is not empty: List and
// LoadLatest say what the files are and how to convert them, and never report ErrNoCheckpoint
// (a -resume would start afresh over the old run).
func TestOldFormatFolder(t *testing.T) {
	dir := t.TempDir()
	m, _ := newTestManager(t, dir, 0, "probe_acc")
	var old []string
	for _, step := range []int64{20, 10} {
		p := filepath.Join(dir, fmt.Sprintf("ckpt-%09d.vckpt", step))
		if err := os.WriteFile(p, []byte("vicreg-checkpoint 1\nheader 2\n{}"), 0o644); err != nil {
			t.Fatal(err)
		}
		old = append(old, p)
	}
	_, listErr := m.List()
	_, _, loadErr := m.LoadLatest()
	_, bestErr := m.Best()
	for what, err := range map[string]error{"List": listErr, "LoadLatest": loadErr, "Best": bestErr} {
		if !errors.Is(err, ErrOldFormat) || errors.Is(err, ErrNoCheckpoint) {
			t.Errorf("%s: %v, want ErrOldFormat and not ErrNoCheckpoint", what, err)
			continue
		}
		for _, want := range append(old, "go run ./checkpoints/convert-vckpt "+dir) {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("%s: error %q does not name %q", what, err, want)
			}
		}
	}
	// Once converted (a checkpoint of the current format exists), the old files are ignored.
	if _, err := m.Save(stepState(20, nil)); err != nil {
		t.Fatal(err)
	}
	if got := mustList(t, m); !slices.Equal(got, []string{"ckpt-000000020.safetensors"}) {
		t.Errorf("List = %v", got)
	}
	if _, err := os.Stat(old[0]); err != nil {
		t.Errorf("an old file was removed: %v", err)
	}
}
