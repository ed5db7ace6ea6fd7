//go:build !nocloud

package datasets

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/gomlx-ssl/vicreg/internal/cpuinfo"
	"github.com/gomlx-ssl/vicreg/internal/remote/remotetest"
)

// BenchmarkShardStreamS3 reads BenchmarkShardStream's shards from the fake S3 of the tests (on the
// loopback, in the benchmark's process), read ahead, by their index: from a public bucket without
// signatures ("s3-anonymous") and from a private one, every request signed and the signature
// checked by the fake ("s3-signed"); and, beside them, from the same server as plain URLs ("http").
func BenchmarkShardStreamS3(b *testing.B) {
	dir, pattern := benchShards(b)
	const secret = "bench-secret"
	f := remotetest.NewS3(b, secret)
	f.Public["open"] = true
	entries, err := os.ReadDir(dir)
	if err != nil {
		b.Fatal(err)
	}
	for _, e := range entries {
		data, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			b.Fatal(err)
		}
		f.Objects["open/"+e.Name()] = data
		f.Objects["private/"+e.Name()] = data
	}
	b.Logf("%s", cpuinfo.Describe())
	b.Run("http", func(b *testing.B) { // the same server, as a plain URL
		benchStream(b, f.URL+"/open/"+pattern, DefaultReadAhead)
	})
	b.Run("s3-anonymous", func(b *testing.B) {
		awsEnv(b, f.URL, "", "")
		benchStream(b, "s3://open/"+pattern, DefaultReadAhead)
	})
	b.Run("s3-signed", func(b *testing.B) {
		awsEnv(b, f.URL, "AKIDBENCH", secret)
		benchStream(b, "s3://private/"+pattern, DefaultReadAhead)
	})
}
