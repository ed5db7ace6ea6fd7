package faults

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gomlx-ssl/vicreg/checkpoints"
	"github.com/gomlx-ssl/vicreg/checkpoints/safetensors"
)

var (
	trials    = flag.Int("faults.trials", 3, "kill -9 trials (the full suite uses 20)")
	loadRun   = flag.Bool("faults.load", false, "also run the long load test (resident memory and step time over -faults.load-steps steps)")
	loadSteps = flag.Int("faults.load-steps", 5000, "steps of the load test")
	seedFlag  = flag.Uint64("faults.seed", 0, "seed of the random kill moments (0: from the clock; the seed is printed)")
)

// bins holds the paths of the commands built by TestMain.
var bins struct{ train, evaluate string }

func TestMain(m *testing.M) {
	flag.Parse()
	dir, err := os.MkdirTemp("", "faults-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "faults:", err)
		os.Exit(1)
	}
	bins.train, bins.evaluate = filepath.Join(dir, "train"), filepath.Join(dir, "evaluate")
	for bin, pkg := range map[string]string{bins.train: "../train", bins.evaluate: "../evaluate"} {
		if out, err := exec.Command("go", "build", "-o", bin, pkg).CombinedOutput(); err != nil {
			fmt.Fprintf(os.Stderr, "faults: go build %s: %v\n%s", pkg, err, out)
			os.RemoveAll(dir)
			os.Exit(1)
		}
	}
	code := m.Run()
	os.RemoveAll(dir)
	if refDir != "" {
		os.RemoveAll(refDir)
	}
	os.Exit(code)
}

// needXLA skips tests that train a ResNet when the backend is not XLA (the pure Go backend
// cannot train convolutions; the trainer refuses it with exit status 1).
func needXLA(t *testing.T) {
	t.Helper()
	if b := os.Getenv("GOMLX_BACKEND"); b != "" && !strings.HasPrefix(b, "xla") {
		t.Skipf("needs the XLA backend to train a ResNet; GOMLX_BACKEND=%s", b)
	}
}

// Steps of the tiny run that every fault test trains or resumes.
const tinySteps = 40

// tinyArgs is the smallest run that still exercises everything: a width-4 ResNet-18 on 320
// synthetic images, batch 16 (20 steps an epoch: the 40 steps cross an epoch end, where the
// online probe runs and the data order is reshuffled), a checkpoint after every step, all of
// them kept, one probe epoch on 64 test images, no baselines.
func tinyArgs(dir string, extra ...string) []string {
	args := []string{"-dataset", "synthetic", "-augment", "solo-cifar", "-stem", "cifar", "-width", "4",
		"-channels", "3", "-expander", "32-32", "-batch-size", "16", "-subset", "320", "-eval-subset", "64",
		"-baselines=false", "-probe-epochs", "1", "-log-every", "1", "-seed", "7",
		"-steps", fmt.Sprint(tinySteps), "-checkpoint-every", "1", "-keep", "1000", "-checkpoint-dir", dir}
	return append(args, extra...)
}

// result is what a finished subprocess left behind.
type result struct {
	code   int
	output string // standard output and standard error, interleaved
	wall   time.Duration
}

// run runs bin with args to completion. env entries are added to the environment.
func run(t *testing.T, bin string, env []string, args ...string) result {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), env...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	start := time.Now()
	err := cmd.Run()
	r := result{output: out.String(), wall: time.Since(start)}
	if err != nil {
		ee, ok := err.(*exec.ExitError)
		if !ok {
			t.Fatalf("running %s: %v", bin, err)
		}
		r.code = ee.ExitCode()
	}
	return r
}

// assertNoStackTrace fails if out looks like a Go panic or runtime crash.
func assertNoStackTrace(t *testing.T, what, out string) {
	t.Helper()
	for _, bad := range []string{"panic:", "goroutine ", "fatal error:", "SIGSEGV"} {
		if strings.Contains(out, bad) {
			t.Errorf("%s: the output contains %q (a crash):\n%s", what, bad, out)
		}
	}
}

var (
	refOnce sync.Once
	refDir  string
	refErr  error
	refWall time.Duration
)

// reference returns the folder of an uninterrupted tiny run (every checkpoint kept), made once
// and shared by the tests that compare against it.
func reference(t *testing.T) string {
	t.Helper()
	refOnce.Do(func() {
		var err error
		if refDir, err = os.MkdirTemp("", "faults-ref-"); err != nil {
			refErr = err
			return
		}
		r := run(t, bins.train, nil, tinyArgs(refDir)...)
		refWall = r.wall
		if r.code != 0 {
			refErr = fmt.Errorf("the uninterrupted reference run exited with %d:\n%s", r.code, r.output)
			return
		}
		t.Logf("uninterrupted reference run: %d steps, %s wall (XLA compilation dominates)", tinySteps, r.wall.Round(time.Millisecond))
	})
	if refErr != nil {
		t.Fatal(refErr)
	}
	return refDir
}

// ckptPath is the path of the checkpoint of step in dir.
func ckptPath(dir string, step int) string {
	return (&checkpoints.Manager{Dir: dir}).PathForStep(int64(step))
}

// loadState loads a checkpoint and fails the test if it does not verify.
func loadState(t *testing.T, path string) *checkpoints.State {
	t.Helper()
	s, err := checkpoints.Load(path)
	if err != nil {
		t.Fatalf("loading %s: %v", path, err)
	}
	return s
}

// sameState returns the differences between two checkpoints: step, data position and every
// variable compared bit for bit (the resume is meant to be exact). At most a few are listed.
func sameState(a, b *checkpoints.State) []string {
	var diffs []string
	if a.Step != b.Step {
		diffs = append(diffs, fmt.Sprintf("step %d vs %d", a.Step, b.Step))
	}
	if !jsonEqual(a.Data, b.Data) {
		diffs = append(diffs, fmt.Sprintf("data position %s vs %s", a.Data, b.Data))
	}
	bv := map[string]checkpoints.Variable{}
	for _, v := range b.Variables {
		bv[v.Key()] = v
	}
	if len(a.Variables) != len(b.Variables) {
		diffs = append(diffs, fmt.Sprintf("%d variables vs %d", len(a.Variables), len(b.Variables)))
	}
	for _, va := range a.Variables {
		vb, ok := bv[va.Key()]
		if !ok {
			diffs = append(diffs, "variable "+va.Key()+" only in the first")
			continue
		}
		if !va.Value.Shape().Equal(vb.Value.Shape()) {
			diffs = append(diffs, fmt.Sprintf("variable %s: shape %s vs %s", va.Key(), va.Value.Shape(), vb.Value.Shape()))
			continue
		}
		var ba, bb []byte
		va.Value.ConstBytes(func(d []byte) { ba = bytes.Clone(d) })
		vb.Value.ConstBytes(func(d []byte) { bb = bytes.Clone(d) })
		if !bytes.Equal(ba, bb) {
			diffs = append(diffs, fmt.Sprintf("variable %s (%s) differs", va.Key(), va.Value.Shape()))
		}
	}
	if len(diffs) > 5 {
		diffs = append(diffs[:5], fmt.Sprintf("... and %d more", len(diffs)-5))
	}
	return diffs
}

func jsonEqual(a, b json.RawMessage) bool {
	var x, y any
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		return bytes.Equal(a, b)
	}
	xa, _ := json.Marshal(x)
	ya, _ := json.Marshal(y)
	return bytes.Equal(xa, ya)
}

// assertMatchesReference checks that the final checkpoint in dir equals the reference run's.
func assertMatchesReference(t *testing.T, dir string) {
	t.Helper()
	ref := loadState(t, ckptPath(reference(t), tinySteps))
	defer ref.Free()
	got := loadState(t, ckptPath(dir, tinySteps))
	defer got.Free()
	if d := sameState(got, ref); len(d) > 0 {
		t.Errorf("the resumed run's final checkpoint differs from the uninterrupted run's:\n  %s", strings.Join(d, "\n  "))
	}
}

// copyFile copies src to dst (mode 0644).
func copyFile(t *testing.T, src, dst string) {
	t.Helper()
	data, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// flipByte XORs the byte at offset (negative: from the end) of the file with 0xFF.
func flipByte(t *testing.T, path string, offset int64) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if offset < 0 {
		st, err := f.Stat()
		if err != nil {
			t.Fatal(err)
		}
		offset += st.Size()
	}
	b := make([]byte, 1)
	if _, err := f.ReadAt(b, offset); err != nil {
		t.Fatalf("reading byte %d of %s: %v", offset, path, err)
	}
	b[0] ^= 0xFF
	if _, err := f.WriteAt(b, offset); err != nil {
		t.Fatal(err)
	}
}

// dataOffset returns the offset in the file of a byte in the middle of the largest tensor's data
// of the checkpoint at path (covered by the checksum only).
func dataOffset(t *testing.T, path string) int64 {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		t.Fatal(err)
	}
	h, err := safetensors.ReadHeader(f, st.Size())
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	var big safetensors.Info
	for _, ti := range h.Tensors {
		if ti.End-ti.Begin > big.End-big.Begin {
			big = ti
		}
	}
	return 8 + h.Len + (big.Begin+big.End)/2
}

// changeStep rewrites the digit of the step in the header of the checkpoint at path (1 becomes 2,
// any other digit 1): the file stays a well-formed safetensors file with a plausible step, so
// only the checksum can tell.
func changeStep(t *testing.T, path string) {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	i := bytes.Index(raw, []byte(`"step":"`))
	if i < 0 {
		t.Fatalf("%s: no step in the header", path)
	}
	i += len(`"step":"`)
	if raw[i] == '1' {
		raw[i] = '2'
	} else {
		raw[i] = '1'
	}
	if err := os.WriteFile(path, raw, 0o644); err != nil {
		t.Fatal(err)
	}
}

// newRNG returns the seeded random source of the kill moments and logs its seed.
func newRNG(t *testing.T) *rand.Rand {
	seed := *seedFlag
	if seed == 0 {
		seed = uint64(time.Now().UnixNano())
	}
	t.Logf("random kill moments: -faults.seed %d", seed)
	return rand.New(rand.NewPCG(seed, 0x5eed))
}

// exitCode is the exit status of a finished command, or -signal when a signal ended it.
func exitCode(ps *os.ProcessState) int {
	if ws, ok := ps.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return -int(ws.Signal())
	}
	return ps.ExitCode()
}
