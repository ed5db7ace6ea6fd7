package cpuinfo

import (
	"os"
	"runtime"
	"strings"
	"testing"

	"golang.org/x/sys/cpu"
)

// TestParse reads four machines' /proc/cpuinfo: an Intel Xeon, Emerald Rapids, whose hypervisor
// shows AVX512_BF16 but not AMX; the AMD EPYC Zen 1 that the README's first table comes from
// (AVX2 only); an AMD EPYC Zen 3 whose model name is only "AMD EPYC" (AVX2 only); and a Sapphire
// Rapids guest with AMX (the Emerald Rapids text with the AMX flags and another model name: a
// constructed fixture, its model number that of Sapphire Rapids). The family and model numbers
// are those Intel and AMD publish for these generations (family 6 model 207 = 0xCF Emerald
// Rapids, model 143 = 0x8F Sapphire Rapids; family 23 = 0x17 model 1 Zen 1 Naples; family 25 =
// 0x19 model 1 Zen 3 Milan).
func TestParse(t *testing.T) {
	for _, tc := range []struct {
		file string
		want CPU
		bf16 bool
	}{
		{"testdata/cpuinfo-xeon-emr-avx512bf16.txt", CPU{Model: "Intel(R) Xeon(R) Processor", Family: 6, ModelNumber: 207, Logical: 2, AVX512: true, AVX512BF16: true}, true},
		{"testdata/cpuinfo-epyc-zen1.txt", CPU{Model: "AMD EPYC 7551 32-Core Processor", Family: 23, ModelNumber: 1, Logical: 2}, false},
		{"testdata/cpuinfo-epyc-zen3.txt", CPU{Model: "AMD EPYC", Family: 25, ModelNumber: 1, Logical: 2}, false},
		{"testdata/cpuinfo-xeon-spr-amx.txt", CPU{Model: "Intel(R) Xeon(R) Platinum 8481C CPU @ 2.70GHz", Family: 6, ModelNumber: 143, Logical: 2, AVX512: true, AVX512BF16: true, AMX: true}, true},
	} {
		f, err := os.Open(tc.file)
		if err != nil {
			t.Fatal(err)
		}
		got, err := Parse(f)
		f.Close()
		if err != nil || got != tc.want || got.BF16() != tc.bf16 {
			t.Errorf("%s: %+v (bf16 %v), %v; want %+v (bf16 %v)", tc.file, got, got.BF16(), err, tc.want, tc.bf16)
		}
	}
	zen1 := CPU{Model: "AMD EPYC 7551 32-Core Processor", Family: 23, ModelNumber: 1, Logical: 64}
	for usable, want := range map[int]string{
		0:  "AMD EPYC 7551 32-Core Processor (family 23, model 1), 64 logical CPUs; AVX-512 no, AVX512_BF16 no, AMX no",
		64: "AMD EPYC 7551 32-Core Processor (family 23, model 1), 64 logical CPUs; AVX-512 no, AVX512_BF16 no, AMX no",
		2:  "AMD EPYC 7551 32-Core Processor (family 23, model 1), 64 logical CPUs (2 usable); AVX-512 no, AVX512_BF16 no, AMX no",
	} {
		zen1.Usable = usable
		if s := zen1.String(); s != want {
			t.Errorf("String() with %d usable = %q, want %q", usable, s, want)
		}
	}
	if _, err := Parse(strings.NewReader("processor\t: 0\nBogoMIPS\t: 50.00\nFeatures\t: fp asimd\n")); err == nil {
		t.Error("an arm64 cpuinfo (no model name, no flags) parsed without an error")
	}
	// "model name" must not be read as "model": a text whose only model line is the name fails.
	noModel := "processor\t: 0\ncpu family\t: 25\nmodel name\t: AMD EPYC\nflags\t\t: fpu avx2\n"
	if c, err := Parse(strings.NewReader(noModel)); err == nil {
		t.Errorf("a cpuinfo without a model number parsed as %+v", c)
	}
}

// TestReadMatchesCPUID checks the parse of this machine's /proc/cpuinfo against CPUID, as
// golang.org/x/sys/cpu reads it (which also checks that the OS saves the AVX-512 and AMX state).
func TestReadMatchesCPUID(t *testing.T) {
	if runtime.GOOS != "linux" || runtime.GOARCH != "amd64" {
		t.Skipf("x86 Linux only (%s/%s)", runtime.GOOS, runtime.GOARCH)
	}
	c, err := Read()
	if err != nil {
		t.Fatal(err)
	}
	if c.AVX512 != cpu.X86.HasAVX512F || c.AVX512BF16 != cpu.X86.HasAVX512BF16 || c.AMX != (cpu.X86.HasAMXBF16 && cpu.X86.HasAMXTile) {
		t.Errorf("/proc/cpuinfo gives %+v; CPUID: AVX512F %v, AVX512_BF16 %v, AMX-BF16 %v, AMX-TILE %v",
			c, cpu.X86.HasAVX512F, cpu.X86.HasAVX512BF16, cpu.X86.HasAMXBF16, cpu.X86.HasAMXTile)
	}
	if c.Usable != runtime.NumCPU() {
		t.Errorf("Usable %d, want runtime.NumCPU() %d (the affinity mask)", c.Usable, runtime.NumCPU())
	}
	t.Log(c)
}
