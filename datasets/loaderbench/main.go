// Command loaderbench measures the input pipeline: two-view training batches per second, and per
// CPU-second ("per core"), from a folder of JPEGs made like ImageNet's, ours side by side with
// torchvision's DataLoader on the same files with the same transforms and the same number of
// workers (torch_loader.py, Debian's python3-torchvision); and the loader's peak resident memory
// on 2,000 and on 20,000 images.
//
//	go run ./datasets/loaderbench                        # the decoding table, 224 px vicreg views
//	go run ./datasets/loaderbench -workers 1,2 -batch 64 -batches 10 -rounds 2
//	go run ./datasets/loaderbench -rss                   # peak RSS on 2,000 vs 20,000 images
//
// The JPEGs (random crops of skimage's photographs, about 500x375, quality 90) are written once
// into -dir by torch_loader.py and reused; they are never committed. Each measurement runs in a
// fresh process, ours and torchvision's alternating, so that a loaded machine slows both alike;
// per-core rates (batches per CPU-second of all the processes' threads) are the figure to compare.
// It prints numbers and asserts nothing. Exit status: 0 on success, 1 on failure, 2 on a usage
// error (a bad flag or value, an argument that is not a flag, a -dir that holds other files).
package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/charmbracelet/log"

	"github.com/gomlx-ssl/vicreg/datasets"
	"github.com/gomlx-ssl/vicreg/internal/cpuinfo"
	"github.com/gomlx-ssl/vicreg/internal/flagargs"
)

func main() { os.Exit(run(os.Args[1:])) }

type options struct {
	dir, python, script          string
	images, batch, batches, size int
	rounds                       int
	workers                      []int
	levers, rss                  bool
	child                        bool
	decoder                      string
	reduced                      bool
	childImages                  int
	warmup                       int
	rssImages                    string
	rssSteps                     int
}

func run(args []string) int {
	var o options
	fs := flag.NewFlagSet("loaderbench", flag.ContinueOnError)
	fs.StringVar(&o.dir, "dir", filepath.Join(os.TempDir(), "vicreg-loaderbench"), "folder for the benchmark's JPEGs (written once, reused; a folder that holds other files is refused, not emptied)")
	fs.StringVar(&o.python, "python", "/usr/bin/python3", "Python with torch, torchvision and PIL (Debian's python3-torchvision)")
	fs.IntVar(&o.images, "images", 512, "JPEGs to write for the decoding table")
	fs.IntVar(&o.batch, "batch", 64, "images per batch (two views each)")
	fs.IntVar(&o.batches, "batches", 8, "timed batches per measurement")
	fs.IntVar(&o.warmup, "warmup", 2, "batches before the timing starts")
	fs.IntVar(&o.size, "size", 224, "view side in pixels")
	fs.IntVar(&o.rounds, "rounds", 2, "measurements of each row (ours and torchvision's alternating); the best is shown")
	workers := fs.String("workers", "1,2", "worker counts (goroutines for ours, processes for torchvision)")
	fs.BoolVar(&o.levers, "levers", true, "also measure the levers: Go's decoder instead of libjpeg-turbo, reduced-DCT-scale decoding")
	fs.BoolVar(&o.rss, "rss", false, "measure peak resident memory on 2,000 and 20,000 images instead")
	fs.IntVar(&o.rssSteps, "rss-steps", 8, "loader steps of each memory measurement")
	fs.BoolVar(&o.child, "child", false, "internal: one measurement of ours, printed as JSON")
	fs.StringVar(&o.decoder, "decoder", "libjpeg", "internal (-child): libjpeg or go")
	fs.BoolVar(&o.reduced, "reduced", false, "internal (-child): reduced-DCT-scale decoding")
	fs.StringVar(&o.rssImages, "rss-folder", "", "internal (-child): the folder of a memory measurement")
	if err := flagargs.Parse(fs, args, "./datasets/loaderbench"); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	usage := func(format string, a ...any) int {
		fmt.Fprintf(os.Stderr, "loaderbench: "+format+"\nRun 'go run ./datasets/loaderbench -h' for the flags.\n", a...)
		return 2
	}
	// The flags after a stray argument were not read; a count below 1 measures nothing (-rounds 0
	// has no best, nor median, to show).
	switch {
	case fs.NArg() > 0:
		return usage("%s", flagargs.Stray(fs, args))
	case o.images < 1:
		return usage("-images %d: want at least 1", o.images)
	case o.batch < 1:
		return usage("-batch %d: want at least 1", o.batch)
	case o.batches < 1:
		return usage("-batches %d: want at least 1", o.batches)
	case o.warmup < 0:
		return usage("-warmup %d: want 0 or more", o.warmup)
	case o.size < 1:
		return usage("-size %d: want a view side of at least 1 pixel", o.size)
	case o.rounds < 1:
		return usage("-rounds %d: want at least 1", o.rounds)
	case o.rssSteps < 1:
		return usage("-rss-steps %d: want at least 1", o.rssSteps)
	}
	// The flags that only one measurement reads: the flag package accepts them in both, where the
	// other would ignore them without a word (a child, run by the benchmark, is given what it reads).
	if !o.child {
		given := map[string]bool{}
		fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
		for _, name := range []string{"images", "batches", "warmup", "levers"} {
			if o.rss && given[name] {
				return usage("-%s applies to the throughput table, not to -rss (the memory of -rss-steps loader steps on 2,000 and 20,000 images): leave it out", name)
			}
		}
		if !o.rss && given["rss-steps"] {
			return usage("-rss-steps applies to the memory measurement: give -rss too, or leave it out")
		}
	}
	for _, w := range strings.Split(*workers, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(w))
		if err != nil || n < 1 {
			fmt.Fprintf(os.Stderr, "loaderbench: -workers %q: want counts >= 1 such as 1,2\n", *workers)
			return 2
		}
		o.workers = append(o.workers, n)
	}
	if o.child {
		return child(o)
	}
	exe, err := os.Executable()
	if err != nil {
		fmt.Fprintln(os.Stderr, "loaderbench:", err)
		return 1
	}
	if o.rss {
		return rss(o, exe)
	}
	return table(o, exe)
}

// measurement is what one process reports.
type measurement struct {
	Batches   int     `json:"batches"`
	Wall      float64 `json:"wall_s"`
	CPU       float64 `json:"cpu_s"`
	MaxRSSMiB float64 `json:"max_rss_mib"`
	Decoder   string  `json:"decoder"`
}

func (m measurement) rate() float64    { return float64(m.Batches) / m.Wall }
func (m measurement) perCore() float64 { return float64(m.Batches) / m.CPU }

func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func maxRSSMiB() float64 {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return float64(ru.Maxrss) / 1024 // kilobytes on Linux
}

// child runs one measurement of our loader and prints it as JSON.
func child(o options) int {
	dir := o.dir
	if o.rssImages != "" {
		dir = o.rssImages
	}
	f, err := datasets.OpenFolder(dir, "")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	aug, _ := datasets.Preset("vicreg", f)
	cfg := datasets.LoaderConfig{BatchSize: o.batch, Seed: 1, Workers: o.workers[0], Augmentation: aug.WithSize(o.size),
		ReducedDecode: o.reduced, Logger: log.New(io.Discard)}
	l, err := datasets.NewLoader(f, cfg, datasets.Position{})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer l.Close()
	steps := o.batches
	if o.rssImages != "" {
		steps = o.rssSteps
	}
	for range o.warmup {
		if _, err := l.Next(); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
	}
	start, cpu0 := time.Now(), cpuTime()
	for range steps {
		if _, err := l.Next(); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
	}
	m := measurement{Batches: steps, Wall: time.Since(start).Seconds(), CPU: (cpuTime() - cpu0).Seconds(), Decoder: datasets.JPEGDecoder()}
	l.Close()
	m.MaxRSSMiB = maxRSSMiB()
	out, _ := json.Marshal(m)
	fmt.Println(string(out))
	return 0
}

// runJSON runs a command and decodes the last line of its standard output.
func runJSON(cmd *exec.Cmd) (measurement, error) {
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		return measurement{}, fmt.Errorf("%s: %v\n%s", strings.Join(cmd.Args, " "), err, errb.String())
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	var m measurement
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &m); err != nil {
		return measurement{}, fmt.Errorf("%s: %v: %q", strings.Join(cmd.Args, " "), err, out.String())
	}
	return m, nil
}

func scriptPath() (string, error) {
	_, err := os.Stat("datasets/loaderbench/torch_loader.py")
	if err == nil {
		return "datasets/loaderbench/torch_loader.py", nil
	}
	return "", errors.New("run it from the repository root (datasets/loaderbench/torch_loader.py not found)")
}

// usageError is an error the user's arguments cause: exit status 2.
type usageError string

func (e usageError) Error() string { return string(e) }

// ownName is the name of each file the benchmark writes (torch_loader.py's, and rss's links).
var ownName = regexp.MustCompile(`^img\d{6}\.jpg$`)

// ensureImages writes the JPEGs into dir unless it already holds n of them. A folder that holds
// anything but the benchmark's own files is refused (a usageError), never emptied: -dir may name a
// folder of the user's photos.
func ensureImages(o options, dir string, n int) error {
	if files, _ := filepath.Glob(filepath.Join(dir, "*.jpg")); len(files) == n {
		return nil
	}
	entries, err := os.ReadDir(dir)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	for _, e := range entries {
		if !ownName.MatchString(e.Name()) {
			return usageError(fmt.Sprintf("-dir: %s holds %s, which this benchmark did not write, and not the %d JPEGs it needs: "+
				"it empties the folder before writing them, so give -dir a new or empty folder (nothing was removed)",
				dir, filepath.Join(dir, e.Name()), n))
		}
	}
	if err := os.RemoveAll(dir); err != nil {
		return err
	}
	script, err := scriptPath()
	if err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "writing %d JPEGs into %s\n", n, dir)
	cmd := exec.Command(o.python, script, "--make", dir, "--images", strconv.Itoa(n))
	cmd.Stderr = os.Stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("the JPEGs were not written (%s --make says why, above): %w", filepath.Base(script), err)
	}
	return nil
}

type row struct {
	name         string
	ours, theirs []measurement
	workers      int
	decoder      string
}

func best(ms []measurement, f func(measurement) float64) float64 {
	b := 0.0
	for _, m := range ms {
		b = max(b, f(m))
	}
	return b
}

func table(o options, exe string) int {
	if err := ensureImages(o, o.dir, o.images); err != nil {
		return failed(err)
	}
	script, err := scriptPath()
	if err != nil {
		fmt.Fprintln(os.Stderr, "loaderbench:", err)
		return 1
	}
	type variant struct {
		name, decoder string
		reduced       bool
		torch         bool
	}
	variants := []variant{{"ours (libjpeg-turbo)", "libjpeg", false, true}}
	if o.levers {
		variants = append(variants, variant{"ours, Go's image/jpeg", "go", false, false},
			variant{"ours, reduced DCT scale", "libjpeg", true, false})
	}
	var rows []*row
	for _, w := range o.workers {
		for _, v := range variants {
			r := &row{name: v.name, workers: w}
			rows = append(rows, r)
			for round := range o.rounds {
				args := []string{"-child", "-dir", o.dir, "-batch", strconv.Itoa(o.batch), "-batches", strconv.Itoa(o.batches),
					"-warmup", strconv.Itoa(o.warmup), "-size", strconv.Itoa(o.size), "-workers", strconv.Itoa(w), "-decoder", v.decoder}
				if v.reduced {
					args = append(args, "-reduced")
				}
				cmd := exec.Command(exe, args...)
				cmd.Env = os.Environ()
				if v.decoder == "go" {
					cmd.Env = append(cmd.Env, "VICREG_JPEG=go")
				}
				m, err := runJSON(cmd)
				if err != nil {
					fmt.Fprintln(os.Stderr, "loaderbench:", err)
					return 1
				}
				r.ours = append(r.ours, m)
				r.decoder = m.Decoder
				fmt.Fprintf(os.Stderr, "%s, %d workers, round %d: %.3f batches/s, %.3f per CPU-second\n", v.name, w, round+1, m.rate(), m.perCore())
				if v.torch {
					cmd := exec.Command(o.python, script, "--dir", o.dir, "--batch", strconv.Itoa(o.batch), "--workers", strconv.Itoa(w),
						"--batches", strconv.Itoa(o.batches), "--warmup", strconv.Itoa(o.warmup), "--size", strconv.Itoa(o.size))
					cmd.Env = withoutOpenBLASTuning(os.Environ())
					t, err := runJSON(cmd)
					if err != nil {
						fmt.Fprintln(os.Stderr, "loaderbench: torchvision:", err)
						return 1
					}
					r.theirs = append(r.theirs, t)
					fmt.Fprintf(os.Stderr, "torchvision, %d workers, round %d: %.3f batches/s, %.3f per CPU-second\n", w, round+1, t.rate(), t.perCore())
				}
			}
		}
	}
	fmt.Printf("\nTwo-view training batches (%d images of %d px, vicreg preset) from %d JPEGs of about 500x375 (quality 90) in %s\n", o.batch, o.size, o.images, o.dir)
	fmt.Printf("CPU: %s; best of %d rounds; load average at the end %s\n\n", cpuinfo.Describe(), o.rounds, loadAverage())
	fmt.Println("| pipeline | workers | batches/s | batches per CPU-second | torchvision batches/s | torchvision per CPU-second | ours/torchvision per core |")
	fmt.Println("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
	torchPerCore := map[int]float64{}
	for _, r := range rows {
		if len(r.theirs) > 0 {
			torchPerCore[r.workers] = best(r.theirs, measurement.perCore)
		}
	}
	for _, r := range rows {
		oursRate, oursCore := best(r.ours, measurement.rate), best(r.ours, measurement.perCore)
		tr, tc := "", ""
		if len(r.theirs) > 0 {
			tr = fmt.Sprintf("%.3f", best(r.theirs, measurement.rate))
			tc = fmt.Sprintf("%.3f", best(r.theirs, measurement.perCore))
		}
		ratio := ""
		if t := torchPerCore[r.workers]; t > 0 {
			ratio = fmt.Sprintf("%.2f", oursCore/t)
		}
		fmt.Printf("| %s | %d | %.3f | %.3f | %s | %s | %s |\n", r.name, r.workers, oursRate, oursCore, tr, tc, ratio)
	}
	decoders := map[string]bool{}
	for _, r := range rows {
		decoders[r.decoder] = true
	}
	names := make([]string, 0, len(decoders))
	for d := range decoders {
		names = append(names, d)
	}
	sort.Strings(names)
	fmt.Printf("\nJPEG decoders: %s\n", strings.Join(names, "; "))
	return 0
}

// failed prints err and returns the exit status for it: 2 for a usage error, 1 otherwise.
func failed(err error) int {
	fmt.Fprintln(os.Stderr, "loaderbench:", err)
	if _, ok := err.(usageError); ok {
		return 2
	}
	return 1
}

// withoutOpenBLASTuning drops OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE, which slow PyTorch on some
// machines (in the benchmark's command only).
func withoutOpenBLASTuning(env []string) []string {
	return slices.DeleteFunc(slices.Clone(env), func(kv string) bool {
		return strings.HasPrefix(kv, "OPENBLAS_CORETYPE=") || strings.HasPrefix(kv, "OPENBLAS_L2_SIZE=")
	})
}

func loadAverage() string {
	data, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	return strings.Join(strings.Fields(string(data))[:3], " ")
}

// rss measures the peak resident memory of a few loader steps on 2,000 and on 20,000 images of
// the same size (the larger folder holds hard links to the smaller one's files: the same bytes,
// ten times the names).
func rss(o options, exe string) int {
	small := filepath.Join(o.dir+"-rss", "2000")
	if err := ensureImages(o, small, 2000); err != nil {
		return failed(err)
	}
	large := filepath.Join(o.dir+"-rss", "20000")
	if files, _ := filepath.Glob(filepath.Join(large, "*.jpg")); len(files) != 20000 {
		entries, _ := os.ReadDir(large)
		for _, e := range entries {
			if !ownName.MatchString(e.Name()) {
				return failed(usageError(fmt.Sprintf("-dir: %s holds %s, which this benchmark did not write: give a -dir whose -rss sibling is free (nothing was removed)",
					large, filepath.Join(large, e.Name()))))
			}
		}
		os.RemoveAll(large)
		if err := os.MkdirAll(large, 0o755); err != nil {
			fmt.Fprintln(os.Stderr, "loaderbench:", err)
			return 1
		}
		src, _ := filepath.Glob(filepath.Join(small, "*.jpg"))
		sort.Strings(src)
		for i := range 20000 {
			dst := filepath.Join(large, fmt.Sprintf("img%06d.jpg", i))
			if err := os.Link(src[i%len(src)], dst); err != nil {
				data, rerr := os.ReadFile(src[i%len(src)])
				if rerr != nil || os.WriteFile(dst, data, 0o644) != nil {
					fmt.Fprintln(os.Stderr, "loaderbench:", err)
					return 1
				}
			}
		}
	}
	fmt.Printf("Peak resident memory of %d loader steps (batch %d, %d px vicreg views, %d workers), each in a fresh process:\n\n",
		o.rssSteps, o.batch, o.size, o.workers[len(o.workers)-1])
	fmt.Println("| images | peak RSS MiB (each round) | median |")
	fmt.Println("| ---: | --- | ---: |")
	var peaks [2]float64
	for k, dir := range []string{small, large} {
		var vals []string
		var nums []float64
		for range o.rounds {
			cmd := exec.Command(exe, "-child", "-rss-folder", dir, "-batch", strconv.Itoa(o.batch), "-size", strconv.Itoa(o.size),
				"-workers", strconv.Itoa(o.workers[len(o.workers)-1]), "-rss-steps", strconv.Itoa(o.rssSteps), "-warmup", "1")
			m, err := runJSON(cmd)
			if err != nil {
				fmt.Fprintln(os.Stderr, "loaderbench:", err)
				return 1
			}
			vals = append(vals, fmt.Sprintf("%.1f", m.MaxRSSMiB))
			nums = append(nums, m.MaxRSSMiB)
		}
		sort.Float64s(nums)
		peaks[k] = nums[len(nums)/2]
		if len(nums)%2 == 0 {
			peaks[k] = (nums[len(nums)/2-1] + nums[len(nums)/2]) / 2
		}
		fmt.Printf("| %d | %s | %.1f |\n", []int{2000, 20000}[k], strings.Join(vals, ", "), peaks[k])
	}
	fmt.Printf("\n20,000 against 2,000 images (medians): %+.1f%% (the bound asked for: less than 10%%)\n", 100*(peaks[1]-peaks[0])/peaks[0])
	return 0
}
