package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/gomlx-ssl/vicreg/backend/backendtest"
	"github.com/gomlx-ssl/vicreg/internal/cpuinfo"
	"github.com/gomlx-ssl/vicreg/models"
)

// TestMACsMatchPyTorchHooks checks the analytic MAC counts against those PyTorch's forward hooks
// count on torchvision's modules (testdata/macs.jsonl, written by testdata/gen_macs.sh).
func TestMACsMatchPyTorchHooks(t *testing.T) {
	f, err := os.Open("testdata/macs.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	n := 0
	for sc.Scan() {
		var fx struct {
			Spec     string `json:"expander_spec"`
			Arch     string `json:"arch"`
			Image    int    `json:"image"`
			Width    int    `json:"width"`
			Encoder  int64  `json:"encoder"`
			Expander int64  `json:"expander"`
		}
		if err := json.Unmarshal(sc.Bytes(), &fx); err != nil {
			t.Fatal(err)
		}
		dims, err := models.ParseExpander(fx.Spec)
		if err != nil {
			t.Fatal(err)
		}
		c := benchConfig{Mode: modeTrain, Arch: fx.Arch, Image: fx.Image, Width: fx.Width, Batch: 10, Expander: dims}
		if got := c.encoderMACs(); got != fx.Encoder {
			t.Errorf("%s %dpx width %d: encoder MACs %d, PyTorch hooks %d", fx.Arch, fx.Image, fx.Width, got, fx.Encoder)
		}
		if got := expanderMACs(c.featureDim(), dims); got != fx.Expander {
			t.Errorf("%s width %d, expander %s: MACs %d, PyTorch hooks %d", fx.Arch, fx.Width, fx.Spec, got, fx.Expander)
		}
		// Plus the covariance products Zᵀ·Z of the two views (10 × d² MACs each), by the same rule;
		// torch.profiler counts them as aten::mm in the forward.
		d := dims[len(dims)-1]
		if got, want := c.flopsPerStep(), float64(3*2*((fx.Encoder+fx.Expander)*20+2*10*int64(d)*int64(d))); got != want {
			t.Errorf("width %d: train FLOPs per step %g, want 3 forwards × 2 FLOPs × (MACs × 20 images + 2 × 10 × d²) = %g", fx.Width, got, want)
		}
		c.Mode = modeInfer
		if got, want := c.flopsPerStep(), float64(2*fx.Encoder*10); got != want {
			t.Errorf("width %d: inference FLOPs %g, want %g", fx.Width, got, want)
		}
		n++
	}
	if n == 0 {
		t.Fatal("no fixture lines")
	}
}

func TestParseStatusKiB(t *testing.T) {
	status := "Name:\tbench\nVmPeak:\t  123456 kB\nVmHWM:\t    2048 kB\nVmRSS:\t    1024 kB\nThreads:\t17\n"
	for _, tc := range []struct {
		field string
		want  int64
		err   string
	}{
		{"VmHWM", 2048, ""},
		{"VmRSS", 1024, ""},
		{"VmSwap", 0, "no field VmSwap"},
		{"Threads", 0, "unexpected value"},
	} {
		got, err := parseStatusKiB(strings.NewReader(status), tc.field)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%s: error %v, want one containing %q", tc.field, err, tc.err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("%s = %d, %v; want %d", tc.field, got, err, tc.want)
		}
	}
}

func TestRSSGrowth(t *testing.T) {
	for _, tc := range []struct {
		steps   []int
		rss     []int64
		growth  int64
		perStep float64
	}{
		// The first sample (step 1) is before allocators settle and is ignored.
		{[]int{1, 100, 200, 300}, []int64{500, 1000, 1000, 1100}, 100, 0.5},
		{[]int{1, 100}, []int64{500, 900}, 0, 0},
		{[]int{1}, []int64{500}, 0, 0},
	} {
		g, p := rssGrowth(tc.steps, tc.rss)
		if g != tc.growth || p != tc.perStep {
			t.Errorf("rssGrowth(%v, %v) = %d, %g; want %d, %g", tc.steps, tc.rss, g, p, tc.growth, tc.perStep)
		}
	}
	// The bound: 64 MiB below 1280 MiB of RSS at step 100, 5% above.
	if got := rssBound([]int{1, 100, 200}, []int64{1 << 20, 700 << 10, 800 << 10}); got != 64<<10 {
		t.Errorf("rssBound at 700 MiB = %d KiB, want 64 MiB", got)
	}
	if got := rssBound([]int{1, 100, 200}, []int64{1 << 20, 4000 << 10, 4100 << 10}); got != 200<<10 {
		t.Errorf("rssBound at 4000 MiB = %d KiB, want 200 MiB", got)
	}
}

func TestSelectConfigs(t *testing.T) {
	all := defaultConfigs(256, []int{2048, 2048, 2048}, false)
	for _, tc := range []struct {
		filter string
		want   []string
		err    string
	}{
		{"", []string{"r18w64-train-sgd-b256", "r18w64-train-lars-b256", "r18w64-infer-b256",
			"r18w16-train-sgd-b256", "r18w16-train-lars-b256", "r18w16-infer-b256"}, ""},
		{"w16-train", []string{"r18w16-train-sgd-b256", "r18w16-train-lars-b256"}, ""},
		{"infer, lars", []string{"r18w64-train-lars-b256", "r18w64-infer-b256", "r18w16-train-lars-b256", "r18w16-infer-b256"}, ""},
		{"w32", nil, `-configs "w32" matches none of r18w64-train-sgd-b256`},
	} {
		got, err := selectConfigs(all, tc.filter)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%q: error %v, want %q", tc.filter, err, tc.err)
			}
			continue
		}
		var names []string
		for _, c := range got {
			names = append(names, c.Name)
		}
		if err != nil || !slices.Equal(names, tc.want) {
			t.Errorf("%q: %v, %v; want %v", tc.filter, names, err, tc.want)
		}
	}
	if c := all[0]; c.imagesPerStep() != 512 {
		t.Errorf("a training step of batch 256 counts %d images, want 512 (two views)", c.imagesPerStep())
	}
	// On a CPU with bf16 hardware, each SGD step and inference has a bf16 row after its float32 row.
	var names []string
	for _, c := range defaultConfigs(64, []int{8}, true) {
		names = append(names, c.Name)
	}
	want := []string{"r18w64-train-sgd-b64", "r18w64-train-sgd-b64-bf16", "r18w64-train-lars-b64", "r18w64-infer-b64", "r18w64-infer-b64-bf16",
		"r18w16-train-sgd-b64", "r18w16-train-sgd-b64-bf16", "r18w16-train-lars-b64", "r18w16-infer-b64", "r18w16-infer-b64-bf16"}
	if !slices.Equal(names, want) {
		t.Errorf("bf16 CPU rows %v, want %v", names, want)
	}
	names = nil
	for _, c := range gpuConfigs() {
		names = append(names, c.Name)
	}
	want = []string{"r18w64-train-sgd-b256", "r18w64-train-sgd-b256-bf16", "r50w64-224px-train-sgd-b128", "r50w64-224px-train-sgd-b128-bf16",
		"r18w64-infer-b256", "r18w64-infer-b256-bf16", "r18w64-train-sgd-b1024", "r18w64-train-sgd-b1024-bf16",
		"r18w64-infer-b1024", "r18w64-infer-b1024-bf16"}
	if !slices.Equal(names, want) {
		t.Errorf("GPU rows %v, want %v", names, want)
	}
}

func TestTorchEnv(t *testing.T) {
	t.Setenv("OPENBLAS_CORETYPE", "Haswell")
	t.Setenv("OPENBLAS_L2_SIZE", "1")
	t.Setenv("LD_LIBRARY_PATH", "/opt/x")
	env := torchEnv(true, "cpu")
	has := func(kv string) bool { return slices.Contains(env, kv) }
	want := []string{"LD_LIBRARY_PATH=/usr/lib/x86_64-linux-gnu/openblas-pthread:/opt/x", "OMP_WAIT_POLICY=PASSIVE", fmt.Sprintf("OMP_NUM_THREADS=%d", runtime.NumCPU())}
	_, err := os.Stat(jemalloc)
	if withJemalloc := err == nil; withJemalloc {
		want = append(want, "LD_PRELOAD="+jemalloc, "MALLOC_CONF=dirty_decay_ms:-1,muzzy_decay_ms:-1")
	} else if has("LD_PRELOAD=" + jemalloc) {
		t.Errorf("LD_PRELOAD of %s, which is not installed (ld.so would print an error per process)", jemalloc)
	}
	for _, kv := range want {
		if !has(kv) {
			t.Errorf("tuned environment lacks %s", kv)
		}
	}
	for _, kv := range env {
		if strings.HasPrefix(kv, "OPENBLAS_CORETYPE=") || strings.HasPrefix(kv, "OPENBLAS_L2_SIZE=") {
			t.Errorf("tuned environment keeps %s", kv)
		}
	}
	if slices.Contains(torchEnv(false, "cpu"), "OMP_WAIT_POLICY=PASSIVE") {
		t.Error("torchEnv(false) sets OMP_WAIT_POLICY=PASSIVE")
	}
	// On a GPU the machine's own Python environment is kept, less the OpenBLAS overrides.
	for _, kv := range torchEnv(true, "cuda") {
		if strings.HasPrefix(kv, "OPENBLAS_") || strings.HasPrefix(kv, "OMP_NUM_THREADS=") || kv == "LD_LIBRARY_PATH=/usr/lib/x86_64-linux-gnu/openblas-pthread:/opt/x" {
			t.Errorf("GPU environment has %s", kv)
		}
	}
}

// TestOpenBLASCoreType: where OpenBLAS does not know the CPU (it then says "Core: Prescott"), PyTorch
// runs with its AVX-512 kernels on a CPU that has AVX-512, and the table says so; on another CPU
// nothing is set (a kernel for missing instructions would crash) and the table says what to set;
// where OpenBLAS knows the CPU, nothing is set or said. With Debian's torch installed, the probe of
// newTorchSide reads the core OpenBLAS chose on this machine.
func TestOpenBLASCoreType(t *testing.T) {
	verbose := "Core: Prescott\n"
	if ct, note := openBLASCoreType(verbose, cpuinfo.CPU{AVX512: true}); ct != "SKYLAKEX" || !strings.Contains(note, "OPENBLAS_CORETYPE=SKYLAKEX") {
		t.Errorf("Prescott on an AVX-512 CPU: %q, %q; want SKYLAKEX, said", ct, note)
	}
	if ct, note := openBLASCoreType(verbose, cpuinfo.CPU{}); ct != "" || !strings.Contains(note, "HASWELL") {
		t.Errorf("Prescott without AVX-512: %q, %q; want nothing set, and HASWELL suggested", ct, note)
	}
	for _, v := range []string{"Core: SkylakeX\n", "Core: Zen\n", "", "Core: PrescottX\n"} {
		if ct, note := openBLASCoreType(v, cpuinfo.CPU{AVX512: true}); ct != "" || note != "" {
			t.Errorf("%q: %q, %q; want nothing", v, ct, note)
		}
	}
	ts, cleanup, err := newTorchSide("/usr/bin/python3", true, "cpu")
	if err != nil {
		t.Fatal(err)
	}
	defer cleanup()
	if ts.note != "" {
		t.Skip(ts.note)
	}
	cmd := exec.Command("/usr/bin/python3", "-c", "import torch; torch.ones(64, 64) @ torch.ones(64, 64)")
	cmd.Env = append(torchEnv(true, "cpu"), "OPENBLAS_VERBOSE=2")
	out, _ := cmd.CombinedOutput()
	_, core, ok := strings.Cut(string(out), "Core: ")
	core, _, _ = strings.Cut(core, "\n")
	t.Logf("%s: OpenBLAS chose %q; OPENBLAS_CORETYPE set: %q", cpuinfo.Describe(), core, ts.coreType)
	if _, err := os.Stat(filepath.Join(openBLAS, "libblas.so.3")); err == nil && !ok {
		t.Errorf("OpenBLAS is installed but said no core with OPENBLAS_VERBOSE=2:\n%s", out)
	}
	if want, _ := openBLASCoreType(string(out), mustCPU(t)); ts.coreType != want {
		t.Errorf("newTorchSide set OPENBLAS_CORETYPE %q, want %q", ts.coreType, want)
	}
}

func mustCPU(t *testing.T) cpuinfo.CPU {
	cpu, err := cpuinfo.Read()
	if err != nil {
		t.Fatal(err)
	}
	return cpu
}

// TestMissingTorchLibraries: the table says when PyTorch ran without OpenBLAS's pthread build or
// jemalloc, naming the Debian package; with both installed it says nothing.
func TestMissingTorchLibraries(t *testing.T) {
	dir := t.TempDir()
	blasDir, jem := filepath.Join(dir, "openblas-pthread"), filepath.Join(dir, "libjemalloc.so.2")
	notes := missingTorchLibraries(blasDir, jem)
	if len(notes) != 2 || !strings.Contains(notes[0], "WITHOUT OpenBLAS") || !strings.Contains(notes[0], "libopenblas0-pthread") ||
		!strings.Contains(notes[1], "without jemalloc") || !strings.Contains(notes[1], "libjemalloc2") {
		t.Errorf("neither installed: notes %q", notes)
	}
	if err := os.MkdirAll(blasDir, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{filepath.Join(blasDir, "libblas.so.3"), jem} {
		if err := os.WriteFile(f, nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if notes := missingTorchLibraries(blasDir, jem); len(notes) != 0 {
		t.Errorf("both installed: notes %q", notes)
	}
}

func TestDecodeLastLine(t *testing.T) {
	var r result
	if err := decodeLastLine([]byte("log line\n{\"config\":\"x\",\"step_s\":0.5}\n\n"), &r); err != nil || r.Config != "x" || r.StepS != 0.5 {
		t.Errorf("got %+v, %v", r, err)
	}
	if err := decodeLastLine([]byte("{\"config\":\"x\"}\nnot json"), &r); err == nil || !strings.Contains(err.Error(), `"not json"`) {
		t.Errorf("error %v should quote the bad line", err)
	}
}

// TestOursRuns runs a tiny inference configuration and the matmul peak in-process: the timings
// are positive and consistent with the reported rates.
func TestOursRuns(t *testing.T) {
	b := backendtest.XLA(t)
	c := benchConfig{Name: "tiny", Mode: modeInfer, Width: 2, Batch: 2, Expander: []int{4}}
	r := runOurs(b, c, 1, 2)
	if r.Err != "" {
		t.Fatal(r.Err)
	}
	if r.StepS <= 0 || r.FirstS <= 0 || r.VmHWMKiB <= 0 {
		t.Errorf("non-positive figures: %+v", r)
	}
	if got := float64(c.Batch) / r.StepS; got != r.ImagesPS {
		t.Errorf("images/s %g, want batch/step_s = %g", r.ImagesPS, got)
	}
	// The mixed-precision training step and a ResNet-50 (ImageNet stem) build and run.
	for _, c := range []benchConfig{
		{Name: "tiny-bf16", Mode: modeTrain, Width: 2, Batch: 4, Opt: "sgd", Expander: []int{4}, Precision: "bf16"},
		{Name: "tiny-r50", Mode: modeInfer, Arch: "resnet50", Image: 32, Width: 2, Batch: 2, Expander: []int{4}},
	} {
		if r := runOurs(b, c, 1, 1); r.Err != "" || r.StepS <= 0 {
			t.Errorf("%s: %+v", c.Name, r)
		}
	}
	p := matmulPeak(b, 32, 1, 2)
	if p.Err != "" {
		t.Fatal(p.Err)
	}
	if want := 2 * 32.0 * 32 * 32 / p.StepS / 1e9; p.PeakGFLOP != want {
		t.Errorf("peak %g GFLOP/s, want 2n³/step = %g", p.PeakGFLOP, want)
	}
}

// TestPrintOps checks the -ops table's arithmetic: the ratio of times, the calls per step (8 for
// a first-stage convolution, 6 for a later one, 10 for a batch norm) and the gap summed over rows.
func TestPrintOps(t *testing.T) {
	ours := []opTiming{
		{Op: opConvForward, HW: 32, C: 16, MS: 30},
		{Op: opConvKernel, HW: 16, C: 32, MS: 50},
		{Op: opBatchNorm, HW: 4, C: 128, MS: 2},
	}
	torch := []opTiming{
		{Op: opConvForward, HW: 32, C: 16, MS: 20},
		{Op: opConvKernel, HW: 16, C: 32, MS: 25},
		{Op: opBatchNorm, HW: 4, C: 128, MS: 4},
	}
	var b strings.Builder
	printOps(&b, 16, 256, ours, torch)
	for _, want := range []string{
		"| conv forward | 32×32×16 | 30.0 | 20.0 | 1.50 | 8 | +0.08 |",         // (30−20)·8 ms
		"| conv kernel gradient | 16×16×32 | 50.0 | 25.0 | 2.00 | 6 | +0.15 |", // (50−25)·6 ms
		"| batch norm forward + backward | 4×4×128 | 2.0 | 4.0 | 0.50 | 10 | -0.02 |",
		"| **all** | | | | | | **+0.21** |",
	} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, b.String())
		}
	}
}

// TestOpsBenchRuns runs every op of -ops once on a tiny width and checks that each stage has one
// positive time per op.
func TestOpsBenchRuns(t *testing.T) {
	b := backendtest.XLA(t)
	r := opsBench(b, job{Kind: "ops", Config: benchConfig{Width: 2, Batch: 2}, Warmup: 1, Steps: 1})
	if r.Err != "" {
		t.Fatal(r.Err)
	}
	if len(r.Ops) != len(stageOps)*4 {
		t.Fatalf("%d timings, want %d (4 ops × 4 stages)", len(r.Ops), len(stageOps)*4)
	}
	for i, o := range r.Ops {
		if o.MS <= 0 || o.Op != stageOps[i%len(stageOps)] || o.HW != 32>>(i/len(stageOps)) {
			t.Errorf("timing %d = %+v", i, o)
		}
	}
}

// TestTorchThreadsMatchOurs: XLA's CPU client runs on every CPU the process may use
// (runtime.NumCPU(): the affinity mask), so PyTorch gets as many threads (OMP_NUM_THREADS and
// torch.set_num_threads); both were 2 for PyTorch whatever the machine. Checked here and, rerun
// under `taskset -c 0`, with one CPU.
func TestTorchThreadsMatchOurs(t *testing.T) {
	torchThreads := func() int {
		n := 0
		for _, kv := range torchEnv(true, "cpu") {
			if v, ok := strings.CutPrefix(kv, "OMP_NUM_THREADS="); ok {
				n, _ = strconv.Atoi(v)
			}
		}
		args := configArgs(benchConfig{Mode: modeTrain, Width: 16, Batch: 8, Opt: "sgd", Expander: []int{8}}, 1, 1, "cpu")
		script := 2 // torch_step.py's --threads default
		for i, a := range args {
			if a == "--threads" {
				script, _ = strconv.Atoi(args[i+1])
			}
		}
		if script != n {
			t.Errorf("OMP_NUM_THREADS=%d but torch.set_num_threads(%d)", n, script)
		}
		return script
	}
	if os.Getenv("VICREG_THREADS_CHILD") == "1" {
		if ours, torch := runtime.NumCPU(), torchThreads(); ours != torch {
			t.Errorf("with %d CPU(s) available: ours runs XLA on %d thread(s), PyTorch on %d", ours, ours, torch)
		}
		return
	}
	if ours, torch := runtime.NumCPU(), torchThreads(); ours != torch {
		t.Errorf("this machine: ours %d threads, PyTorch %d", ours, torch)
	}
	if _, err := exec.LookPath("taskset"); err != nil {
		t.Skip("taskset not installed")
	}
	cmd := exec.Command("taskset", "-c", "0", os.Args[0], "-test.run", "^TestTorchThreadsMatchOurs$", "-test.count", "1", "-test.v")
	cmd.Env = append(os.Environ(), "VICREG_THREADS_CHILD=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Errorf("under taskset -c 0 (one CPU): %v\n%s", err, out)
	}
}
