//go:build !nocloud

package remote

import (
	"cmp"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/smithy-go/logging"
	"github.com/charmbracelet/log"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/google"
)

// The clients of S3 and GCS: credentials, signatures, endpoints (objectstore.go says what they
// read). Built without them (-tags nocloud, as scripts/gpu-build.sh builds, for size), s3:// and
// gs:// locations are refused with a message: objectstore_nocloud.go.

// bucketRequest is the request of the object key in bucket of the store scheme ("s3", "gs"), with
// header: GET (of the bucket's listing when query is not nil), PUT (with up's file as the body)
// or DELETE.
func bucketRequest(ctx context.Context, method, scheme, bucket, key string, query url.Values, header http.Header, up *upload) (*http.Request, error) {
	if scheme == "s3" {
		return s3Objects.request(ctx, method, bucket, key, query, header, up)
	}
	return gcsObjects.request(ctx, method, bucket, key, query, header, up)
}

// BucketsSupported says whether this binary has the S3 and GCS clients (not built with -tags
// nocloud).
const BucketsSupported = true

// Forget drops the S3 and GCS configurations and credentials found so far: the next request
// finds them again, from the environment as it is then (for tests that change it).
func Forget() {
	s3Objects, gcsObjects = s3Store{}, gcsStore{}
}

// emptySHA256 is the SHA-256 of an empty body: the payload hash of the requests without one.
const emptySHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

// newRequest is the request (method) of u, with header, and up's file as its body when up is not
// nil.
func newRequest(ctx context.Context, method string, u *url.URL, header http.Header, up *upload) (*http.Request, error) {
	req, err := http.NewRequestWithContext(ctx, method, u.String(), nil)
	if err != nil {
		return nil, err
	}
	maps.Copy(req.Header, header)
	return req, newBody(req, up)
}

// newBody sets a request's body: the file of up, opened anew for each try; none without up.
func newBody(req *http.Request, up *upload) error {
	if up == nil {
		return nil
	}
	body, err := up.open()
	if err != nil {
		return err
	}
	req.Body, req.ContentLength = body, up.size
	req.GetBody = func() (io.ReadCloser, error) { return up.open() }
	if up.size == 0 {
		req.Body.Close()
		req.Body = http.NoBody
	}
	req.Header.Set("Content-Type", "application/octet-stream")
	return nil
}

// s3Store reads S3 objects: its configuration is loaded once per process, when first needed.
type s3Store struct {
	once     sync.Once
	err      error                   // the configuration could not be loaded
	creds    aws.CredentialsProvider // nil: anonymous
	credErr  error                   // why there are no credentials
	region   string                  // the configured region, us-east-1 when none is
	endpoint *url.URL                // another store's endpoint; nil: AWS
	signer   *v4.Signer
	regions  sync.Map // bucket → its region, as S3 answered
}

var s3Objects s3Store

func (s *s3Store) init() error {
	s.once.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		cfg, err := awsconfig.LoadDefaultConfig(ctx, awsconfig.WithLogger(logging.Nop{}))
		if err != nil {
			s.err = fmt.Errorf("reading the AWS configuration: %w (check AWS_PROFILE and ~/.aws/config)", err)
			return
		}
		s.region = cmp.Or(cfg.Region, "us-east-1")
		if e := cmp.Or(os.Getenv("AWS_ENDPOINT_URL_S3"), aws.ToString(cfg.BaseEndpoint)); e != "" {
			u, err := url.Parse(e)
			if err != nil || u.Scheme != "http" && u.Scheme != "https" || u.Host == "" {
				s.err = fmt.Errorf("the S3 endpoint %q (AWS_ENDPOINT_URL_S3, AWS_ENDPOINT_URL or the profile's endpoint_url) is not an http(s) URL", e)
				return
			}
			u.Path = strings.TrimSuffix(u.Path, "/")
			s.endpoint = u
		}
		s.signer = newS3Signer()
		if cfg.Credentials == nil {
			s.credErr = errors.New("none configured")
		} else if _, err := cfg.Credentials.Retrieve(ctx); err != nil {
			s.credErr = err
		} else {
			s.creds = cfg.Credentials
		}
		if s.creds == nil {
			log.Info("no usable AWS credentials: reading s3:// anonymously, as public buckets allow", "reason", s.credErr)
		}
	})
	return s.err
}

// newS3Signer is a Signature Version 4 signer for S3, which takes a request's path escaped once.
func newS3Signer() *v4.Signer {
	return v4.NewSigner(func(o *v4.SignerOptions) { o.DisableURIPathEscaping = true })
}

// s3Escape escapes an object key as S3 does in a request's path: every byte but letters, digits,
// "-._~" and "/".
func s3Escape(key string) string {
	var b strings.Builder
	for i := 0; i < len(key); i++ {
		c := key[i]
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("-._~/", c) >= 0 {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}

// url is where the object key of bucket lies in region: path-style at another store's endpoint;
// virtual-hosted at AWS (path-style for a bucket name with dots, which TLS certificates do not
// cover).
func (s *s3Store) url(bucket, key, region string) *url.URL {
	var u url.URL
	var p string
	switch {
	case s.endpoint != nil:
		u = *s.endpoint
		p = u.Path + "/" + bucket + "/" + key
	case strings.Contains(bucket, "."):
		u = url.URL{Scheme: "https", Host: "s3." + region + ".amazonaws.com"}
		p = "/" + bucket + "/" + key
	default:
		u = url.URL{Scheme: "https", Host: bucket + ".s3." + region + ".amazonaws.com"}
		p = "/" + key
	}
	u.Path, u.RawPath = p, s3Escape(p)
	return &u
}

// bucketRegion is bucket's region, asked of S3 once (a HEAD request, unsigned: S3 names the region
// in its answer whether or not the bucket may be read); the configured one when S3 does not say.
func (s *s3Store) bucketRegion(ctx context.Context, bucket string) string {
	if r, ok := s.regions.Load(bucket); ok {
		return r.(string)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodHead, s.url(bucket, "", s.region).String(), nil)
	if err != nil {
		return s.region
	}
	resp, err := httpClient.Do(req)
	if err != nil {
		return s.region // not kept: the request itself fails next, and says why
	}
	resp.Body.Close()
	region := cmp.Or(resp.Header.Get("X-Amz-Bucket-Region"), s.region)
	s.regions.Store(bucket, region)
	return region
}

// request is the signed request (method) of bucket's object key (with header, and up's file as
// the body of a PUT), or of the bucket's listing when query is not nil.
func (s *s3Store) request(ctx context.Context, method, bucket, key string, query url.Values, header http.Header, up *upload) (*http.Request, error) {
	if err := s.init(); err != nil {
		return nil, err
	}
	region := s.bucketRegion(ctx, bucket)
	u := s.url(bucket, key, region)
	if query != nil {
		u.RawQuery = query.Encode()
	}
	req, err := newRequest(ctx, method, u, header, up)
	if err != nil {
		return nil, err
	}
	payload := emptySHA256
	if up != nil {
		req.Header.Set("Content-MD5", base64.StdEncoding.EncodeToString(up.md5)) // S3 refuses a body that does not match
		payload = up.sha256
	}
	if s.creds == nil {
		return req, nil
	}
	creds, err := s.creds.Retrieve(ctx)
	if err != nil {
		return nil, fmt.Errorf("AWS credentials: %w", err)
	}
	return req, s.sign(ctx, req, creds, region, payload, time.Now())
}

// sign signs req, whose body has the SHA-256 payload (hex), with Signature Version 4 for S3 in
// region, at time t.
func (s *s3Store) sign(ctx context.Context, req *http.Request, creds aws.Credentials, region, payload string, t time.Time) error {
	req.Header.Set("X-Amz-Content-Sha256", payload)
	return s.signer.SignHTTP(ctx, creds, req, payload, "s3", region, t)
}

// gcsStore reads and writes Google Cloud Storage objects: its credentials are found once per
// process and scope, when first needed.
type gcsStore struct {
	once     sync.Once
	endpoint string
	emulator bool
	mu       sync.Mutex
	tokens   map[string]oauth2.TokenSource // scope → its tokens; nil: anonymous
	credWhy  string                        // why there are no credentials (the first line of the error)
}

var (
	gcsObjects gcsStore
	// GCSEndpoint is the endpoint of GCS's JSON API (a variable for the tests; users name an
	// emulator with STORAGE_EMULATOR_HOST).
	GCSEndpoint = "https://storage.googleapis.com"
)

// The OAuth scopes of reading and of writing.
const (
	gcsScope      = "https://www.googleapis.com/auth/devstorage.read_only"
	gcsWriteScope = "https://www.googleapis.com/auth/devstorage.read_write"
)

func (g *gcsStore) init() {
	g.once.Do(func() {
		g.endpoint, g.tokens = GCSEndpoint, map[string]oauth2.TokenSource{}
		if host := os.Getenv("STORAGE_EMULATOR_HOST"); host != "" {
			if !strings.Contains(host, "://") {
				host = "http://" + host
			}
			g.endpoint, g.emulator, g.credWhy = strings.TrimSuffix(host, "/"), true, "STORAGE_EMULATOR_HOST is set"
		}
	})
}

// tokenSource is the source of access tokens for scope, found when first needed; nil (anonymous)
// when there are no credentials.
func (g *gcsStore) tokenSource(scope string) oauth2.TokenSource {
	g.init()
	if g.emulator {
		return nil
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if ts, ok := g.tokens[scope]; ok {
		return ts
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	creds, err := google.FindDefaultCredentials(ctx, scope)
	if err != nil {
		g.credWhy, _, _ = strings.Cut(err.Error(), "\n")
		log.Info("no Google credentials found: using gs:// anonymously, as public buckets allow reading", "reason", g.credWhy)
		g.tokens[scope] = nil
		return nil
	}
	g.tokens[scope] = creds.TokenSource
	return creds.TokenSource
}

// anonymous reports whether requests go without credentials.
func (g *gcsStore) anonymous(write bool) bool {
	scope := gcsScope
	if write {
		scope = gcsWriteScope
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.emulator || g.tokens[scope] == nil
}

// request is the request (method), with an access token, of bucket's object (with header; a PUT
// is an upload of up's file), or of the bucket's listing when query is not nil.
func (g *gcsStore) request(ctx context.Context, method, bucket, object string, query url.Values, header http.Header, up *upload) (*http.Request, error) {
	g.init()
	u, err := url.Parse(g.endpoint)
	if err != nil {
		return nil, fmt.Errorf("the GCS endpoint %q: %w", g.endpoint, err)
	}
	base, rawBase := u.Path, u.Path
	switch {
	case method == http.MethodPut: // a simple upload, at the API's upload path
		u.Path, u.RawPath = base+"/upload/storage/v1/b/"+bucket+"/o", rawBase+"/upload/storage/v1/b/"+url.PathEscape(bucket)+"/o"
		query, method = url.Values{"uploadType": {"media"}, "name": {object}}, http.MethodPost
	case query != nil: // a listing
		u.Path, u.RawPath = base+"/storage/v1/b/"+bucket+"/o", rawBase+"/storage/v1/b/"+url.PathEscape(bucket)+"/o"
	default:
		u.Path = base + "/storage/v1/b/" + bucket + "/o/" + object
		u.RawPath = rawBase + "/storage/v1/b/" + url.PathEscape(bucket) + "/o/" + url.PathEscape(object)
		if method == http.MethodGet {
			query = url.Values{"alt": {"media"}}
		}
	}
	if query != nil {
		u.RawQuery = query.Encode()
	}
	req, err := newRequest(ctx, method, u, header, up)
	if err != nil {
		return nil, err
	}
	scope := gcsScope
	if up != nil {
		req.Header.Set("X-Goog-Hash", "md5="+base64.StdEncoding.EncodeToString(up.md5)) // GCS refuses a body that does not match
	}
	if method != http.MethodGet {
		scope = gcsWriteScope
	}
	if ts := g.tokenSource(scope); ts != nil {
		tok, err := ts.Token()
		if err != nil {
			return nil, fmt.Errorf("getting a Google access token: %w", err)
		}
		tok.SetAuthHeader(req)
	}
	return req, nil
}

// authHint is what to do when the store refuses loc (HTTP 401 or 403), which was read, or
// written when write is true.
func authHint(loc string, write bool) string {
	done, may := "read", "read it"
	if write {
		done, may = "written", "write to it"
	}
	if strings.HasPrefix(loc, "s3://") {
		if s3Objects.creds == nil {
			return fmt.Sprintf("it was %s anonymously, as no usable AWS credentials were found (%v): set AWS_PROFILE, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or run where a role gives them", done, s3Objects.credErr)
		}
		return "your AWS credentials may not " + may + ": check the bucket's policy and AWS_PROFILE (aws s3 ls " + loc + " uses the same credentials)"
	}
	if gcsObjects.anonymous(write) {
		return fmt.Sprintf("it was %s anonymously, as no Google credentials were found (%s): run gcloud auth application-default login, or set GOOGLE_APPLICATION_CREDENTIALS to a service account's key", done, gcsObjects.credWhy)
	}
	return "your Google credentials may not " + may + ": check the bucket's permissions (gcloud storage ls " + loc + " uses the same credentials)"
}
