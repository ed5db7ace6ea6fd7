//go:build !nocloud

package remote

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gomlx-ssl/vicreg/internal/remote/remotetest"
)

// fastRetries makes retries immediate for the test.
func fastRetries(t *testing.T, attempts int) {
	wait, n := RetryWait, RetryAttempts
	RetryWait, RetryAttempts = time.Microsecond, attempts
	t.Cleanup(func() { RetryWait, RetryAttempts = wait, n })
}

// md5Of is the MD5 of data, in hex.
func md5Of(data []byte) string {
	sum := md5.Sum(data)
	return hex.EncodeToString(sum[:])
}

// checkRoundTrip puts two files into the folder loc (which must not exist yet), lists them with
// their sizes and MD5s, reads them back, replaces one, and deletes them (and a missing object).
func checkRoundTrip(t *testing.T, folder string) {
	t.Helper()
	ctx := t.Context()
	dir := t.TempDir()
	files := map[string][]byte{"ckpt-000000100.safetensors": []byte(strings.Repeat("weights ", 10000)), "metrics.jsonl": []byte("{\"step\":1}\n"), "empty": nil}
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
		sum, err := Put(ctx, folder+name, filepath.Join(dir, name))
		if err != nil {
			t.Fatalf("put %s: %v", name, err)
		}
		if sum != md5Of(data) {
			t.Fatalf("put %s: MD5 %s, want %s", name, sum, md5Of(data))
		}
	}
	objects, folders, err := List(ctx, folder)
	if err != nil {
		t.Fatal(err)
	}
	if len(folders) != 0 || len(objects) != len(files) {
		t.Fatalf("listing %v %v, want the %d files", objects, folders, len(files))
	}
	for _, o := range objects {
		data, ok := files[strings.TrimPrefix(o.Loc, folder)]
		if !ok || o.Size != int64(len(data)) || o.MD5 != md5Of(data) {
			t.Errorf("listed %+v, want size %d and MD5 %s", o, len(data), md5Of(data))
		}
		if len(data) == 0 {
			continue
		}
		r, err := Open(ctx, o.Loc)
		if err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(r)
		r.Close()
		if err != nil || string(got) != string(data) {
			t.Fatalf("read back %s: %d bytes, %v", o.Loc, len(got), err)
		}
	}
	longer := append(files["metrics.jsonl"], "{\"step\":2}\n"...)
	if err := os.WriteFile(filepath.Join(dir, "metrics.jsonl"), longer, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Put(ctx, folder+"metrics.jsonl", filepath.Join(dir, "metrics.jsonl")); err != nil {
		t.Fatal(err)
	}
	if objects, _, _ := List(ctx, folder); !slices.ContainsFunc(objects, func(o Object) bool { return o.MD5 == md5Of(longer) }) {
		t.Fatalf("the replaced file is not listed with its new MD5: %+v", objects)
	}
	for name := range files {
		if err := Delete(ctx, folder+name); err != nil {
			t.Fatal(err)
		}
	}
	if err := Delete(ctx, folder+"never-there"); err != nil {
		t.Fatalf("deleting a missing object: %v", err)
	}
	if objects, _, err := List(ctx, folder); err != nil || len(objects) != 0 {
		t.Fatalf("after deleting: %v %v", objects, err)
	}
}

// Uploads to S3 (the fake checks every signature, the payload's SHA-256 and its Content-MD5) in a
// bucket of another region than the configured one round-trip; a server error is tried again, a
// refusal is not, and says what to do; the fake refuses an upload whose digests do not match its
// body (the negative control of what Put relies on).
func TestPutS3(t *testing.T) {
	const secret = "write/secret"
	f := remotetest.ServeS3(t, secret, Forget)
	f.Regions["far"] = "eu-west-1"
	fastRetries(t, 3)
	checkRoundTrip(t, "s3://far/runs/r ä 1/")
	if puts := f.Entries("PUT "); len(puts) != 4 || puts[0] != "PUT runs/r ä 1/ckpt-000000100.safetensors" && puts[0] != "PUT runs/r ä 1/metrics.jsonl" && puts[0] != "PUT runs/r ä 1/empty" {
		t.Fatalf("uploads %q", puts)
	}

	file := filepath.Join(t.TempDir(), "ckpt")
	os.WriteFile(file, []byte("checkpoint"), 0o644)
	fails := 0
	f.Fail = func(method, key string) int {
		if method == http.MethodPut && fails < 2 {
			fails++
			return http.StatusServiceUnavailable
		}
		return 0
	}
	if _, err := Put(t.Context(), "s3://far/x/ckpt", file); err != nil || fails != 2 {
		t.Fatalf("after 2 errors 503: %v (%d failures served)", err, fails)
	}
	if data, _ := f.Object("far/x/ckpt"); string(data) != "checkpoint" {
		t.Fatalf("stored %q", data)
	}
	// A connection broken off halfway through the body: the whole file is sent again.
	broken := false
	f.Fail = func(method, key string) int {
		if method == http.MethodPut && !broken {
			broken = true
			return -1
		}
		return 0
	}
	os.WriteFile(file, []byte(strings.Repeat("checkpoint", 100000)), 0o644)
	if _, err := Put(t.Context(), "s3://far/x/ckpt", file); err != nil || len(f.Entries("BREAK PUT")) != 1 {
		t.Fatalf("after a broken connection: %v (%q)", err, f.Entries("BREAK"))
	}
	if data, _ := f.Object("far/x/ckpt"); string(data) != strings.Repeat("checkpoint", 100000) {
		t.Fatalf("stored %d bytes after a broken connection", len(data))
	}
	f.Fail = func(method, key string) int { return http.StatusServiceUnavailable }
	if _, err := Put(t.Context(), "s3://far/x/ckpt", file); err == nil || !strings.Contains(err.Error(), "PUT s3://far/x/ckpt: HTTP status 503 Service Unavailable") || !strings.Contains(err.Error(), "(tried 3 times)") {
		t.Fatalf("503 every time: %v", err)
	}
	f.Fail = nil

	remotetest.AWSEnv(t, f.URL, "AKIDTEST", "another secret")
	Forget()
	before := len(f.Entries("PUT "))
	_, err := Put(t.Context(), "s3://far/x/ckpt", file)
	if err == nil || !strings.Contains(err.Error(), "PUT s3://far/x/ckpt: HTTP status 403 Forbidden (SignatureDoesNotMatch: fake S3 says SignatureDoesNotMatch): your AWS credentials may not write to it") {
		t.Fatalf("another secret: %v", err)
	}
	remotetest.AWSEnv(t, f.URL, "", "")
	Forget()
	if err := Delete(t.Context(), "s3://far/x/ckpt"); err == nil || !strings.Contains(err.Error(), "DELETE s3://far/x/ckpt: HTTP status 403 Forbidden (AccessDenied: fake S3 says AccessDenied): it was written anonymously, as no usable AWS credentials were found") {
		t.Fatalf("anonymous: %v", err)
	}
	if len(f.Entries("PUT ")) != before {
		t.Fatal("a refused upload was tried again")
	}

	// The negative control: digests that do not match the body are refused.
	remotetest.AWSEnv(t, f.URL, "AKIDTEST", secret)
	Forget()
	for name, tamper := range map[string]func(*upload){
		"BadDigest":                 func(u *upload) { u.md5[0] ^= 1 },
		"XAmzContentSHA256Mismatch": func(u *upload) { u.sha256 = md5Of(nil) + md5Of(nil) },
	} {
		up, err := newUpload(file)
		if err != nil {
			t.Fatal(err)
		}
		tamper(up)
		_, err = do(t.Context(), http.MethodPut, "s3://far/x/tampered", func(ctx2 context.Context) (*http.Request, error) {
			return objectRequest(ctx2, http.MethodPut, "s3://far/x/tampered", http.Header{}, up)
		})
		if err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("tampered %s: %v", name, err)
		}
	}
	if _, ok := f.Object("far/x/tampered"); ok {
		t.Fatal("a tampered upload was stored")
	}
}

// Uploads to GCS (the fake checks X-Goog-Hash) round-trip: writing asks the service account for
// a read-write token, reading for a read-only one, each once. Without credentials, a write is
// refused with what to do.
func TestPutGCS(t *testing.T) {
	g := remotetest.NewGCS(t)
	g.ServiceAccount(t)
	t.Setenv("STORAGE_EMULATOR_HOST", "")
	endpoint := GCSEndpoint
	GCSEndpoint = g.URL
	t.Cleanup(func() { GCSEndpoint = endpoint })
	Forget()
	t.Cleanup(Forget)
	fastRetries(t, 2)
	checkRoundTrip(t, "gs://bkt/runs/r ä 1/")
	tokens := g.Entries("TOKEN ")
	slices.Sort(tokens)
	if want := []string{"TOKEN " + remotetest.ReadScope + " <nil>", "TOKEN " + remotetest.WriteScope + " <nil>"}; !slices.Equal(tokens, want) {
		t.Fatalf("token requests %q, want %q", tokens, want)
	}
	for _, l := range append(g.Entries("PUT "), g.Entries("DELETE ")...) {
		if !strings.HasSuffix(l, "Bearer "+remotetest.WriteToken) {
			t.Fatalf("a write without the read-write token: %q", l)
		}
	}

	t.Setenv("GOOGLE_APPLICATION_CREDENTIALS", filepath.Join(t.TempDir(), "missing.json"))
	Forget()
	file := filepath.Join(t.TempDir(), "ckpt")
	os.WriteFile(file, []byte("checkpoint"), 0o644)
	_, err := Put(t.Context(), "gs://bkt/x/ckpt", file)
	if err == nil || !strings.Contains(err.Error(), "PUT gs://bkt/x/ckpt: HTTP status 403 Forbidden (the caller does not have storage.objects.create access): it was written anonymously, as no Google credentials were found") {
		t.Fatalf("no credentials: %v", err)
	}
}
