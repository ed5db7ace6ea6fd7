//go:build !nocloud

package datasets

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/gomlx-ssl/vicreg/internal/remote"
	"github.com/gomlx-ssl/vicreg/internal/remote/remotetest"
)

// objectStoreFixture writes 3 classes of 5 images into 4 shards (4, 4, 4, 3 samples) and returns
// the files by name (shards, index.json, classes.txt), with the samples read from the local copy.
func objectStoreFixture(t *testing.T) (files map[string][]byte, want []string) {
	t.Helper()
	dir, _, want, _ := remoteFixture(t)
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	files = map[string][]byte{}
	for _, e := range entries {
		if files[e.Name()], err = os.ReadFile(filepath.Join(dir, e.Name())); err != nil {
			t.Fatal(err)
		}
	}
	return files, want
}

// freshObjectStores makes the test's s3:// and gs:// reading find its configuration again, from
// the environment the test sets, and forget it afterwards.
func freshObjectStores(t testing.TB) {
	remote.Forget()
	t.Cleanup(remote.Forget)
}

// awsEnv sets an AWS environment with no configuration but the endpoint and the keys given (none:
// anonymous), which the next request reads.
func awsEnv(t testing.TB, endpoint, keyID, secret string) {
	remotetest.AWSEnv(t, endpoint, keyID, secret)
	freshObjectStores(t)
}

// Shards in S3 (a fake that checks every signature as AWS describes it), named by their folder,
// by a pattern or by their index, give the samples of the files on disk. Requests are signed in
// the bucket's region, which S3 is asked once, whatever the configured one; a connection that
// breaks off is resumed with a signed Range request; a folder's listing is read page by page, its
// split folders used as splits. Keys with spaces and non-ASCII letters are escaped as S3 wants.
func TestS3Shards(t *testing.T) {
	files, want := objectStoreFixture(t)
	const secret = "fake/secret+key"
	f := remotetest.NewS3(t, secret)
	f.Regions["far"] = "eu-west-1"
	for name, data := range files {
		f.Objects["far/my data/train/"+name] = data
		f.Objects["far/my data/väl/"+name] = data // not a split folder: ignored
	}
	f.Objects["far/my data/train/._shard-000000.tar"] = []byte("macOS metadata")
	f.Objects["far/my data/val/shard-000000.tar"] = files["shard-000000.tar"]
	f.Objects["far/my data/notes.txt"] = []byte("not a shard")
	awsEnv(t, f.URL, "AKIDTEST", secret)
	fastRetries(t, 3)
	f.BreakKey = "my data/train/shard-000001.tar"

	folder, err := OpenShards("s3://far/my data/", SplitTrain)
	if err != nil {
		t.Fatal(err)
	}
	if got := samplesOf(t, folder); !slices.Equal(got, want) {
		t.Fatal("samples of the S3 folder differ from those of the files")
	}
	if heads := f.Entries("HEAD"); !slices.Equal(heads, []string{"HEAD far"}) {
		t.Fatalf("region lookups %q, want one HEAD of the bucket", heads)
	}
	// Two pages of the folder (notes.txt, train/, val/, väl/), four of train/ (4 shards, ._ file,
	// classes.txt, index.json).
	if lists := f.Entries("LIST"); !slices.Equal(lists, []string{"LIST my data/ ", "LIST my data/ 2",
		"LIST my data/train/ ", "LIST my data/train/ 2", "LIST my data/train/ 4", "LIST my data/train/ 6"}) {
		t.Fatalf("listings %q", lists)
	}
	resumed := f.Entries("GET my data/train/shard-000001.tar eu-west-1 bytes=")
	if len(resumed) != 1 {
		t.Fatalf("the broken shard's requests: %q, want one signed Range request", f.Entries("GET my data/train/shard-000001.tar"))
	}
	// Counts beside the shards are looked for (open_clip's sizes.json, img2dataset's first
	// _stats.json: none), the scan downloads the 4 shards (one resumed), and classes.txt;
	// samplesOf reads the shards.
	if gets := f.Entries("GET "); len(gets) != 2+4+1+1+4 || len(f.Entries("GET my data/train/shard-")) != 1+9 {
		t.Fatalf("GET requests %q, want sizes.json, a _stats.json, 4 shards, one resumption, classes.txt, 4 shards", gets)
	}

	held, err := OpenShards("s3://far/my data/", SplitTest)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(held.Paths(), []string{"s3://far/my data/val/shard-000000.tar"}) {
		t.Fatalf("held-out split %q", held.Paths())
	}
	idx, err := OpenShards("s3://far/my data/train/index.json", "")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(idx.Info().ClassNames, []string{"a", "b", "c"}) || !slices.Equal(samplesOf(t, idx), want) {
		t.Fatalf("through the index: classes %q, or samples that differ", idx.Info().ClassNames)
	}
	pattern, err := OpenShards("s3://far/my data/train/shard-{000000..000003}.tar", "")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(samplesOf(t, pattern), want) {
		t.Fatal("through a pattern: samples differ")
	}
	if heads := f.Entries("HEAD"); len(heads) != 1 {
		t.Fatalf("region lookups %q, want the first one only", heads)
	}

	// A folder without shards, a missing key, a missing split: what and where.
	for loc, msg := range map[string]string{
		"s3://far/nothing/":                         `s3://far/nothing/: no .tar shards (give the folder of the shards (ending in /), or a pattern such as s3://far/nothing/train-{000000..000146}.tar`,
		"s3://far/my data/train/shard-{7..8}.tar":   `GET s3://far/my data/train/shard-7.tar: HTTP status 404 Not Found (NoSuchKey: fake S3 says NoSuchKey): check the URL`,
		"s3://far/my data/train/missing/index.json": `GET s3://far/my data/train/missing/index.json: HTTP status 404 Not Found`,
		"s3:///k.tar":                               `s3:///k.tar names no bucket: write s3://BUCKET/KEY`,
		"s3://far/my data/train":                    `GET s3://far/my data/train: HTTP status 404 Not Found (NoSuchKey: fake S3 says NoSuchKey): no such object; to list a folder of shards, end it with /`,
	} {
		_, err := OpenShards(loc, SplitTrain)
		if err == nil || !strings.Contains(err.Error(), msg) {
			t.Errorf("%s: %v, want %q", loc, err, msg)
		}
	}
	f.Objects["split/train/shard-000000.tar"] = files["shard-000000.tar"]
	if s, err := OpenShards("s3://split", SplitTrain); err != nil || !slices.Equal(s.Paths(), []string{"s3://split/train/shard-000000.tar"}) {
		t.Errorf("a bucket's root, without its /: %v", err)
	}
	if _, err := OpenShards("s3://split/", SplitTest); !errors.Is(err, ErrNoSplit) || !strings.Contains(err.Error(), "holds a train/ folder but no folder for the test split (want val/ or test/)") {
		t.Errorf("a bucket with train/ only, for the held-out split: %v", err)
	}
	// validation/ beside train/ is the held-out split, as in a local folder.
	f.Objects["alias/train/shard-000000.tar"] = files["shard-000000.tar"]
	f.Objects["alias/validation/shard-000000.tar"] = files["shard-000001.tar"]
	if s, err := OpenShards("s3://alias/", SplitTest); err != nil || !slices.Equal(s.Paths(), []string{"s3://alias/validation/shard-000000.tar"}) {
		t.Errorf("validation/ beside train/, the held-out split: %v", err)
	}
	// Shards named for their splits, in a folder without split folders.
	f.Objects["named/in1k-train-000000.tar"] = files["shard-000000.tar"]
	f.Objects["named/in1k-train-000001.tar"] = files["shard-000001.tar"]
	f.Objects["named/in1k-validation-000000.tar"] = files["shard-000002.tar"]
	for split, want := range map[string][]string{SplitTrain: {"s3://named/in1k-train-000000.tar", "s3://named/in1k-train-000001.tar"}, SplitTest: {"s3://named/in1k-validation-000000.tar"}} {
		if s, err := OpenShards("s3://named/", split); err != nil || !slices.Equal(s.Paths(), want) {
			t.Errorf("shards named for their splits, the %s split: %v, %v; want %v", split, err, s, want)
		}
	}
	if _, err := Open("shards", SplitTest, Options{DataDir: "s3://named/", TestSplit: "test"}); !errors.Is(err, ErrNoSplit) || !strings.Contains(err.Error(), "want test in a name") {
		t.Errorf("shards named for train and val, -test-split test: %v", err)
	}
}

// S3's refusals say why: a signature that does not match (another secret), a private bucket read
// anonymously; a public bucket is read without credentials, unsigned.
func TestS3Credentials(t *testing.T) {
	files, want := objectStoreFixture(t)
	f := remotetest.NewS3(t, "the secret")
	for name, data := range files {
		f.Objects["private/"+name] = data
		f.Objects["open/"+name] = data
	}
	f.Public["open"] = true
	fastRetries(t, 2)

	awsEnv(t, f.URL, "AKIDTEST", "another secret")
	_, err := OpenShards("s3://private/index.json", "")
	if err == nil || !strings.Contains(err.Error(), "GET s3://private/index.json: HTTP status 403 Forbidden (SignatureDoesNotMatch: fake S3 says SignatureDoesNotMatch): your AWS credentials may not read it") {
		t.Fatalf("another secret: %v", err)
	}

	awsEnv(t, f.URL, "", "")
	_, err = OpenShards("s3://private/index.json", "")
	if err == nil || !strings.Contains(err.Error(), "403 Forbidden (AccessDenied: fake S3 says AccessDenied): it was read anonymously, as no usable AWS credentials were found") ||
		!strings.Contains(err.Error(), "set AWS_PROFILE, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY") {
		t.Fatalf("anonymous, private bucket: %v", err)
	}
	s, err := OpenShards("s3://open/index.json", "")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(samplesOf(t, s), want) {
		t.Fatal("a public bucket read anonymously: samples differ")
	}

	t.Setenv("AWS_ENDPOINT_URL_S3", "localhost:9000")
	freshObjectStores(t)
	if _, err := OpenShards("s3://open/index.json", ""); err == nil || !strings.Contains(err.Error(), `the S3 endpoint "localhost:9000" (AWS_ENDPOINT_URL_S3, AWS_ENDPOINT_URL or the profile's endpoint_url) is not an http(s) URL`) {
		t.Fatalf("an endpoint without its scheme: %v", err)
	}
}

// Shards in GCS (a fake of its JSON API and token endpoint), named by their folder or index, give
// the samples of the files on disk: the service account of GOOGLE_APPLICATION_CREDENTIALS gets a
// read-only token once, which every request carries; object names are escaped whole. Without
// credentials a private bucket's refusal says what to do; STORAGE_EMULATOR_HOST is read
// anonymously.
func TestGCSShards(t *testing.T) {
	files, want := objectStoreFixture(t)
	g := remotetest.NewGCS(t)
	for name, data := range files {
		g.Objects["bkt/ssl data/train/"+name] = data
		g.Objects["open/"+name] = data
	}
	g.Public["open"] = true
	g.ServiceAccount(t)
	t.Setenv("STORAGE_EMULATOR_HOST", "")
	endpoint := remote.GCSEndpoint
	remote.GCSEndpoint = g.URL
	t.Cleanup(func() { remote.GCSEndpoint = endpoint })
	freshObjectStores(t)
	fastRetries(t, 2)

	s, err := OpenShards("gs://bkt/ssl data/", SplitTrain)
	if err != nil {
		t.Fatal(err)
	}
	if got := samplesOf(t, s); !slices.Equal(got, want) {
		t.Fatal("samples of the GCS folder differ from those of the files")
	}
	idx, err := OpenShards("gs://bkt/ssl data/train/index.json", "")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(idx.Info().ClassNames, []string{"a", "b", "c"}) || !slices.Equal(samplesOf(t, idx), want) {
		t.Fatal("through the index: other classes or samples")
	}
	var bearer int
	tokens, gets := g.Entries("TOKEN "), g.Entries("GET ")
	for _, l := range tokens {
		if l != "TOKEN "+remotetest.ReadScope+" <nil>" {
			t.Errorf("token request %q", l)
		}
	}
	for _, l := range gets {
		if strings.Contains(l, "Bearer "+remotetest.ReadToken) {
			bearer++
		}
	}
	if len(tokens) != 1 || len(gets) == 0 || bearer != len(gets) {
		t.Fatalf("%d token requests, %d of %d requests with the read-only token; want 1, all", len(tokens), bearer, len(gets))
	}

	t.Setenv("GOOGLE_APPLICATION_CREDENTIALS", filepath.Join(t.TempDir(), "missing.json"))
	freshObjectStores(t)
	_, err = OpenShards("gs://bkt/ssl data/train/index.json", "")
	if err == nil || !strings.Contains(err.Error(), "HTTP status 401 Unauthorized (Anonymous caller does not have storage.objects.get access): it was read anonymously, as no Google credentials were found") {
		t.Fatalf("no credentials, private bucket: %v", err)
	}
	t.Setenv("STORAGE_EMULATOR_HOST", strings.TrimPrefix(g.URL, "http://"))
	remote.GCSEndpoint = "https://unused.invalid"
	freshObjectStores(t)
	s, err = OpenShards("gs://open/index.json", "")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(samplesOf(t, s), want) {
		t.Fatal("through STORAGE_EMULATOR_HOST: samples differ")
	}
}
