// Package remotetest serves fakes of Amazon S3 and Google Cloud Storage for tests: they check
// what the real stores check (S3's Signature Version 4, written here from AWS's description apart
// from the code under test; GCS's bearer tokens, from a service account's signed assertion; the
// MD5 of an upload) and keep a log of the requests.
package remotetest

import (
	"bytes"
	"cmp"
	"crypto/hmac"
	"crypto/md5"
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
	"io"
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
)

// awsEscape is the URI encoding of Signature Version 4: every byte but letters, digits and
// "-._~" as %XX.
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

// VerifySigV4 checks the Signature Version 4 of a request as S3 receives it, with secret, as AWS
// describes the algorithm; it returns the region of the signature's scope.
func VerifySigV4(r *http.Request, secret string) (region string, err error) {
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
		switch h {
		case "host":
			v = r.Host
		case "content-length":
			v = strconv.FormatInt(r.ContentLength, 10)
		}
		fmt.Fprintf(&headers, "%s:%s\n", h, strings.TrimSpace(v))
	}
	if !slices.Contains(signed, "host") || !slices.Contains(signed, "x-amz-date") || !slices.Contains(signed, "x-amz-content-sha256") {
		return "", fmt.Errorf("signed headers %q lack host, x-amz-date or x-amz-content-sha256", signed)
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

// log is a fake's record of requests.
type requestLog struct {
	mu    sync.Mutex
	lines []string
}

func (l *requestLog) record(s string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lines = append(l.lines, s)
}

// Entries returns the requests recorded so far that start with prefix.
func (l *requestLog) Entries(prefix string) []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	for _, s := range l.lines {
		if strings.HasPrefix(s, prefix) {
			out = append(out, s)
		}
	}
	return out
}

// S3 serves objects path-style as S3 does: it answers a bucket's HEAD with its region, checks
// every signature (for the bucket's region) and the payload's SHA-256 and MD5 of an upload, lets
// public buckets be read (not written) without one, lists with ListObjectsV2 in pages, serves
// Range requests, and stores PUTs and DELETEs.
//
// Its log's entries are "HEAD bucket", "GET key region range", "LIST prefix token", "PUT key",
// "DELETE key". Lock Mu to change the maps while it serves.
type S3 struct {
	*httptest.Server
	requestLog
	Mu       sync.Mutex
	Secret   string
	Objects  map[string][]byte // "bucket/key"
	Regions  map[string]string // bucket → region (default us-east-1)
	Public   map[string]bool
	PageSize int
	BreakKey string // the first GET of this key breaks off halfway
	// Fail, when set, is asked for each request whether to answer it with this status (0: no)
	// instead, before looking at it further; -1 reads half the body, then breaks the connection
	// off.
	Fail func(method, key string) int
}

// NewS3 starts a fake S3 whose only credentials have secret; it stops at the end of the test.
func NewS3(t testing.TB, secret string) *S3 {
	f := &S3{Secret: secret, Objects: map[string][]byte{}, Regions: map[string]string{}, Public: map[string]bool{}, PageSize: 2}
	f.Server = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.Close)
	return f
}

// HoldsFolder checks that the bucket folder prefix ("bucket/prefix/") holds the regular files of
// dir for which keep is true, byte for byte, and nothing else.
func (f *S3) HoldsFolder(t testing.TB, dir, prefix string, keep func(name string) bool) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for _, e := range entries {
		if !e.Type().IsRegular() || !keep(e.Name()) {
			continue
		}
		want = append(want, e.Name())
		local, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if data, ok := f.Object(prefix + e.Name()); err != nil || !ok || !bytes.Equal(data, local) {
			t.Errorf("the bucket's %s%s (there: %v) differs from the folder's (%v)", prefix, e.Name(), ok, err)
		}
	}
	var got []string
	f.Mu.Lock()
	for k := range f.Objects {
		if name, ok := strings.CutPrefix(k, prefix); ok {
			got = append(got, name)
		}
	}
	f.Mu.Unlock()
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Errorf("the bucket's %s holds %q, the folder %s %q", prefix, got, dir, want)
	}
}

// Object returns the object bucket/key and whether it exists.
func (f *S3) Object(bucketKey string) ([]byte, bool) {
	f.Mu.Lock()
	defer f.Mu.Unlock()
	data, ok := f.Objects[bucketKey]
	return data, ok
}

func s3Error(w http.ResponseWriter, code int, s3code string) {
	w.Header().Set("Content-Type", "application/xml")
	w.WriteHeader(code)
	fmt.Fprintf(w, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>%s</Code><Message>fake S3 says %s</Message></Error>", s3code, s3code)
}

func (f *S3) serve(w http.ResponseWriter, r *http.Request) {
	bucket, key, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/"), "/")
	f.Mu.Lock()
	region := cmp.Or(f.Regions[bucket], "us-east-1")
	public := f.Public[bucket]
	fail := 0
	if f.Fail != nil {
		fail = f.Fail(r.Method, key)
	}
	f.Mu.Unlock()
	w.Header().Set("X-Amz-Bucket-Region", region)
	if r.Method == http.MethodHead {
		f.record("HEAD " + bucket)
		if !public {
			w.WriteHeader(http.StatusForbidden)
		}
		return
	}
	if fail < 0 {
		f.record(fmt.Sprintf("BREAK %s %s", r.Method, key))
		io.CopyN(io.Discard, r.Body, r.ContentLength/2)
		panic(http.ErrAbortHandler)
	}
	if fail != 0 {
		f.record(fmt.Sprintf("FAIL %s %s %d", r.Method, key, fail))
		io.Copy(io.Discard, r.Body)
		s3Error(w, fail, http.StatusText(fail))
		return
	}
	if r.Header.Get("Authorization") == "" {
		if !public || r.Method != http.MethodGet {
			s3Error(w, http.StatusForbidden, "AccessDenied")
			return
		}
	} else {
		signed, err := VerifySigV4(r, f.Secret)
		if err != nil {
			s3Error(w, http.StatusForbidden, "SignatureDoesNotMatch")
			return
		}
		if signed != region {
			s3Error(w, http.StatusBadRequest, "AuthorizationHeaderMalformed")
			return
		}
	}
	switch r.Method {
	case http.MethodPut:
		f.put(w, r, bucket, key)
		return
	case http.MethodDelete:
		f.record("DELETE " + key)
		f.Mu.Lock()
		delete(f.Objects, bucket+"/"+key)
		f.Mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
		return
	}
	q := r.URL.Query()
	if q.Get("list-type") == "2" {
		f.record("LIST " + q.Get("prefix") + " " + q.Get("continuation-token"))
		f.list(w, bucket, q.Get("prefix"), q.Get("continuation-token"))
		return
	}
	f.record(fmt.Sprintf("GET %s %s %s", key, region, r.Header.Get("Range")))
	f.Mu.Lock()
	data, ok := f.Objects[bucket+"/"+key]
	broken := ok && key == f.BreakKey && r.Header.Get("Range") == ""
	if broken {
		f.BreakKey = ""
	}
	f.Mu.Unlock()
	if !ok {
		s3Error(w, http.StatusNotFound, "NoSuchKey")
		return
	}
	if broken {
		w.Header().Set("Content-Length", fmt.Sprint(len(data)))
		w.WriteHeader(http.StatusOK)
		w.Write(data[:len(data)/2])
		w.(http.Flusher).Flush()
		panic(http.ErrAbortHandler)
	}
	sum := md5.Sum(data)
	w.Header().Set("ETag", `"`+hex.EncodeToString(sum[:])+`"`)
	http.ServeContent(w, r, key, time.Time{}, strings.NewReader(string(data)))
}

// put stores an upload whose body matches its signed SHA-256 and its Content-MD5, as S3 checks.
func (f *S3) put(w http.ResponseWriter, r *http.Request, bucket, key string) {
	f.record("PUT " + key)
	data, err := io.ReadAll(r.Body)
	if err != nil {
		s3Error(w, http.StatusBadRequest, "IncompleteBody")
		return
	}
	sum256, sumMD5 := sha256.Sum256(data), md5.Sum(data)
	if payload := r.Header.Get("X-Amz-Content-Sha256"); r.Header.Get("Authorization") != "" && payload != hex.EncodeToString(sum256[:]) {
		s3Error(w, http.StatusBadRequest, "XAmzContentSHA256Mismatch")
		return
	}
	if m := r.Header.Get("Content-MD5"); m != "" && m != base64.StdEncoding.EncodeToString(sumMD5[:]) {
		s3Error(w, http.StatusBadRequest, "BadDigest")
		return
	}
	f.Mu.Lock()
	f.Objects[bucket+"/"+key] = data
	f.Mu.Unlock()
	w.Header().Set("ETag", `"`+hex.EncodeToString(sumMD5[:])+`"`)
	w.WriteHeader(http.StatusOK)
}

// list answers ListObjectsV2 with delimiter "/", PageSize entries a page (the continuation token
// is the index of the page's first entry).
func (f *S3) list(w http.ResponseWriter, bucket, prefix, token string) {
	type entry struct{ key, folder string }
	var all []entry
	seen := map[string]bool{}
	f.Mu.Lock()
	defer f.Mu.Unlock()
	for k := range f.Objects {
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
	end := min(start+f.PageSize, len(all))
	type content struct {
		Key  string
		Size int
		ETag string
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
			data := f.Objects[bucket+"/"+e.key]
			sum := md5.Sum(data)
			out.Contents = append(out.Contents, content{e.key, len(data), `"` + hex.EncodeToString(sum[:]) + `"`})
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

// ServeS3 starts a fake S3 whose only credentials have secret, and sets the AWS environment to
// them (AWSEnv); forget is remote.Forget, called now and at the end of the test, so that the code
// under test reads that environment (passed in: remote's own tests use this package).
func ServeS3(t testing.TB, secret string, forget func()) *S3 {
	f := NewS3(t, secret)
	AWSEnv(t, f.URL, "AKIDTEST", secret)
	forget()
	t.Cleanup(forget)
	return f
}

// AWSEnv sets an AWS environment with no configuration but the endpoint and the keys given (none:
// anonymous). Call remote.Forget after it, so that the code under test reads it.
func AWSEnv(t testing.TB, endpoint, keyID, secret string) {
	dir := t.TempDir()
	for k, v := range map[string]string{
		"AWS_ENDPOINT_URL_S3": endpoint, "AWS_ACCESS_KEY_ID": keyID, "AWS_SECRET_ACCESS_KEY": secret, "AWS_REGION": "us-east-1",
		"AWS_CONFIG_FILE": filepath.Join(dir, "config"), "AWS_SHARED_CREDENTIALS_FILE": filepath.Join(dir, "credentials"),
		"AWS_EC2_METADATA_DISABLED": "true", "AWS_PROFILE": "", "AWS_SESSION_TOKEN": "", "AWS_ENDPOINT_URL": "",
		"AWS_CONTAINER_CREDENTIALS_FULL_URI": "", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI": "", "AWS_WEB_IDENTITY_TOKEN_FILE": "",
	} {
		t.Setenv(k, v)
	}
}

// GCS serves GCS's JSON API (media downloads and uploads, deletions, listings in pages) and an
// OAuth token endpoint that takes a service account's signed assertion, giving a token for the
// scope asked. Reading needs a token of either storage scope, writing one of the read-write
// scope; a public bucket may be read without a token. An upload's X-Goog-Hash is checked.
//
// Its log's entries are "TOKEN scope error", "GET object authorization range", "PUT object
// authorization", "DELETE object authorization".
type GCS struct {
	*httptest.Server
	requestLog
	Mu       sync.Mutex
	Objects  map[string][]byte // "bucket/object"
	Public   map[string]bool
	PageSize int
	key      *rsa.PublicKey
}

// The access tokens the fake GCS gives, by scope.
const (
	ReadToken  = "ya29.fake-read-token"
	WriteToken = "ya29.fake-write-token"
	ReadScope  = "https://www.googleapis.com/auth/devstorage.read_only"
	WriteScope = "https://www.googleapis.com/auth/devstorage.read_write"
)

// NewGCS starts a fake GCS; it stops at the end of the test.
func NewGCS(t testing.TB) *GCS {
	g := &GCS{Objects: map[string][]byte{}, Public: map[string]bool{}, PageSize: 2}
	g.Server = httptest.NewServer(http.HandlerFunc(g.serve))
	t.Cleanup(g.Close)
	return g
}

// Object returns the object bucket/object and whether it exists.
func (g *GCS) Object(bucketObject string) ([]byte, bool) {
	g.Mu.Lock()
	defer g.Mu.Unlock()
	data, ok := g.Objects[bucketObject]
	return data, ok
}

func gcsError(w http.ResponseWriter, code int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	fmt.Fprintf(w, `{"error":{"code":%d,"message":%q}}`, code, msg)
}

func (g *GCS) serve(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/token" {
		g.token(w, r)
		return
	}
	auth := r.Header.Get("Authorization")
	upload := false
	rest, ok := strings.CutPrefix(r.URL.EscapedPath(), "/storage/v1/b/")
	if !ok {
		rest, upload = strings.CutPrefix(r.URL.EscapedPath(), "/upload/storage/v1/b/")
		if !upload || r.Method != http.MethodPost || r.URL.Query().Get("uploadType") != "media" {
			gcsError(w, http.StatusNotFound, "not an API path")
			return
		}
	}
	bucket, object, _ := strings.Cut(rest, "/o")
	bucket, _ = url.PathUnescape(bucket)
	object, _ = url.PathUnescape(strings.TrimPrefix(object, "/"))
	q := r.URL.Query()
	if upload {
		object = q.Get("name")
	}
	g.Mu.Lock()
	public := g.Public[bucket]
	g.Mu.Unlock()
	switch {
	case upload || r.Method == http.MethodDelete:
		verb := map[bool]string{true: "PUT", false: "DELETE"}[upload]
		g.record(fmt.Sprintf("%s %s %s", verb, object, auth))
		if auth != "Bearer "+WriteToken {
			gcsError(w, http.StatusForbidden, "the caller does not have storage.objects.create access")
			return
		}
		if r.Method == http.MethodDelete {
			g.Mu.Lock()
			_, ok := g.Objects[bucket+"/"+object]
			delete(g.Objects, bucket+"/"+object)
			g.Mu.Unlock()
			if !ok {
				gcsError(w, http.StatusNotFound, "No such object: "+bucket+"/"+object)
				return
			}
			w.WriteHeader(http.StatusNoContent)
			return
		}
		data, err := io.ReadAll(r.Body)
		if err != nil {
			gcsError(w, http.StatusBadRequest, "incomplete body")
			return
		}
		sum := md5.Sum(data)
		b64 := base64.StdEncoding.EncodeToString(sum[:])
		if h := r.Header.Get("X-Goog-Hash"); h != "" && h != "md5="+b64 {
			gcsError(w, http.StatusBadRequest, "Provided MD5 hash does not match the calculated MD5 hash")
			return
		}
		g.Mu.Lock()
		g.Objects[bucket+"/"+object] = data
		g.Mu.Unlock()
		json.NewEncoder(w).Encode(map[string]string{"name": object, "bucket": bucket, "size": strconv.Itoa(len(data)), "md5Hash": b64})
		return
	}
	g.record(fmt.Sprintf("GET %s %s %s", object, auth, r.Header.Get("Range")))
	if auth != "Bearer "+ReadToken && auth != "Bearer "+WriteToken && !public {
		gcsError(w, http.StatusUnauthorized, "Anonymous caller does not have storage.objects.get access")
		return
	}
	if object == "" {
		g.list(w, bucket, q.Get("prefix"), q.Get("pageToken"))
		return
	}
	data, ok := g.Object(bucket + "/" + object)
	if !ok || q.Get("alt") != "media" {
		gcsError(w, http.StatusNotFound, "No such object: "+bucket+"/"+object)
		return
	}
	http.ServeContent(w, r, object, time.Time{}, strings.NewReader(string(data)))
}

// token answers the OAuth token endpoint: a JWT bearer assertion signed with the service
// account's key gets the token of the scope it asks for.
func (g *GCS) token(w http.ResponseWriter, r *http.Request) {
	r.ParseForm()
	claims, err := g.checkAssertion(r.PostForm.Get("assertion"))
	g.record(fmt.Sprintf("TOKEN %v %v", claims["scope"], err))
	tokens := map[any]string{ReadScope: ReadToken, WriteScope: WriteToken}
	tok, ok := tokens[claims["scope"]]
	if r.PostForm.Get("grant_type") != "urn:ietf:params:oauth:grant-type:jwt-bearer" || err != nil || !ok {
		gcsError(w, http.StatusBadRequest, "bad assertion")
		return
	}
	w.Header().Set("Content-Type", "application/json")
	fmt.Fprintf(w, `{"access_token":%q,"token_type":"Bearer","expires_in":3600}`, tok)
}

// list answers a listing with delimiter "/", PageSize objects a page (the page token is the index
// of the page's first object), the folders on the first page.
func (g *GCS) list(w http.ResponseWriter, bucket, prefix, token string) {
	g.Mu.Lock()
	defer g.Mu.Unlock()
	var names []string
	prefixes := map[string]bool{}
	for k := range g.Objects {
		b, name, _ := strings.Cut(k, "/")
		if rest, ok := strings.CutPrefix(name, prefix); b == bucket && ok {
			if dir, _, isDir := strings.Cut(rest, "/"); isDir {
				prefixes[prefix+dir+"/"] = true
			} else {
				names = append(names, name)
			}
		}
	}
	sort.Strings(names)
	start, _ := strconv.Atoi(token)
	end := min(start+g.PageSize, len(names))
	out := map[string]any{}
	var items []map[string]string
	for _, n := range names[start:end] {
		sum := md5.Sum(g.Objects[bucket+"/"+n])
		items = append(items, map[string]string{"name": n, "size": strconv.Itoa(len(g.Objects[bucket+"/"+n])), "md5Hash": base64.StdEncoding.EncodeToString(sum[:])})
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
}

// checkAssertion verifies a JWT signed with RS256 by the service account's key, and returns its
// claims.
func (g *GCS) checkAssertion(jwt string) (map[string]any, error) {
	parts := strings.Split(jwt, ".")
	if len(parts) != 3 || g.key == nil {
		return nil, errors.New("not a JWT, or no service account")
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

// ServiceAccount writes a service account's key file whose token endpoint is g's, and points
// GOOGLE_APPLICATION_CREDENTIALS at it (call remote.Forget after it).
func (g *GCS) ServiceAccount(t testing.TB) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	g.key = &key.PublicKey
	der, _ := x509.MarshalPKCS8PrivateKey(key)
	sa, _ := json.Marshal(map[string]string{
		"type": "service_account", "project_id": "test", "private_key_id": "k1",
		"private_key":  string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})),
		"client_email": "writer@test.iam.gserviceaccount.com", "client_id": "1", "token_uri": g.URL + "/token",
	})
	path := filepath.Join(t.TempDir(), "sa.json")
	if err := os.WriteFile(path, sa, 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("GOOGLE_APPLICATION_CREDENTIALS", path)
}
