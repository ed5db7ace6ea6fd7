// Command bench runs the VICReg training step, the encoder's inference pass and a large matrix
// product on our side (GoMLX on the backend GOMLX_BACKEND selects, xla:cpu by default) and, with
// the same configurations, on PyTorch (torch_step.py, Debian's python3-torch, tuned as a careful
// user would), and prints one markdown table: views/s (a training image is two views), the ratio ours/PyTorch, achieved GFLOP/s
// (analytic FLOP counts), the share of the machine's measured matmul peak, first-step (compile)
// time and peak resident memory. Each configuration runs in its own process, so the peak memory
// figures are per configuration. It names the CPU (model, AVX-512, AVX512_BF16, AMX); on a CPU
// with bfloat16 hardware it adds mixed-precision rows: ours at -precision bf16 beside PyTorch
// under bf16 autocast.
//
// With -device cuda both sides run on the GPU (ours needs GOMLX_BACKEND=xla:cuda): the ResNet-18
// CIFAR step at batch 256 and 1024, its inference, and the ResNet-50 224 px step at batch 128,
// each in float32 and bf16, with each process's peak GPU memory and utilisation from nvidia-smi.
//
//	go run ./bench                                   # every configuration, batch 256
//	go run ./bench -configs w16 -batch 64 -steps 2   # a quick run
//	go run ./bench -rss-steps 1000                   # resident memory over 1,000 small steps
//	go run ./bench -ops                              # convolution and batch-norm ops, stage by stage
//	go run ./bench -pipeline                         # two-view augmentation throughput, all cores and one
//	GOMLX_BACKEND=xla:cuda go run ./bench -device cuda -python python3   # on a GPU
//	go run -tags levers ./bench -levers              # the lever experiments (not in the shipped bench)
package main

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"

	"github.com/charmbracelet/log"

	"github.com/gomlx-ssl/vicreg/backend"
	"github.com/gomlx-ssl/vicreg/internal/cpuinfo"
	"github.com/gomlx-ssl/vicreg/internal/flagargs"
	"github.com/gomlx-ssl/vicreg/models"
)

//go:embed torch_step.py
var torchScript []byte

// options are the command's flags.
type options struct {
	configs, expander, python, side string
	device                          string
	batch, warmup, steps, peak      int
	rssSteps, rssWidth, rssBatch    int
	levers, ompPassive, ops         bool
	pipeline                        bool
	pipelineSeconds                 float64
	opsWidths, opsPrecision         string
	child, xlaFlags                 string
}

func main() {
	var o options
	flag.StringVar(&o.configs, "configs", "", "comma-separated substrings of the configuration names to run (default all: r18w64/r18w16 × train-sgd, train-lars, infer)")
	flag.IntVar(&o.batch, "batch", 256, "batch size per view")
	flag.StringVar(&o.expander, "expander", "2048-2048-2048", "expander widths")
	flag.IntVar(&o.warmup, "warmup", 2, "untimed calls, the first (compile) included")
	flag.IntVar(&o.steps, "steps", 3, "timed steps")
	flag.IntVar(&o.peak, "peak", 2048, "size of the square float32 matrix product that measures the peak (0: skip)")
	flag.StringVar(&o.side, "side", "both", "which side runs: both, ours or torch")
	flag.StringVar(&o.python, "python", "/usr/bin/python3", "Python with torch and torchvision (Debian's python3-torch on the CPU)")
	flag.StringVar(&o.device, "device", "cpu", "cpu, or cuda: both sides on the GPU (ours with GOMLX_BACKEND=xla:cuda), the GPU rows")
	flag.IntVar(&o.rssSteps, "rss-steps", 0, "instead of the table: run this many training steps of a small configuration and report resident memory every 100 steps")
	flag.IntVar(&o.rssWidth, "rss-width", 8, "ResNet-18 width of the -rss-steps configuration")
	flag.IntVar(&o.rssBatch, "rss-batch", 32, "batch of the -rss-steps configuration")
	flag.BoolVar(&o.ompPassive, "omp-passive", true, "run PyTorch with OMP_WAIT_POLICY=PASSIVE (sleeping, not spinning, OpenMP threads)")
	flag.BoolVar(&o.levers, "levers", false, "instead of the table: the lever micro-benchmarks (layout, XLA flags, bf16, plugins, forward/backward/update split; build with -tags levers)")
	flag.BoolVar(&o.ops, "ops", false, "instead of the table: each convolution and batch-norm op of the training step at each ResNet-18 stage, on both sides, and what each difference costs a step")
	flag.BoolVar(&o.pipeline, "pipeline", false, "instead of the table: the input pipeline's two-view augmentation throughput on every core and on one")
	flag.Float64Var(&o.pipelineSeconds, "pipeline-seconds", 5, "-pipeline: seconds per measurement")
	flag.StringVar(&o.opsWidths, "ops-widths", "64,16", "-ops: the ResNet-18 widths, comma-separated")
	flag.StringVar(&o.opsPrecision, "ops-precision", "f32", "-ops: f32, or bf16 (the ops on bfloat16 operands, as -precision bf16 and PyTorch's bf16 autocast run them)")
	flag.StringVar(&o.xlaFlags, "xla-flags", "--xla_cpu_use_thunk_runtime=false;--xla_cpu_enable_fast_math=true;--xla_cpu_use_xnnpack=true;--xla_cpu_use_onednn=true;--xla_cpu_multi_thread_eigen=false", "-levers: the XLA_FLAGS settings compared with none, separated by ';'")
	flag.StringVar(&o.child, "child", "", "internal: run one JSON-encoded job in this process and print its result")
	flag.Parse()
	// The flag package stops at the first argument that is not a flag: refuse it rather than run
	// without the flags after it.
	if flag.NArg() > 0 {
		fmt.Fprintf(os.Stderr, "bench: %s\nRun 'go run ./bench -h' for the flags.\n", flagargs.Stray(flag.CommandLine, os.Args[1:]))
		os.Exit(2)
	}
	if err := run(o); err != nil {
		log.Error(err)
		if _, ok := err.(usageError); ok {
			os.Exit(2)
		}
		os.Exit(1)
	}
}

// usageError is a bad flag value: exit status 2.
type usageError string

func (e usageError) Error() string { return string(e) }

// check returns what is wrong with the flags (a usageError), or nil.
func (o options) check() error {
	var msg string
	switch {
	case o.warmup < 1 || o.steps < 1:
		msg = fmt.Sprintf("-warmup %d and -steps %d must both be >= 1", o.warmup, o.steps)
	case o.device != "cpu" && o.device != "cuda":
		msg = fmt.Sprintf("-device %q: want cpu or cuda", o.device)
	case o.side != "both" && o.side != "ours" && o.side != "torch":
		msg = fmt.Sprintf("-side %q: want both, ours or torch", o.side)
	case o.batch < 2:
		msg = fmt.Sprintf("-batch %d: want at least 2 (the training step's batch statistics need two images)", o.batch)
	case o.peak < 0:
		msg = fmt.Sprintf("-peak %d: want a matrix size >= 1, or 0 to skip the peak", o.peak)
	case o.rssSteps < 0:
		msg = fmt.Sprintf("-rss-steps %d: want a number of steps >= 1, or 0 for the table", o.rssSteps)
	case o.rssSteps > 0 && (o.rssWidth < 1 || o.rssBatch < 2):
		msg = fmt.Sprintf("-rss-width %d and -rss-batch %d: want a width >= 1 and a batch >= 2", o.rssWidth, o.rssBatch)
	case !(o.pipelineSeconds > 0) || math.IsInf(o.pipelineSeconds, 0):
		msg = fmt.Sprintf("-pipeline-seconds %g: want a number of seconds > 0", o.pipelineSeconds)
	default:
		return nil
	}
	return usageError(msg)
}

func run(o options) error {
	if o.child != "" {
		return runChild(o.child)
	}
	if err := o.check(); err != nil {
		return err
	}
	exp, err := models.ParseExpander(o.expander)
	if err != nil {
		return err
	}
	if o.device == "cuda" && !strings.Contains(backend.Config(), "cuda") {
		return fmt.Errorf("-device cuda runs PyTorch on the GPU: run ours there too with %s=xla:cuda (now %q)", backend.EnvVar, backend.Config())
	}
	switch {
	case o.pipeline:
		return runPipeline(o.pipelineSeconds)
	case o.rssSteps > 0:
		return runRSS(o, exp)
	case o.levers:
		return runLevers(o)
	case o.ops:
		torch, cleanup, err := newTorchSide(o.python, o.ompPassive, "cpu")
		if err != nil {
			return err
		}
		defer cleanup()
		return runOps(o, torch)
	}
	cpu, err := cpuinfo.Read()
	if err != nil {
		log.Warn("CPU features unknown", "err", err)
	}
	all := defaultConfigs(o.batch, exp, cpu.BF16())
	if o.device == "cuda" {
		all = gpuConfigs()
	}
	cfgs, err := selectConfigs(all, o.configs)
	if err != nil {
		return err
	}
	return runTable(o, cfgs)
}

// job is what a child process runs.
type job struct {
	Kind     string      `json:"kind"` // "config", "peak", "rss" or a lever name
	Config   benchConfig `json:"config"`
	Warmup   int         `json:"warmup"`
	Steps    int         `json:"steps"`
	Size     int         `json:"size,omitempty"`
	Variant  string      `json:"variant,omitempty"`
	XLAFlags string      `json:"xla_flags,omitempty"`
	Conv     *convSpec   `json:"conv,omitempty"`
}

// runChild runs one job in this process and prints its result as the last line of stdout.
func runChild(spec string) error {
	var j job
	if err := json.Unmarshal([]byte(spec), &j); err != nil {
		return fmt.Errorf("-child %q: %w", spec, err)
	}
	b, err := backend.New()
	if err != nil {
		return err
	}
	defer b.Finalize()
	var out any
	switch j.Kind {
	case "config":
		out = runOurs(b, j.Config, j.Warmup, j.Steps)
	case "peak":
		out = matmulPeak(b, j.Size, j.Warmup, j.Steps)
	case "rss":
		out = rssSamples(b, j.Config, j.Steps)
	case "ops":
		out = opsBench(b, j)
	default:
		out = runLeverJob(b, j)
	}
	line, err := json.Marshal(out)
	if err != nil {
		return err
	}
	fmt.Println(string(line))
	return nil
}

// inChild runs j in a fresh process of this binary (extra environment appended) and decodes the
// last stdout line into out.
func inChild(j job, extraEnv []string, out any) error {
	return inChildWrapped(j, extraEnv, nil, out)
}

// inChildWrapped is inChild with a command prefix (such as taskset -c 0).
func inChildWrapped(j job, extraEnv, wrap []string, out any) error {
	self, err := os.Executable()
	if err != nil {
		return err
	}
	spec, _ := json.Marshal(j)
	args := append(slices.Clone(wrap), self, "-child", string(spec))
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Env = append(os.Environ(), extraEnv...)
	if j.XLAFlags != "" {
		cmd.Env = append(cmd.Env, "XLA_FLAGS="+j.XLAFlags)
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("child %s %s: %w\n%s", j.Kind, j.Config.Name, err, tail(stderr.String(), 2000))
	}
	return decodeLastLine(stdout.Bytes(), out)
}

// decodeLastLine decodes the last non-empty line of text as JSON.
func decodeLastLine(text []byte, out any) error {
	lines := strings.Split(strings.TrimSpace(string(text)), "\n")
	last := lines[len(lines)-1]
	if err := json.Unmarshal([]byte(last), out); err != nil {
		return fmt.Errorf("decoding result line %q: %w", last, err)
	}
	return nil
}

func tail(s string, n int) string {
	if len(s) > n {
		return "..." + s[len(s)-n:]
	}
	return s
}

// torchSide runs torch_step.py with the tuned environment.
type torchSide struct {
	python, script string
	passive        bool   // OMP_WAIT_POLICY=PASSIVE
	device         string // "cpu" or "cuda"
	note           string // why the PyTorch columns are empty, when they are
	// coreType is the OPENBLAS_CORETYPE PyTorch runs with where OpenBLAS does not know the CPU
	// (openBLASCoreType), and blasNote says so; both empty otherwise.
	coreType, blasNote string
}

// jemalloc is the allocator a careful PyTorch user preloads on the CPU (Debian's libjemalloc2).
const jemalloc = "/usr/lib/x86_64-linux-gnu/libjemalloc.so.2"

// openBLAS is the folder of OpenBLAS's pthread build (Debian's libopenblas0-pthread), whose
// libblas.so.3 a careful PyTorch user loads. Without it, Debian's torch takes the libblas.so.3
// that the alternatives system points to, which may be the reference BLAS: on an AMD EPYC (Zen 3)
// the bench's 2048x2048 product ran at 4.8 GFLOP per CPU-second with it, 92 with OpenBLAS.
const openBLAS = "/usr/lib/x86_64-linux-gnu/openblas-pthread"

// missingTorchLibraries names the libraries of a careful PyTorch user's CPU set-up (OpenBLAS's
// pthread build in openBLASDir, jemalloc at jemallocPath) that this machine lacks, one note each,
// with the Debian package that installs it: the PyTorch columns are then not the reference's best.
func missingTorchLibraries(openBLASDir, jemallocPath string) []string {
	var notes []string
	if _, err := os.Stat(filepath.Join(openBLASDir, "libblas.so.3")); err != nil {
		notes = append(notes, "PyTorch ran WITHOUT OpenBLAS ("+filepath.Join(openBLASDir, "libblas.so.3")+" is not installed: Debian's libopenblas0-pthread): "+
			"its matrix products used the system's libblas.so.3, possibly the reference BLAS, about 20 times slower per CPU-second; install it and rerun before comparing.")
	}
	if _, err := os.Stat(jemallocPath); err != nil {
		notes = append(notes, "PyTorch ran without jemalloc ("+jemallocPath+" is not installed: Debian's libjemalloc2).")
	}
	return notes
}

// torchEnv is the environment a careful PyTorch user sets on this machine: OpenBLAS's pthread
// build, jemalloc that keeps freed pages (when it is installed), and no OPENBLAS_CORETYPE /
// OPENBLAS_L2_SIZE overrides of the caller's (torchSide adds its own where OpenBLAS does not know
// the CPU: openBLASCoreType). With passive, OpenMP threads sleep at barriers instead of spinning:
// on a machine whose cores are shared with other work, spinning made PyTorch's 2-thread steps
// about 10 times slower. On a GPU (device "cuda") only the OpenBLAS overrides are removed: the
// work is on the GPU and the Python environment is the GPU machine's own.
func torchEnv(passive bool, device string) []string {
	var env []string
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		switch name {
		case "OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE", "LD_LIBRARY_PATH", "LD_PRELOAD", "MALLOC_CONF", "OMP_NUM_THREADS", "OMP_WAIT_POLICY":
			continue
		}
		env = append(env, kv)
	}
	if device == "cuda" {
		return env
	}
	ld := openBLAS
	if old := os.Getenv("LD_LIBRARY_PATH"); old != "" {
		ld += ":" + old
	}
	// As many threads as XLA's CPU client uses: every CPU this process may run on.
	env = append(env, "LD_LIBRARY_PATH="+ld, fmt.Sprintf("OMP_NUM_THREADS=%d", runtime.NumCPU()))
	if _, err := os.Stat(jemalloc); err == nil {
		env = append(env, "LD_PRELOAD="+jemalloc, "MALLOC_CONF=dirty_decay_ms:-1,muzzy_decay_ms:-1")
	}
	if passive {
		env = append(env, "OMP_WAIT_POLICY=PASSIVE")
	}
	return env
}

// newTorchSide writes the embedded script to a temporary folder and checks that python has torch.
func newTorchSide(python string, passive bool, device string) (*torchSide, func(), error) {
	dir, err := os.MkdirTemp("", "vicreg-bench-")
	if err != nil {
		return nil, nil, err
	}
	cleanup := func() { os.RemoveAll(dir) }
	t := &torchSide{python: python, passive: passive, device: device, script: filepath.Join(dir, "torch_step.py")}
	if err := os.WriteFile(t.script, torchScript, 0o644); err != nil {
		cleanup()
		return nil, nil, fmt.Errorf("writing %s: %w", t.script, err)
	}
	check := "import torch, torchvision"
	if device == "cuda" {
		check += "; assert torch.cuda.is_available(), 'torch.cuda.is_available() is False'"
	}
	if out, err := exec.Command(python, "-c", check).CombinedOutput(); err != nil {
		t.note = fmt.Sprintf("PyTorch columns skipped: %s cannot import torch and torchvision (%v: %s); install Debian's python3-torch python3-torchvision", python, err, strings.TrimSpace(tail(string(out), 300)))
		if device == "cuda" {
			t.note = fmt.Sprintf("PyTorch columns skipped: %s has no CUDA torch (%v: %s)", python, err, strings.TrimSpace(tail(string(out), 300)))
		}
		return t, cleanup, nil
	}
	if device == "cpu" {
		// Which kernels OpenBLAS picked for this CPU: it says so with OPENBLAS_VERBOSE=2.
		cmd := exec.Command(python, "-c", "import torch; torch.ones(64, 64) @ torch.ones(64, 64)")
		cmd.Env = append(torchEnv(passive, device), "OPENBLAS_VERBOSE=2")
		out, _ := cmd.CombinedOutput()
		if cpu, err := cpuinfo.Read(); err == nil {
			t.coreType, t.blasNote = openBLASCoreType(string(out), cpu)
		}
	}
	return t, cleanup, nil
}

// openBLASCoreType reads the core OpenBLAS chose from its OPENBLAS_VERBOSE=2 output ("Core:
// Prescott") and returns the OPENBLAS_CORETYPE a careful user sets, with a note for the table, when
// OpenBLAS did not know the CPU: it then falls back to Prescott, its kernels for the first 64-bit
// CPUs (Debian's OpenBLAS 0.3.21 does so on an Intel Xeon of family 6, model 207, where its
// 2048x2048 product ran 5 times slower than with SKYLAKEX). On a CPU with AVX-512 the choice is
// SKYLAKEX, its AVX-512 kernels; on another, none is set (a kernel for instructions the CPU lacks
// would crash), and the note says what the user may set.
func openBLASCoreType(verbose string, cpu cpuinfo.CPU) (coreType, note string) {
	_, core, ok := strings.Cut(verbose, "Core: ")
	if !ok {
		return "", ""
	}
	if core, _, _ = strings.Cut(core, "\n"); strings.TrimSpace(core) != "Prescott" {
		return "", ""
	}
	if cpu.AVX512 {
		return "SKYLAKEX", "OpenBLAS does not know this CPU (it chose its Prescott kernels, several times slower): PyTorch ran with OPENBLAS_CORETYPE=SKYLAKEX, its kernels for AVX-512, as a careful user sets."
	}
	return "", "OpenBLAS does not know this CPU and chose its Prescott kernels, several times slower: PyTorch's matrix products are slower than they could be; set OPENBLAS_CORETYPE to the newest kernel set this CPU's instructions allow (HASWELL with AVX2) and rerun before comparing."
}

// torchResult is one line of torch_step.py.
type torchResult struct {
	FirstS       float64 `json:"first_s"`
	StepS        float64 `json:"step_s"`
	ImagesPS     float64 `json:"images_per_s"`
	GFLOPs       float64 `json:"gflops"`
	VmHWMKiB     int64   `json:"vmhwm_kib"`
	CPUCores     float64 `json:"cpu_cores"`
	Encoder      int64   `json:"encoder"`
	Expander     int64   `json:"expander"`
	GPUAllocMiB  float64 `json:"gpu_peak_allocated_mib"`
	GPUReserved  float64 `json:"gpu_peak_reserved_mib"`
	GPU          string  `json:"gpu"`
	TorchVersion string  `json:"torch"`
}

// run executes the script with args and decodes its result line.
func (t *torchSide) run(args ...string) (torchResult, error) {
	var r torchResult
	return r, t.runJSON(&r, args...)
}

// runJSON executes the script with args and decodes its result line into out.
func (t *torchSide) runJSON(out any, args ...string) error {
	if t.note != "" {
		return errors.New(t.note)
	}
	cmd := exec.Command(t.python, append([]string{t.script}, args...)...)
	cmd.Env = torchEnv(t.passive, t.device)
	if t.coreType != "" {
		cmd.Env = append(cmd.Env, "OPENBLAS_CORETYPE="+t.coreType)
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%s %s: %w\n%s", t.python, strings.Join(args, " "), err, tail(stderr.String(), 2000))
	}
	return decodeLastLine(stdout.Bytes(), out)
}

// configArgs are torch_step.py's arguments for c on device.
func configArgs(c benchConfig, warmup, steps int, device string) []string {
	exp := make([]string, len(c.Expander))
	for i, d := range c.Expander {
		exp[i] = fmt.Sprint(d)
	}
	args := []string{"--mode", c.Mode, "--width", fmt.Sprint(c.Width), "--batch", fmt.Sprint(c.Batch),
		"--expander", strings.Join(exp, "-"), "--warmup", fmt.Sprint(warmup), "--steps", fmt.Sprint(steps)}
	if c.Opt != "" {
		args = append(args, "--opt", c.Opt)
	}
	args = append(args, "--arch", c.arch(), "--image", fmt.Sprint(c.image()), "--device", device)
	if c.bf16() {
		args = append(args, "--precision", "bf16")
	}
	// PyTorch computes on as many threads as XLA's CPU client: every CPU the process may use.
	args = append(args, "--threads", fmt.Sprint(runtime.NumCPU()))
	return args
}
