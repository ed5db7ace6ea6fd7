package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
)

// cpuInfo is what the bench reports about the CPU its figures come from: XLA and PyTorch pick
// other kernels on each CPU type, so every table names it.
type cpuInfo struct {
	Model      string // "model name" of the first processor
	Logical    int    // processors listed
	AVX512     bool   // avx512f
	AVX512BF16 bool   // avx512_bf16: bfloat16 dot products in AVX-512
	AMX        bool   // amx_bf16 and amx_tile: Intel's bfloat16 matrix tiles
}

// BF16 reports whether the CPU has bfloat16 arithmetic in hardware (AVX512_BF16 or AMX), the
// CPUs where a careful PyTorch user turns on bf16 autocast.
func (c cpuInfo) BF16() bool { return c.AVX512BF16 || c.AMX }

// String is the one line the bench prints.
func (c cpuInfo) String() string {
	yes := func(b bool) string { return map[bool]string{true: "yes", false: "no"}[b] }
	return fmt.Sprintf("%s, %d logical CPUs; AVX-512 %s, AVX512_BF16 %s, AMX %s",
		c.Model, c.Logical, yes(c.AVX512), yes(c.AVX512BF16), yes(c.AMX))
}

// parseCPUInfo reads a /proc/cpuinfo text (x86 Linux): the first processor's model name and
// flags, and the number of processors.
func parseCPUInfo(r io.Reader) (cpuInfo, error) {
	var c cpuInfo
	var flags []string
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
		case "flags":
			if flags == nil {
				flags = strings.Fields(value)
			}
		}
	}
	if err := sc.Err(); err != nil {
		return cpuInfo{}, fmt.Errorf("reading cpuinfo: %w", err)
	}
	if c.Logical == 0 || c.Model == "" || flags == nil {
		return cpuInfo{}, fmt.Errorf("cpuinfo has no processor, model name or flags lines (not x86 Linux?)")
	}
	has := func(f string) bool { return slices.Contains(flags, f) }
	c.AVX512 = has("avx512f")
	c.AVX512BF16 = has("avx512_bf16")
	c.AMX = has("amx_bf16") && has("amx_tile")
	return c, nil
}

// readCPUInfo parses this machine's /proc/cpuinfo.
func readCPUInfo() (cpuInfo, error) {
	f, err := os.Open("/proc/cpuinfo")
	if err != nil {
		return cpuInfo{}, err
	}
	defer f.Close()
	return parseCPUInfo(f)
}
