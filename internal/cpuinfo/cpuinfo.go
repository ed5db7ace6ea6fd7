// Package cpuinfo names the CPU a figure was measured on. XLA's CPU backend (and PyTorch) pick
// other kernels on each CPU type, so a speed is exact on one kind of machine only, and every
// figure the toolkit prints or records (the bench's tables, a run's throughput in result.json)
// carries the line String gives.
package cpuinfo

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"runtime"
	"slices"
	"strings"
)

// CPU is what /proc/cpuinfo says of the machine's processors.
type CPU struct {
	Model string // "model name" of the first processor
	// Family and Model of the first processor ("cpu family", "model"): a generic model name
	// ("AMD EPYC", "Intel(R) Xeon(R) Processor" in a virtual machine) does not tell the
	// generations apart, these numbers do (AMD family 23 is Zen 1 and 2, 25 is Zen 3 and 4).
	Family, ModelNumber int
	Logical             int // processors listed
	// Usable is the number of CPUs this process may run on (Read: runtime.NumCPU, which follows
	// the affinity mask that taskset or a container's cpuset sets, not a CPU quota); 0 when
	// unknown (Parse).
	Usable     int
	AVX512     bool // avx512f
	AVX512BF16 bool // avx512_bf16: bfloat16 dot products in AVX-512
	AMX        bool // amx_bf16 and amx_tile: Intel's bfloat16 matrix tiles
}

// BF16 reports whether the CPU has bfloat16 arithmetic in hardware (AVX512_BF16 or AMX), the
// CPUs where a careful PyTorch user turns on bf16 autocast.
func (c CPU) BF16() bool { return c.AVX512BF16 || c.AMX }

// String is the one line that names the CPU beside a figure, e.g. "AMD EPYC 7551 32-Core
// Processor (family 23, model 1), 2 logical CPUs; AVX-512 no, AVX512_BF16 no, AMX no", with
// "64 logical CPUs (2 usable)" where the process may run on fewer than the machine has.
func (c CPU) String() string {
	yes := func(b bool) string { return map[bool]string{true: "yes", false: "no"}[b] }
	usable := ""
	if c.Usable > 0 && c.Usable != c.Logical {
		usable = fmt.Sprintf(" (%d usable)", c.Usable)
	}
	return fmt.Sprintf("%s (family %d, model %d), %d logical CPUs%s; AVX-512 %s, AVX512_BF16 %s, AMX %s",
		c.Model, c.Family, c.ModelNumber, c.Logical, usable, yes(c.AVX512), yes(c.AVX512BF16), yes(c.AMX))
}

// Parse reads a /proc/cpuinfo text (x86 Linux): the first processor's model name, family, model
// and flags, and the number of processors.
func Parse(r io.Reader) (CPU, error) {
	var c CPU
	var flags []string
	haveFamily, haveModel := false, false
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20) // the flags line is a few KB
	for sc.Scan() {
		key, value, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		key, value = strings.TrimSpace(key), strings.TrimSpace(value)
		switch key {
		case "processor":
			c.Logical++
		case "model name":
			if c.Model == "" {
				c.Model = value
			}
		case "cpu family":
			if !haveFamily {
				_, err := fmt.Sscan(value, &c.Family)
				haveFamily = err == nil
			}
		case "model":
			if !haveModel {
				_, err := fmt.Sscan(value, &c.ModelNumber)
				haveModel = err == nil
			}
		case "flags":
			if flags == nil {
				flags = strings.Fields(value)
			}
		}
	}
	if err := sc.Err(); err != nil {
		return CPU{}, fmt.Errorf("reading cpuinfo: %w", err)
	}
	if c.Logical == 0 || c.Model == "" || !haveFamily || !haveModel || flags == nil {
		return CPU{}, fmt.Errorf("cpuinfo has no processor, model name, cpu family, model or flags lines (not x86 Linux?)")
	}
	has := func(f string) bool { return slices.Contains(flags, f) }
	c.AVX512 = has("avx512f")
	c.AVX512BF16 = has("avx512_bf16")
	c.AMX = has("amx_bf16") && has("amx_tile")
	return c, nil
}

// Read parses this machine's /proc/cpuinfo and sets Usable.
func Read() (CPU, error) {
	f, err := os.Open("/proc/cpuinfo")
	if err != nil {
		return CPU{}, err
	}
	defer f.Close()
	c, err := Parse(f)
	c.Usable = runtime.NumCPU()
	return c, err
}

// Describe is this machine's CPU line: Read's String, or, where /proc/cpuinfo does not name the
// model (another OS, an ARM machine), the architecture and the number of CPUs with the reason.
func Describe() string {
	c, err := Read()
	if err != nil {
		return fmt.Sprintf("%s/%s, %d usable CPUs (model unknown: %v)", runtime.GOOS, runtime.GOARCH, runtime.NumCPU(), err)
	}
	return c.String()
}
