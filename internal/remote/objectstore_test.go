//go:build !nocloud

package remote

import (
	"cmp"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/gomlx-ssl/vicreg/internal/remote/remotetest"
)

// The example of AWS's documentation of Signature Version 4 for S3 ("GET Object": the first ten
// bytes of examplebucket's test.txt, 24 May 2013) is signed by the code under test exactly as the
// documentation gives it, and the verifier of the fake S3 (remotetest) accepts it and refuses it
// changed.
func TestSigV4MatchesAWSExample(t *testing.T) {
	const want = "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request," +
		"SignedHeaders=host;range;x-amz-content-sha256;x-amz-date," +
		"Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41"
	const secret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
	var s s3Store
	s.once.Do(func() {}) // no configuration: the signer alone
	s.signer = newS3Signer()
	if u := s.url("examplebucket", "test.txt", "us-east-1").String(); u != "https://examplebucket.s3.us-east-1.amazonaws.com/test.txt" {
		t.Fatalf("URL %s", u)
	}
	req, _ := http.NewRequest(http.MethodGet, "https://examplebucket.s3.amazonaws.com/test.txt", nil) // the example's host
	req.Header.Set("Range", "bytes=0-9")
	creds := aws.Credentials{AccessKeyID: "AKIAIOSFODNN7EXAMPLE", SecretAccessKey: secret}
	if err := s.sign(t.Context(), req, creds, "us-east-1", emptySHA256, time.Date(2013, 5, 24, 0, 0, 0, 0, time.UTC)); err != nil {
		t.Fatal(err)
	}
	// The SDK separates the fields with ", ", the documentation with ","; S3 takes both.
	if got := strings.ReplaceAll(req.Header.Get("Authorization"), ", ", ","); got != want {
		t.Fatalf("Authorization\n%s\nwant AWS's\n%s", got, want)
	}
	// The example as S3 receives it (at the global endpoint's host the example names).
	received := httptest.NewRequest(http.MethodGet, "/test.txt", nil)
	received.Host = "examplebucket.s3.amazonaws.com"
	for k, v := range map[string]string{"Range": "bytes=0-9", "X-Amz-Content-Sha256": emptySHA256, "X-Amz-Date": "20130524T000000Z", "Authorization": want} {
		received.Header.Set(k, v)
	}
	if region, err := remotetest.VerifySigV4(received, secret); err != nil || region != "us-east-1" {
		t.Fatalf("the verifier refuses AWS's example: %v", err)
	}
	received.Header.Set("Range", "bytes=0-10")
	if _, err := remotetest.VerifySigV4(received, secret); err == nil {
		t.Fatal("the verifier accepts the example with another range")
	}
	// Keys are escaped once, as S3 wants (the SDK's default for other services escapes twice).
	if got, want := s.url("b", "my data/ä (1).tar", "eu-west-1").EscapedPath(), "/my%20data/%C3%A4%20%281%29.tar"; got != want {
		t.Fatalf("path %s, want %s", got, want)
	}
	if got := s.url("my.bucket", "k", "eu-west-1").String(); got != "https://s3.eu-west-1.amazonaws.com/my.bucket/k" {
		t.Fatalf("a bucket with dots: %s, want a path-style URL", got)
	}
}

// Our S3 signatures are botocore's, to the character, for keys with spaces, non-ASCII letters and
// the characters S3 escapes, a bucket with dots, a listing's query (with a continuation token that
// holds "+", "/" and "="), a Range header, a session token, an upload (its payload hash,
// Content-MD5 and length) and a deletion.
func TestS3SignaturesMatchBotocore(t *testing.T) {
	py := remotetest.MotoPython(t)
	var s s3Store
	s.once.Do(func() {})
	s.signer = newS3Signer()
	at := time.Date(2026, 12, 6, 15, 4, 5, 0, time.UTC)
	file := filepath.Join(t.TempDir(), "ckpt-000000100.safetensors")
	if err := os.WriteFile(file, []byte("the checkpoint's bytes"), 0o644); err != nil { // 22 bytes
		t.Fatal(err)
	}
	up, err := newUpload(file)
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		method, bucket, key, region, rng, token string
		query                                   map[string]string
		up                                      *upload
	}{
		{bucket: "examplebucket", key: "test.txt", region: "us-east-1", rng: "bytes=0-9"},
		{bucket: "b", key: "my data/ä (1)+x=y;z,w.tar", region: "eu-west-1", rng: "bytes=100-"},
		{bucket: "my.bucket", key: "a/b~c!d*e'f@g$h.tar", region: "ap-southeast-2", token: "session/token+=="},
		{bucket: "b", region: "us-west-2", query: map[string]string{"list-type": "2", "prefix": "my data/ä/", "delimiter": "/",
			"max-keys": "1000", "continuation-token": "1a+b/c=="}},
		{method: http.MethodPut, bucket: "b", key: "runs/r 1/ckpt-000000100.safetensors", region: "eu-west-1", up: up},
		{method: http.MethodDelete, bucket: "b", key: "runs/r 1/ckpt-000000050.safetensors", region: "eu-west-1", token: "tok"},
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
		method := cmp.Or(c.method, http.MethodGet)
		req, err := http.NewRequest(method, u.String(), nil)
		if err != nil {
			t.Fatal(err)
		}
		payload := emptySHA256
		headers := map[string]string{}
		if c.rng != "" {
			req.Header.Set("Range", c.rng)
			headers["Range"] = c.rng
		}
		if c.up != nil {
			if err := newBody(req, c.up); err != nil {
				t.Fatal(err)
			}
			req.Body.Close()
			payload = c.up.sha256
			req.Header.Set("Content-MD5", "bWQ1")
			headers["Content-MD5"], headers["Content-Type"] = "bWQ1", req.Header.Get("Content-Type")
			headers["Content-Length"] = "22"
		}
		headers["X-Amz-Content-Sha256"] = payload
		creds := aws.Credentials{AccessKeyID: "AKIDEXAMPLE", SecretAccessKey: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", SessionToken: c.token}
		if err := s.sign(t.Context(), req, creds, c.region, payload, at); err != nil {
			t.Fatal(err)
		}
		ours = append(ours, strings.ReplaceAll(req.Header.Get("Authorization"), ", ", ","))
		body := ""
		if c.up != nil {
			body = "the checkpoint's bytes"
		}
		line, _ := json.Marshal(map[string]any{"method": method, "url": req.URL.String(), "headers": headers, "body": body, "time": at.Unix(),
			"key": creds.AccessKeyID, "secret": creds.SecretAccessKey, "token": c.token, "region": c.region})
		in.Write(append(line, '\n'))
	}
	cmd := exec.Command(py, remotetest.MotoScript(), "sign")
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
			t.Errorf("request %d (%s %s/%s): ours\n%s\nbotocore's\n%s", i, cases[i].method, cases[i].bucket, cases[i].key, ours[i], theirs[i])
		}
	}
}

// Against moto's S3 (an empty bucket in eu-west-1, configured region us-east-1): a file put under
// a key with a space is listed with its size and MD5, read back whole, replaced, and deleted; a
// missing key's deletion is no error; the bucket's region is moto's answer to its HEAD request.
func TestS3AgainstMoto(t *testing.T) {
	root := t.TempDir()
	if err := os.MkdirAll(filepath.Join(root, "far@eu-west-1"), 0o755); err != nil {
		t.Fatal(err)
	}
	endpoint := remotetest.Moto(t, root)
	remotetest.AWSEnv(t, endpoint, "AKIDMOTO", "moto")
	Forget()
	t.Cleanup(Forget)
	checkRoundTrip(t, "s3://far/runs/r 1/")
	if r, _ := s3Objects.regions.Load("far"); r != "eu-west-1" {
		t.Errorf("bucket far: region %v, want eu-west-1", r)
	}
}
