//go:build !nocloud

package datasets

import (
	"bufio"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
)

// s3Python is the python3 that VICREG_S3_PYTHON names, with moto and boto3 from PyPI (pip install
// 'moto[server]' boto3), for the S3 tests against references; the test is skipped without it.
func s3Python(t *testing.T) string {
	py := os.Getenv("VICREG_S3_PYTHON")
	if py == "" {
		t.Skip("VICREG_S3_PYTHON is not set: name a python3 with moto and boto3 (pip install 'moto[server]' boto3)")
	}
	return py
}

// Our S3 signatures are botocore's, to the character, for keys with spaces, non-ASCII letters and
// the characters S3 escapes, a bucket with dots, a listing's query (with a continuation token that
// holds "+", "/" and "="), a Range header and a session token.
func TestS3SignaturesMatchBotocore(t *testing.T) {
	py := s3Python(t)
	var s s3Store
	s.once.Do(func() {})
	s.signer = newS3Signer()
	at := time.Date(2026, 12, 6, 15, 4, 5, 0, time.UTC)
	cases := []struct {
		bucket, key, region, rng, token string
		query                           map[string]string
	}{
		{bucket: "examplebucket", key: "test.txt", region: "us-east-1", rng: "bytes=0-9"},
		{bucket: "b", key: "my data/ä (1)+x=y;z,w.tar", region: "eu-west-1", rng: "bytes=100-"},
		{bucket: "my.bucket", key: "a/b~c!d*e'f@g$h.tar", region: "ap-southeast-2", token: "session/token+=="},
		{bucket: "b", region: "us-west-2", query: map[string]string{"list-type": "2", "prefix": "my data/ä/", "delimiter": "/",
			"max-keys": "1000", "continuation-token": "1a+b/c=="}},
	}
	var in strings.Builder
	var ours []string
	for _, c := range cases {
		u := s.url(c.bucket, c.key, c.region)
		if c.query != nil {
			q := u.Query()
			for k, v := range c.query {
				q.Set(k, v)
			}
			u.RawQuery = q.Encode()
		}
		req, err := http.NewRequest(http.MethodGet, u.String(), nil)
		if err != nil {
			t.Fatal(err)
		}
		headers := map[string]string{"X-Amz-Content-Sha256": emptySHA256}
		if c.rng != "" {
			req.Header.Set("Range", c.rng)
			headers["Range"] = c.rng
		}
		creds := aws.Credentials{AccessKeyID: "AKIDEXAMPLE", SecretAccessKey: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", SessionToken: c.token}
		if err := s.sign(t.Context(), req, creds, c.region, at); err != nil {
			t.Fatal(err)
		}
		ours = append(ours, strings.ReplaceAll(req.Header.Get("Authorization"), ", ", ","))
		line, _ := json.Marshal(map[string]any{"url": req.URL.String(), "headers": headers, "time": at.Unix(),
			"key": creds.AccessKeyID, "secret": creds.SecretAccessKey, "token": c.token, "region": c.region})
		in.Write(append(line, '\n'))
	}
	cmd := exec.Command(py, "testdata/s3/moto_s3.py", "sign")
	cmd.Stdin = strings.NewReader(in.String())
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("botocore: %v", err)
	}
	theirs := strings.Split(strings.TrimSpace(strings.ReplaceAll(string(out), ", ", ",")), "\n")
	if len(theirs) != len(cases) {
		t.Fatalf("botocore gave %d signatures for %d requests:\n%s", len(theirs), len(cases), out)
	}
	for i := range cases {
		if ours[i] != theirs[i] {
			t.Errorf("request %d (%s/%s): ours\n%s\nbotocore's\n%s", i, cases[i].bucket, cases[i].key, ours[i], theirs[i])
		}
	}
}

// Shards in moto's S3 (buckets in two regions, keys with a space, a folder listed in pages of 2),
// named by their folder, index or pattern, give the samples of the files on disk; each bucket's
// region is moto's answer to its HEAD request.
func TestS3AgainstMoto(t *testing.T) {
	py := s3Python(t)
	files, want := objectStoreFixture(t)
	root := t.TempDir()
	for name, data := range files {
		writeFile(t, filepath.Join(root, "far@eu-west-1", "my data", "train", name), data)
		writeFile(t, filepath.Join(root, "near@us-east-1", name), data)
	}
	writeFile(t, filepath.Join(root, "far@eu-west-1", "my data", "val", "shard-000000.tar"), files["shard-000000.tar"])
	cmd := exec.Command(py, "testdata/s3/moto_s3.py", "serve", root)
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	var stderr strings.Builder // moto's request log, shown when the test fails
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		stdin.Close()
		cmd.Wait()
		if t.Failed() {
			t.Logf("moto:\n%s", stderr.String())
		}
	})
	endpoint, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		t.Fatalf("moto did not start: %v", err)
	}
	go io.Copy(io.Discard, stdout)
	awsEnv(t, strings.TrimSpace(endpoint), "AKIDMOTO", "moto")
	page := listPageSize
	listPageSize = 2
	t.Cleanup(func() { listPageSize = page })

	for loc, split := range map[string]string{
		"s3://far/my data/": SplitTrain, "s3://far/my data/train/index.json": "",
		"s3://far/my data/train/shard-{000000..000003}.tar": "", "s3://near/": "",
	} {
		s, err := OpenShards(loc, split)
		if err != nil {
			t.Fatal(err)
		}
		if got := samplesOf(t, s); !slices.Equal(got, want) {
			t.Fatalf("%s: samples differ from those of the files", loc)
		}
	}
	held, err := OpenShards("s3://far/my data/", SplitTest)
	if err != nil || !slices.Equal(held.Paths(), []string{"s3://far/my data/val/shard-000000.tar"}) {
		t.Fatalf("held-out split: %v %v", held, err)
	}
	for bucket, region := range map[string]string{"far": "eu-west-1", "near": "us-east-1"} {
		if r, _ := s3Objects.regions.Load(bucket); r != region {
			t.Errorf("bucket %s: region %v, want %s", bucket, r, region)
		}
	}
	_, err = OpenShards("s3://far/my data/train/shard-{000007..000007}.tar", "")
	if err == nil || !strings.Contains(err.Error(), "GET s3://far/my data/train/shard-000007.tar: HTTP status 404 NOT FOUND (NoSuchKey: The specified key does not exist.): check the URL") {
		t.Fatalf("a missing key: %v", err)
	}
}
