//go:build !nocloud

package datasets

import (
	"cmp"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"encoding/xml"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
)

// awsEscape is the URI encoding of Signature Version 4: every byte but letters, digits and
// "-._~" as %XX (written here from AWS's description, apart from the code under test).
func awsEscape(s string) string {
	var b strings.Builder
	for _, c := range []byte(s) {
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '.' || c == '_' || c == '~' {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}

func hmacSHA256(key []byte, data string) []byte {
	h := hmac.New(sha256.New, key)
	h.Write([]byte(data))
	return h.Sum(nil)
}

// verifySigV4 checks the Signature Version 4 of a request as S3 receives it, with secret, as AWS
// describes the algorithm; it returns the region of the signature's scope.
func verifySigV4(r *http.Request, secret string) (region string, err error) {
	auth, ok := strings.CutPrefix(r.Header.Get("Authorization"), "AWS4-HMAC-SHA256 ")
	if !ok {
		return "", errors.New("not a Signature Version 4")
	}
	fields := map[string]string{}
	for _, f := range strings.Split(auth, ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(f), "=")
		fields[k] = v
	}
	scope := strings.SplitN(fields["Credential"], "/", 2)
	parts := strings.Split(scope[len(scope)-1], "/") // date, region, service, aws4_request
	if len(scope) != 2 || len(parts) != 4 || parts[2] != "s3" || parts[3] != "aws4_request" {
		return "", fmt.Errorf("credential %q", fields["Credential"])
	}
	var query []string
	for k, vs := range r.URL.Query() {
		for _, v := range vs {
			query = append(query, awsEscape(k)+"="+awsEscape(v))
		}
	}
	sort.Strings(query)
	signed := strings.Split(fields["SignedHeaders"], ";")
	var headers strings.Builder
	for _, h := range signed {
		v := r.Header.Get(h)
		if h == "host" {
			v = r.Host
		}
		fmt.Fprintf(&headers, "%s:%s\n", h, strings.TrimSpace(v))
	}
	if !slices.Contains(signed, "host") || !slices.Contains(signed, "x-amz-date") {
		return "", fmt.Errorf("signed headers %q lack host or x-amz-date", signed)
	}
	canonical := strings.Join([]string{r.Method, r.URL.EscapedPath(), strings.Join(query, "&"), headers.String(),
		fields["SignedHeaders"], r.Header.Get("X-Amz-Content-Sha256")}, "\n")
	sum := sha256.Sum256([]byte(canonical))
	toSign := "AWS4-HMAC-SHA256\n" + r.Header.Get("X-Amz-Date") + "\n" + scope[1] + "\n" + hex.EncodeToString(sum[:])
	key := []byte("AWS4" + secret)
	for _, p := range parts {
		key = hmacSHA256(key, p)
	}
	if want := hex.EncodeToString(hmacSHA256(key, toSign)); !hmac.Equal([]byte(want), []byte(fields["Signature"])) {
		return "", errors.New("signature does not match")
	}
	return parts[1], nil
}

// The example of AWS's documentation of Signature Version 4 for S3 ("GET Object": the first ten
// bytes of examplebucket's test.txt, 24 May 2013) is signed by the code under test exactly as the
// documentation gives it, and the test's verifier, which checks the fake S3 below, accepts it and
// refuses it changed.
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
	if err := s.sign(t.Context(), req, creds, "us-east-1", time.Date(2013, 5, 24, 0, 0, 0, 0, time.UTC)); err != nil {
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
	if region, err := verifySigV4(received, secret); err != nil || region != "us-east-1" {
		t.Fatalf("the verifier refuses AWS's example: %v", err)
	}
	received.Header.Set("Range", "bytes=0-10")
	if _, err := verifySigV4(received, secret); err == nil {
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

// fakeS3 serves objects path-style as S3 does: it answers a bucket's HEAD with its region, checks
// every signature (for the bucket's region), lets public buckets be read without one, lists with
// ListObjectsV2 in pages, and serves Range requests.
type fakeS3 struct {
	*httptest.Server
	secret   string
	objects  map[string][]byte // "bucket/key"
	regions  map[string]string // bucket → region (default us-east-1)
	public   map[string]bool
	pageSize int
	mu       sync.Mutex
	log      []string // "HEAD bucket", "GET key region range", "LIST prefix token"
	breakKey string   // the first GET of this key breaks off halfway
}

func newFakeS3(t testing.TB, secret string) *fakeS3 {
	f := &fakeS3{secret: secret, objects: map[string][]byte{}, regions: map[string]string{}, public: map[string]bool{}, pageSize: 2}
	f.Server = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.Close)
	return f
}

func (f *fakeS3) record(s string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.log = append(f.log, s)
}

func (f *fakeS3) entries(prefix string) []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for _, l := range f.log {
		if strings.HasPrefix(l, prefix) {
			out = append(out, l)
		}
	}
	return out
}

func s3Error(w http.ResponseWriter, code int, s3code string) {
	w.Header().Set("Content-Type", "application/xml")
	w.WriteHeader(code)
	fmt.Fprintf(w, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>%s</Code><Message>fake S3 says %s</Message></Error>", s3code, s3code)
}

func (f *fakeS3) serve(w http.ResponseWriter, r *http.Request) {
	bucket, key, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/"), "/")
	region := cmp.Or(f.regions[bucket], "us-east-1")
	w.Header().Set("X-Amz-Bucket-Region", region)
	if r.Method == http.MethodHead {
		f.record("HEAD " + bucket)
		if !f.public[bucket] {
			w.WriteHeader(http.StatusForbidden)
		}
		return
	}
	if r.Header.Get("Authorization") == "" {
		if !f.public[bucket] {
			s3Error(w, http.StatusForbidden, "AccessDenied")
			return
		}
	} else {
		signed, err := verifySigV4(r, f.secret)
		if err != nil {
			s3Error(w, http.StatusForbidden, "SignatureDoesNotMatch")
			return
		}
		if signed != region {
			s3Error(w, http.StatusBadRequest, "AuthorizationHeaderMalformed")
			return
		}
	}
	q := r.URL.Query()
	if q.Get("list-type") == "2" {
		f.record("LIST " + q.Get("prefix") + " " + q.Get("continuation-token"))
		f.list(w, bucket, q.Get("prefix"), q.Get("continuation-token"))
		return
	}
	data, ok := f.objects[bucket+"/"+key]
	f.record(fmt.Sprintf("GET %s %s %s", key, region, r.Header.Get("Range")))
	if !ok {
		s3Error(w, http.StatusNotFound, "NoSuchKey")
		return
	}
	f.mu.Lock()
	broken := key == f.breakKey && r.Header.Get("Range") == ""
	if broken {
		f.breakKey = ""
	}
	f.mu.Unlock()
	if broken {
		w.Header().Set("Content-Length", fmt.Sprint(len(data)))
		w.WriteHeader(http.StatusOK)
		w.Write(data[:len(data)/2])
		w.(http.Flusher).Flush()
		panic(http.ErrAbortHandler)
	}
	http.ServeContent(w, r, key, time.Time{}, strings.NewReader(string(data)))
}

// list answers ListObjectsV2 with delimiter "/", pageSize entries a page (the continuation token
// is the index of the page's first entry).
func (f *fakeS3) list(w http.ResponseWriter, bucket, prefix, token string) {
	type entry struct{ key, folder string }
	var all []entry
	seen := map[string]bool{}
	for k := range f.objects {
		b, key, _ := strings.Cut(k, "/")
		rest, ok := strings.CutPrefix(key, prefix)
		if b != bucket || !ok {
			continue
		}
		if dir, _, isDir := strings.Cut(rest, "/"); isDir {
			if !seen[dir] {
				seen[dir] = true
				all = append(all, entry{folder: prefix + dir + "/"})
			}
		} else {
			all = append(all, entry{key: key})
		}
	}
	sort.Slice(all, func(i, j int) bool { return all[i].key+all[i].folder < all[j].key+all[j].folder })
	start, _ := strconv.Atoi(token)
	end := min(start+f.pageSize, len(all))
	type content struct {
		Key  string
		Size int
	}
	var out struct {
		XMLName               xml.Name `xml:"ListBucketResult"`
		Contents              []content
		CommonPrefixes        []struct{ Prefix string }
		IsTruncated           bool
		NextContinuationToken string `xml:",omitempty"`
	}
	for _, e := range all[start:end] {
		if e.key != "" {
			out.Contents = append(out.Contents, content{e.key, len(f.objects[bucket+"/"+e.key])})
		} else {
			out.CommonPrefixes = append(out.CommonPrefixes, struct{ Prefix string }{e.folder})
		}
	}
	if end < len(all) {
		out.IsTruncated, out.NextContinuationToken = true, strconv.Itoa(end)
	}
	w.Header().Set("Content-Type", "application/xml")
	xml.NewEncoder(w).Encode(out)
}

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
	reset := func() { s3Objects, gcsObjects = s3Store{}, gcsStore{} }
	reset()
	t.Cleanup(reset)
}

// awsEnv sets an AWS environment with no configuration but the endpoint and the keys given (none:
// anonymous).
func awsEnv(t testing.TB, endpoint, keyID, secret string) {
	dir := t.TempDir()
	for k, v := range map[string]string{
		"AWS_ENDPOINT_URL_S3": endpoint, "AWS_ACCESS_KEY_ID": keyID, "AWS_SECRET_ACCESS_KEY": secret, "AWS_REGION": "us-east-1",
		"AWS_CONFIG_FILE": filepath.Join(dir, "config"), "AWS_SHARED_CREDENTIALS_FILE": filepath.Join(dir, "credentials"),
		"AWS_EC2_METADATA_DISABLED": "true", "AWS_PROFILE": "", "AWS_SESSION_TOKEN": "", "AWS_ENDPOINT_URL": "",
		"AWS_CONTAINER_CREDENTIALS_FULL_URI": "", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI": "", "AWS_WEB_IDENTITY_TOKEN_FILE": "",
	} {
		t.Setenv(k, v)
	}
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
	f := newFakeS3(t, secret)
	f.regions["far"] = "eu-west-1"
	for name, data := range files {
		f.objects["far/my data/train/"+name] = data
		f.objects["far/my data/väl/"+name] = data // not a split folder: ignored
	}
	f.objects["far/my data/train/._shard-000000.tar"] = []byte("macOS metadata")
	f.objects["far/my data/val/shard-000000.tar"] = files["shard-000000.tar"]
	f.objects["far/my data/notes.txt"] = []byte("not a shard")
	awsEnv(t, f.URL, "AKIDTEST", secret)
	fastRetries(t, 3)
	f.breakKey = "my data/train/shard-000001.tar"

	folder, err := OpenShards("s3://far/my data/", SplitTrain)
	if err != nil {
		t.Fatal(err)
	}
	if got := samplesOf(t, folder); !slices.Equal(got, want) {
		t.Fatal("samples of the S3 folder differ from those of the files")
	}
	if heads := f.entries("HEAD"); !slices.Equal(heads, []string{"HEAD far"}) {
		t.Fatalf("region lookups %q, want one HEAD of the bucket", heads)
	}
	// Two pages of the folder (notes.txt, train/, val/, väl/), four of train/ (4 shards, ._ file,
	// classes.txt, index.json).
	if lists := f.entries("LIST"); !slices.Equal(lists, []string{"LIST my data/ ", "LIST my data/ 2",
		"LIST my data/train/ ", "LIST my data/train/ 2", "LIST my data/train/ 4", "LIST my data/train/ 6"}) {
		t.Fatalf("listings %q", lists)
	}
	resumed := f.entries("GET my data/train/shard-000001.tar eu-west-1 bytes=")
	if len(resumed) != 1 {
		t.Fatalf("the broken shard's requests: %q, want one signed Range request", f.entries("GET my data/train/shard-000001.tar"))
	}
	// The scan downloads the 4 shards (one resumed), and classes.txt; samplesOf reads the shards.
	if gets := f.entries("GET "); len(gets) != 4+1+1+4 || len(f.entries("GET my data/train/shard-")) != 9 {
		t.Fatalf("GET requests %q, want 4 shards, one resumption, classes.txt, 4 shards", gets)
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
	if heads := f.entries("HEAD"); len(heads) != 1 {
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
	f.objects["split/train/shard-000000.tar"] = files["shard-000000.tar"]
	if s, err := OpenShards("s3://split", SplitTrain); err != nil || !slices.Equal(s.Paths(), []string{"s3://split/train/shard-000000.tar"}) {
		t.Errorf("a bucket's root, without its /: %v", err)
	}
	if _, err := OpenShards("s3://split/", SplitTest); !errors.Is(err, ErrNoSplit) || !strings.Contains(err.Error(), "holds a train/ folder but no folder for the test split (want val/ or test/)") {
		t.Errorf("a bucket with train/ only, for the held-out split: %v", err)
	}
}

// S3's refusals say why: a signature that does not match (another secret), a private bucket read
// anonymously; a public bucket is read without credentials, unsigned.
func TestS3Credentials(t *testing.T) {
	files, want := objectStoreFixture(t)
	f := newFakeS3(t, "the secret")
	for name, data := range files {
		f.objects["private/"+name] = data
		f.objects["open/"+name] = data
	}
	f.public["open"] = true
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

// fakeGCS serves GCS's JSON API (media downloads, listings in pages) and an OAuth token endpoint
// that takes a service account's signed assertion for the read-only scope.
type fakeGCS struct {
	*httptest.Server
	objects  map[string][]byte // "bucket/object"
	public   map[string]bool
	key      *rsa.PublicKey
	mu       sync.Mutex
	log      []string
	pageSize int
}

const fakeGCSToken = "ya29.fake-token"

func newFakeGCS(t *testing.T) *fakeGCS {
	g := &fakeGCS{objects: map[string][]byte{}, public: map[string]bool{}, pageSize: 2}
	g.Server = httptest.NewServer(http.HandlerFunc(g.serve))
	t.Cleanup(g.Close)
	return g
}

func (g *fakeGCS) serve(w http.ResponseWriter, r *http.Request) {
	gcsError := func(code int, msg string) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(code)
		fmt.Fprintf(w, `{"error":{"code":%d,"message":%q}}`, code, msg)
	}
	if r.URL.Path == "/token" {
		r.ParseForm()
		claims, err := g.checkAssertion(r.PostForm.Get("assertion"))
		g.mu.Lock()
		g.log = append(g.log, fmt.Sprintf("TOKEN %v %v", claims["scope"], err))
		g.mu.Unlock()
		if r.PostForm.Get("grant_type") != "urn:ietf:params:oauth:grant-type:jwt-bearer" || err != nil {
			gcsError(http.StatusBadRequest, "bad assertion")
			return
		}
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"access_token":%q,"token_type":"Bearer","expires_in":3600}`, fakeGCSToken)
		return
	}
	rest, ok := strings.CutPrefix(r.URL.EscapedPath(), "/storage/v1/b/")
	if !ok {
		gcsError(http.StatusNotFound, "not an API path")
		return
	}
	bucket, object, _ := strings.Cut(rest, "/o")
	bucket, _ = url.PathUnescape(bucket)
	object, _ = url.PathUnescape(strings.TrimPrefix(object, "/"))
	g.mu.Lock()
	g.log = append(g.log, fmt.Sprintf("GET %s %s %s", object, r.Header.Get("Authorization"), r.Header.Get("Range")))
	g.mu.Unlock()
	if r.Header.Get("Authorization") != "Bearer "+fakeGCSToken && !g.public[bucket] {
		gcsError(http.StatusUnauthorized, "Anonymous caller does not have storage.objects.get access")
		return
	}
	q := r.URL.Query()
	if object == "" {
		var names []string
		prefixes := map[string]bool{}
		for k := range g.objects {
			b, name, _ := strings.Cut(k, "/")
			if rest, ok := strings.CutPrefix(name, q.Get("prefix")); b == bucket && ok {
				if dir, _, isDir := strings.Cut(rest, "/"); isDir {
					prefixes[q.Get("prefix")+dir+"/"] = true
				} else {
					names = append(names, name)
				}
			}
		}
		sort.Strings(names)
		start, _ := strconv.Atoi(q.Get("pageToken"))
		end := min(start+g.pageSize, len(names))
		out := map[string]any{}
		var items []map[string]string
		for _, n := range names[start:end] {
			items = append(items, map[string]string{"name": n, "size": strconv.Itoa(len(g.objects[bucket+"/"+n]))})
		}
		out["items"] = items
		if start == 0 {
			out["prefixes"] = slices.Sorted(func(yield func(string) bool) {
				for p := range prefixes {
					yield(p)
				}
			})
		}
		if end < len(names) {
			out["nextPageToken"] = strconv.Itoa(end)
		}
		json.NewEncoder(w).Encode(out)
		return
	}
	data, ok := g.objects[bucket+"/"+object]
	if !ok || q.Get("alt") != "media" {
		gcsError(http.StatusNotFound, "No such object: "+bucket+"/"+object)
		return
	}
	http.ServeContent(w, r, object, time.Time{}, strings.NewReader(string(data)))
}

// checkAssertion verifies a JWT signed with RS256 by the service account's key, and returns its
// claims.
func (g *fakeGCS) checkAssertion(jwt string) (map[string]any, error) {
	parts := strings.Split(jwt, ".")
	if len(parts) != 3 {
		return nil, errors.New("not a JWT")
	}
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	if err := rsa.VerifyPKCS1v15(g.key, 5 /* crypto.SHA256 */, sum[:], sig); err != nil {
		return nil, err
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return nil, err
	}
	var claims map[string]any
	return claims, json.Unmarshal(payload, &claims)
}

// serviceAccount writes a service account's key file whose token endpoint is g's, and points
// GOOGLE_APPLICATION_CREDENTIALS at it.
func (g *fakeGCS) serviceAccount(t *testing.T) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	g.key = &key.PublicKey
	der, _ := x509.MarshalPKCS8PrivateKey(key)
	sa, _ := json.Marshal(map[string]string{
		"type": "service_account", "project_id": "test", "private_key_id": "k1",
		"private_key":  string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})),
		"client_email": "reader@test.iam.gserviceaccount.com", "client_id": "1", "token_uri": g.URL + "/token",
	})
	path := filepath.Join(t.TempDir(), "sa.json")
	writeFile(t, path, sa)
	t.Setenv("GOOGLE_APPLICATION_CREDENTIALS", path)
}

// Shards in GCS (a fake of its JSON API and token endpoint), named by their folder or index, give
// the samples of the files on disk: the service account of GOOGLE_APPLICATION_CREDENTIALS gets a
// read-only token once, which every request carries; object names are escaped whole. Without
// credentials a private bucket's refusal says what to do; STORAGE_EMULATOR_HOST is read
// anonymously.
func TestGCSShards(t *testing.T) {
	files, want := objectStoreFixture(t)
	g := newFakeGCS(t)
	for name, data := range files {
		g.objects["bkt/ssl data/train/"+name] = data
		g.objects["open/"+name] = data
	}
	g.public["open"] = true
	g.serviceAccount(t)
	t.Setenv("STORAGE_EMULATOR_HOST", "")
	endpoint := gcsEndpoint
	gcsEndpoint = g.URL
	t.Cleanup(func() { gcsEndpoint = endpoint })
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
	g.mu.Lock()
	var tokens, gets, bearer int
	for _, l := range g.log {
		switch {
		case strings.HasPrefix(l, "TOKEN "):
			tokens++
			if l != "TOKEN "+gcsScope+" <nil>" {
				t.Errorf("token request %q", l)
			}
		case strings.HasPrefix(l, "GET "):
			gets++
			if strings.Contains(l, "Bearer "+fakeGCSToken) {
				bearer++
			}
		}
	}
	g.mu.Unlock()
	if tokens != 1 || gets == 0 || bearer != gets {
		t.Fatalf("%d token requests, %d of %d requests with the token; want 1, all", tokens, bearer, gets)
	}

	t.Setenv("GOOGLE_APPLICATION_CREDENTIALS", filepath.Join(t.TempDir(), "missing.json"))
	freshObjectStores(t)
	_, err = OpenShards("gs://bkt/ssl data/train/index.json", "")
	if err == nil || !strings.Contains(err.Error(), "HTTP status 401 Unauthorized (Anonymous caller does not have storage.objects.get access): it was read anonymously, as no Google credentials were found") {
		t.Fatalf("no credentials, private bucket: %v", err)
	}
	t.Setenv("STORAGE_EMULATOR_HOST", strings.TrimPrefix(g.URL, "http://"))
	gcsEndpoint = "https://unused.invalid"
	freshObjectStores(t)
	s, err = OpenShards("gs://open/index.json", "")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(samplesOf(t, s), want) {
		t.Fatal("through STORAGE_EMULATOR_HOST: samples differ")
	}
}
