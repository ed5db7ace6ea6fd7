//go:build !nocloud

package remote

import (
	"crypto/rand"
	"os"
	"path/filepath"
	"testing"

	"github.com/gomlx-ssl/vicreg/internal/cpuinfo"
	"github.com/gomlx-ssl/vicreg/internal/remote/remotetest"
)

// BenchmarkPutS3 uploads a 64 MiB file (a small checkpoint) to the tests' fake S3 on the
// loopback, signed, with its SHA-256 and MD5 taken first (as every Put does) and checked by the
// fake: the cost of a mirrored checkpoint on this machine, network aside.
func BenchmarkPutS3(b *testing.B) {
	const secret = "bench-secret"
	remotetest.ServeS3(b, secret, Forget)
	data := make([]byte, 64<<20)
	rand.Read(data)
	file := filepath.Join(b.TempDir(), "ckpt")
	if err := os.WriteFile(file, data, 0o644); err != nil {
		b.Fatal(err)
	}
	b.Logf("%s", cpuinfo.Describe())
	b.SetBytes(int64(len(data)))
	b.ResetTimer()
	for b.Loop() {
		if _, err := Put(b.Context(), "s3://bench/ckpt", file); err != nil {
			b.Fatal(err)
		}
	}
}
