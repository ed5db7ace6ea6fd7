//go:build !nocloud

package checkpoints

import (
	"bytes"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/charmbracelet/log"

	"github.com/gomlx-ssl/vicreg/internal/remote"
	"github.com/gomlx-ssl/vicreg/internal/remote/remotetest"
)

// bucketFiles are the names and contents of the objects under prefix ("bucket/prefix/") of a fake
// store's objects.
func bucketFiles(mu sync.Locker, objects map[string][]byte, prefix string) map[string]string {
	mu.Lock()
	defer mu.Unlock()
	out := map[string]string{}
	for k, v := range objects {
		if name, ok := strings.CutPrefix(k, prefix); ok {
			out[name] = string(v)
		}
	}
	return out
}

// folderFiles are the names and contents of the mirrored files of dir.
func folderFiles(t *testing.T, dir string) map[string]string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, e := range entries {
		if Mirrored(e.Name()) && e.Type().IsRegular() {
			data, err := os.ReadFile(filepath.Join(dir, e.Name()))
			if err != nil {
				t.Fatal(err)
			}
			out[e.Name()] = string(data)
		}
	}
	return out
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// fakeS3Bucket starts a fake S3 whose bucket "runs" lies in eu-west-1, with credentials set for it
// and quick retries.
func fakeS3Bucket(t *testing.T) *remotetest.S3 {
	const secret = "mirror-secret"
	f := remotetest.ServeS3(t, secret, remote.Forget)
	f.Regions["runs"] = "eu-west-1"
	wait, n := remote.RetryWait, remote.RetryAttempts
	remote.RetryWait, remote.RetryAttempts = time.Microsecond, 2
	t.Cleanup(func() { remote.RetryWait, remote.RetryAttempts = wait, n })
	return f
}

// mirroredManager is a Manager of a new folder (keep 2, best probe_acc) mirrored to loc, with the
// log in the returned buffer.
func mirroredManager(t *testing.T, loc string) (*Manager, *bytes.Buffer) {
	t.Helper()
	m, buf := newTestManager(t, t.TempDir(), 2, "probe_acc")
	mirror, err := NewMirror(t.Context(), m.Dir, loc, m.Logger)
	if err != nil {
		t.Fatal(err)
	}
	m.Mirror = mirror
	return m, buf
}

// A run's folder, mirrored to S3 as it goes: after each checkpoint (and its retention) the bucket
// holds exactly the folder's checkpoints, config and metrics, byte for byte; a checkpoint the
// bucket held before the run (not this run's) is never deleted. On another machine, -resume's
// Restore brings the checkpoints and the other files back into an empty folder, and the newest
// checkpoint loads there with the values saved.
func TestMirrorFollowsTheFolderAndRestores(t *testing.T) {
	f := fakeS3Bucket(t)
	f.Objects["runs/r 1/ckpt-000000000.safetensors"] = []byte("from before the run")
	m, _ := mirroredManager(t, "s3://runs/r 1")
	if m.Mirror.Remote != "s3://runs/r 1/" {
		t.Fatalf("remote folder %q", m.Mirror.Remote)
	}
	metrics := ""
	acc := []float64{0.1, 0.9, 0.3, 0.2}
	for i, a := range acc {
		metrics += `{"step":` + string(rune('1'+i)) + "}\n"
		if err := os.WriteFile(filepath.Join(m.Dir, "metrics.jsonl"), []byte(metrics), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(m.Dir, "config.json"), []byte(`{"seed":1}`), 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := m.Save(stepState(int64(i+1), map[string]float64{"probe_acc": a})); err != nil {
			t.Fatal(err)
		}
		if err := m.Mirror.Wait(); err != nil {
			t.Fatal(err)
		}
		want := folderFiles(t, m.Dir)
		// Each checkpoint's MD5 is known from its upload: the next sync does not read it again.
		for name, data := range want {
			m.Mirror.mu.Lock()
			h, ok := m.Mirror.hashes[name]
			m.Mirror.mu.Unlock()
			if sum := md5.Sum([]byte(data)); isCheckpoint(name) && (!ok || h.md5 != hex.EncodeToString(sum[:]) || h.size != int64(len(data))) {
				t.Fatalf("after step %d the MD5 remembered for %s is %+v (known %v)", i+1, name, h, ok)
			}
		}
		want["ckpt-000000000.safetensors"] = "from before the run"
		got := bucketFiles(&f.Mu, f.Objects, "runs/r 1/")
		if !slices.Equal(sortedKeys(got), sortedKeys(want)) {
			t.Fatalf("after step %d the bucket holds %q, want %q", i+1, sortedKeys(got), sortedKeys(want))
		}
		for name, data := range want {
			if got[name] != data {
				t.Fatalf("after step %d the bucket's %s differs from the folder's", i+1, name)
			}
		}
	}
	// Step 1 was removed by retention, then from the bucket; 2 (the best), 3 and 4 stay.
	if dels := f.Entries("DELETE "); !slices.Equal(dels, []string{"DELETE r 1/ckpt-000000001.safetensors"}) {
		t.Fatalf("deletions %q", dels)
	}
	// An unchanged file is not uploaded again: config.json went up once.
	if puts := f.Entries("PUT r 1/config.json"); len(puts) != 1 {
		t.Fatalf("config.json uploaded %d times", len(puts))
	}

	other, buf := newTestManager(t, t.TempDir(), 2, "probe_acc")
	mirror, err := NewMirror(t.Context(), other.Dir, "s3://runs/r 1/", other.Logger)
	if err != nil {
		t.Fatal(err)
	}
	restored, err := mirror.Restore(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"ckpt-000000004.safetensors", "ckpt-000000003.safetensors", "ckpt-000000002.safetensors", "ckpt-000000000.safetensors"}; !slices.Equal(restored, want) {
		t.Fatalf("restored %q, want %q", restored, want)
	}
	if got := folderFiles(t, other.Dir); got["metrics.jsonl"] != metrics || got["config.json"] != `{"seed":1}` {
		t.Fatalf("restored folder %q", sortedKeys(got))
	}
	s, path, err := other.LoadLatest()
	if err != nil {
		t.Fatal(err)
	}
	defer s.Free()
	if filepath.Base(path) != "ckpt-000000004.safetensors" || s.Step != 4 || flatValue(t, s.Variables[0].Value).([]float32)[0] != 4 {
		t.Fatalf("loaded %s at step %d", path, s.Step)
	}
	if !strings.Contains(buf.String(), "copying from the bucket") {
		t.Fatalf("log:\n%s", buf.String())
	}
	// Nothing newer in the bucket: a second Restore copies nothing.
	if again, err := mirror.Restore(t.Context()); err != nil || len(again) != 0 {
		t.Fatalf("a second restore: %q, %v", again, err)
	}
}

// Resuming on a machine whose folder is older than the bucket (its own copy stopped at step 1;
// the run went on elsewhere to step 3): the newer checkpoints come back, and the local
// metrics.jsonl, which differs, is kept beside as metrics.jsonl.before-restore.
func TestMirrorRestoresOverAnOlderFolder(t *testing.T) {
	f := fakeS3Bucket(t)
	ahead, _ := mirroredManager(t, "s3://runs/r/")
	for step := int64(1); step <= 3; step++ {
		os.WriteFile(filepath.Join(ahead.Dir, "metrics.jsonl"), []byte(strings.Repeat("line\n", int(step))), 0o644)
		if _, err := ahead.Save(stepState(step, nil)); err != nil {
			t.Fatal(err)
		}
	}
	if err := ahead.Mirror.Wait(); err != nil {
		t.Fatal(err)
	}
	behind, _ := newTestManager(t, t.TempDir(), 2, "")
	if _, err := behind.Save(stepState(1, nil)); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(behind.Dir, "metrics.jsonl"), []byte("line\n"), 0o644)
	mirror, err := NewMirror(t.Context(), behind.Dir, "s3://runs/r/", behind.Logger)
	if err != nil {
		t.Fatal(err)
	}
	// A restore whose download of a file the folder has too fails leaves the folder's file in
	// place, and nothing beside it.
	failGet := func(name string) {
		f.Mu.Lock()
		defer f.Mu.Unlock()
		f.Fail = func(method, key string) int {
			if method == http.MethodGet && key == "r/"+name {
				return http.StatusInternalServerError
			}
			return 0
		}
	}
	failGet("metrics.jsonl")
	if _, err := mirror.Restore(t.Context()); err == nil || !strings.Contains(err.Error(), "restoring metrics.jsonl from the bucket") {
		t.Fatalf("a restore whose download of metrics.jsonl fails: %v", err)
	}
	if got := folderFiles(t, behind.Dir); got["metrics.jsonl"] != "line\n" || len(got) != 2 {
		t.Fatalf("after a failed restore the folder holds %q", sortedKeys(got))
	}
	if _, err := os.Stat(filepath.Join(behind.Dir, "metrics.jsonl.before-restore")); err == nil {
		t.Fatal("a failed restore left a copy kept aside")
	}
	// A restore whose last download (the newest checkpoint) fails leaves it out, so the folder's
	// newest checkpoint stays older than the bucket's: the next restore copies it.
	failGet("ckpt-000000003.safetensors")
	if _, err := mirror.Restore(t.Context()); err == nil || !strings.Contains(err.Error(), "restoring ckpt-000000003.safetensors from the bucket") {
		t.Fatalf("a restore whose download fails: %v", err)
	}
	if _, err := os.Stat(filepath.Join(behind.Dir, "ckpt-000000003.safetensors")); err == nil {
		t.Fatal("a checkpoint whose download failed is in the folder")
	}
	f.Mu.Lock()
	f.Fail = nil
	f.Mu.Unlock()
	restored, err := mirror.Restore(t.Context())
	if err != nil || !slices.Equal(restored, []string{"ckpt-000000003.safetensors"}) {
		t.Fatalf("restored %q, %v", restored, err)
	}
	got := folderFiles(t, behind.Dir)
	if got["metrics.jsonl"] != "line\nline\nline\n" {
		t.Fatalf("metrics.jsonl %q", got["metrics.jsonl"])
	}
	if kept, err := os.ReadFile(filepath.Join(behind.Dir, "metrics.jsonl.before-restore")); err != nil || string(kept) != "line\n" {
		t.Fatalf("the local metrics.jsonl kept aside: %q, %v", kept, err)
	}
	if _, ok := got["metrics.jsonl.before-restore"]; ok {
		t.Fatal("a file kept aside would be mirrored")
	}
}

// A bucket that refuses uploads (HTTP 503, after the retries) leaves the folder as it is and
// deletes nothing from the bucket; the error names the files, and the next sync, once the bucket
// takes them, copies everything. A checkpoint damaged in the folder never replaces the bucket's
// different copy.
func TestMirrorFailuresLoseNothing(t *testing.T) {
	f := fakeS3Bucket(t)
	m, buf := mirroredManager(t, "s3://runs/r/")
	for step := int64(1); step <= 2; step++ {
		if _, err := m.Save(stepState(step, nil)); err != nil {
			t.Fatal(err)
		}
	}
	if err := m.Mirror.Wait(); err != nil {
		t.Fatal(err)
	}
	f.Mu.Lock()
	f.Fail = func(method, key string) int {
		if method == http.MethodPut {
			return http.StatusServiceUnavailable
		}
		return 0
	}
	f.Mu.Unlock()
	for step := int64(3); step <= 4; step++ { // retention removes 1, then 2
		if _, err := m.Save(stepState(step, nil)); err != nil {
			t.Fatal(err)
		}
	}
	err := m.Mirror.Wait()
	if err == nil || !strings.Contains(err.Error(), "PUT s3://runs/r/ckpt-000000004.safetensors: HTTP status 503 Service Unavailable") {
		t.Fatalf("sync with a failing bucket: %v", err)
	}
	if !strings.Contains(buf.String(), "could not copy a file to the bucket") {
		t.Fatalf("log:\n%s", buf.String())
	}
	if got := sortedKeys(bucketFiles(&f.Mu, f.Objects, "runs/r/")); !slices.Equal(got, []string{"ckpt-000000001.safetensors", "ckpt-000000002.safetensors"}) {
		t.Fatalf("while uploads fail the bucket holds %q, want its checkpoints kept", got)
	}
	f.Mu.Lock()
	f.Fail = nil
	f.Mu.Unlock()
	m.Mirror.Sync()
	if err := m.Mirror.Wait(); err != nil {
		t.Fatal(err)
	}
	if got := sortedKeys(bucketFiles(&f.Mu, f.Objects, "runs/r/")); !slices.Equal(got, []string{"ckpt-000000003.safetensors", "ckpt-000000004.safetensors"}) {
		t.Fatalf("after the bucket recovers: %q", got)
	}

	flipByte(t, m.PathForStep(4))
	m.Mirror.Sync()
	err = m.Mirror.Wait()
	if err == nil || !strings.Contains(err.Error(), "the bucket holds another ckpt-000000004.safetensors and the folder's does not verify, so the bucket's is kept") {
		t.Fatalf("a damaged local checkpoint: %v", err)
	}
	if data, _ := f.Object("runs/r/ckpt-000000004.safetensors"); bytes.Equal(data, mustRead(t, m.PathForStep(4))) {
		t.Fatal("the damaged checkpoint replaced the bucket's")
	}
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// The same through GCS (the fake checks the tokens and X-Goog-Hash), and what a bad location says.
func TestMirrorGCS(t *testing.T) {
	g := remotetest.NewGCS(t)
	g.ServiceAccount(t)
	t.Setenv("STORAGE_EMULATOR_HOST", "")
	endpoint := remote.GCSEndpoint
	remote.GCSEndpoint = g.URL
	t.Cleanup(func() { remote.GCSEndpoint = endpoint })
	remote.Forget()
	t.Cleanup(remote.Forget)
	m, _ := mirroredManager(t, "gs://bkt/runs/a/")
	for step := int64(1); step <= 3; step++ {
		if _, err := m.Save(stepState(step, nil)); err != nil {
			t.Fatal(err)
		}
	}
	if err := m.Mirror.Wait(); err != nil {
		t.Fatal(err)
	}
	if got := sortedKeys(bucketFiles(&g.Mu, g.Objects, "bkt/runs/a/")); !slices.Equal(got, []string{"ckpt-000000002.safetensors", "ckpt-000000003.safetensors"}) {
		t.Fatalf("bucket %q", got)
	}
	dir := t.TempDir()
	mirror, err := NewMirror(t.Context(), dir, "gs://bkt/runs/a/", log.New(&bytes.Buffer{}))
	if err != nil {
		t.Fatal(err)
	}
	if restored, err := mirror.Restore(t.Context()); err != nil || len(restored) != 2 {
		t.Fatalf("restored %q, %v", restored, err)
	}
	if s, err := Load(filepath.Join(dir, "ckpt-000000003.safetensors")); err != nil {
		t.Fatal(err)
	} else {
		s.Free()
	}

	for loc, msg := range map[string]string{
		"/tmp/runs":  `"/tmp/runs" is not a bucket folder: give s3://BUCKET/PREFIX/ or gs://BUCKET/PREFIX/`,
		"gs:///runs": "gs:///runs names no bucket",
	} {
		if _, err := NewMirror(t.Context(), dir, loc, nil); err == nil || !strings.Contains(err.Error(), msg) {
			t.Errorf("%s: %v, want %q", loc, err, msg)
		}
	}
}

// A run in a bucket, or one of its checkpoints, is read from a copy in the user's cache folder,
// downloaded once: asking again downloads nothing more. A local path is returned as it is.
func TestLocalCopy(t *testing.T) {
	f := fakeS3Bucket(t)
	t.Setenv("XDG_CACHE_HOME", t.TempDir())
	m, _ := mirroredManager(t, "s3://runs/r/")
	for step := int64(1); step <= 3; step++ {
		if _, err := m.Save(stepState(step, nil)); err != nil {
			t.Fatal(err)
		}
	}
	os.WriteFile(filepath.Join(m.Dir, "config.json"), []byte(`{"seed":1}`), 0o644)
	m.Mirror.Sync()
	if err := m.Mirror.Wait(); err != nil {
		t.Fatal(err)
	}
	logger := log.New(&bytes.Buffer{})
	dir, err := LocalCopy(t.Context(), "s3://runs/r", logger)
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(os.Getenv("XDG_CACHE_HOME"), "vicreg-runs", "s3", "runs", "r"); dir != want {
		t.Fatalf("copy in %s, want %s", dir, want)
	}
	if got := folderFiles(t, dir); !slices.Equal(sortedKeys(got), sortedKeys(folderFiles(t, m.Dir))) {
		t.Fatalf("the copy holds %q, the run %q", sortedKeys(got), sortedKeys(folderFiles(t, m.Dir)))
	}
	s, _, err := (&Manager{Dir: dir, Logger: logger}).LoadLatest()
	if err != nil || s.Step != 3 {
		t.Fatalf("the copy's newest checkpoint: %v", err)
	}
	s.Free()
	gets := len(f.Entries("GET "))
	if _, err := LocalCopy(t.Context(), "s3://runs/r/", logger); err != nil || len(f.Entries("GET ")) != gets {
		t.Fatalf("asked again: %v, %d downloads more", err, len(f.Entries("GET "))-gets)
	}
	file, err := LocalCopy(t.Context(), "s3://runs/r/ckpt-000000002.safetensors", logger)
	if err != nil || file != filepath.Join(dir, "ckpt-000000002.safetensors") {
		t.Fatalf("a checkpoint file: %s, %v", file, err)
	}
	if len(f.Entries("GET ")) != gets {
		t.Fatal("a checkpoint the copy holds was downloaded again")
	}
	if p, err := LocalCopy(t.Context(), "/runs/r", logger); p != "/runs/r" || err != nil {
		t.Fatalf("a local path: %s, %v", p, err)
	}
	if _, err := LocalCopy(t.Context(), "s3://runs/r/ckpt-000000009.safetensors", logger); err == nil || !strings.Contains(err.Error(), "s3://runs/r/ckpt-000000009.safetensors: no such object") {
		t.Fatalf("a missing checkpoint: %v", err)
	}
	if _, err := LocalCopy(t.Context(), "s3://runs/empty/", logger); !errors.Is(err, ErrNoCheckpoint) {
		t.Fatalf("an empty folder: %v", err)
	}
}

// Against moto's S3 (optional: VICREG_S3_PYTHON), a bucket in another region than the configured
// one: the mirror follows the folder through retention, and a restore into an empty folder loads
// the newest checkpoint.
func TestMirrorAgainstMoto(t *testing.T) {
	root := t.TempDir()
	if err := os.MkdirAll(filepath.Join(root, "far@eu-west-1"), 0o755); err != nil {
		t.Fatal(err)
	}
	remotetest.AWSEnv(t, remotetest.Moto(t, root), "AKIDMOTO", "moto")
	remote.Forget()
	t.Cleanup(remote.Forget)
	m, _ := mirroredManager(t, "s3://far/runs/r 1/")
	for step := int64(1); step <= 4; step++ {
		if _, err := m.Save(stepState(step, map[string]float64{"probe_acc": float64(step % 3)})); err != nil {
			t.Fatal(err)
		}
	}
	if err := m.Mirror.Wait(); err != nil {
		t.Fatal(err)
	}
	objects, _, err := remote.List(t.Context(), "s3://far/runs/r 1/")
	if err != nil {
		t.Fatal(err)
	}
	var listed []string
	for _, o := range objects {
		listed = append(listed, filepath.Base(o.Loc))
	}
	if want := sortedKeys(folderFiles(t, m.Dir)); !slices.Equal(listed, want) {
		t.Fatalf("moto holds %q, the folder %q", listed, want)
	}
	dir := t.TempDir()
	mirror, err := NewMirror(t.Context(), dir, "s3://far/runs/r 1/", m.Logger)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := mirror.Restore(t.Context()); err != nil {
		t.Fatal(err)
	}
	s, path, err := (&Manager{Dir: dir, Logger: m.Logger}).LoadLatest()
	if err != nil || s.Step != 4 {
		t.Fatalf("restored from moto: %s, %v", path, err)
	}
	s.Free()
}
