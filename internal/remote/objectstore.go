package remote

import (
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"path"
	"slices"
	"strconv"
	"strings"
)

// Object stores: a location s3://BUCKET/KEY is an object of Amazon S3 (or of a store that speaks
// its API: MinIO, Ceph, Cloudflare R2, ...), gs://BUCKET/OBJECT one of Google Cloud Storage. Both
// are read over HTTPS like any URL (resumed with Range requests, retried), and written, with the
// credentials of the user's environment, found as the clouds' own tools find them:
//   - S3: the AWS SDK's chain (AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, AWS_PROFILE and
//     ~/.aws/credentials, SSO, web identity, the instance's or container's role). Requests are
//     signed with Signature Version 4 in the bucket's region, asked of S3 once per bucket.
//     AWS_ENDPOINT_URL_S3 or AWS_ENDPOINT_URL names another store (path-style requests).
//   - GCS: Application Default Credentials (GOOGLE_APPLICATION_CREDENTIALS, gcloud auth
//     application-default login, the instance's service account), through the JSON API, with
//     the read-only scope to read and the read-write one to write. STORAGE_EMULATOR_HOST names
//     an emulator, used without credentials.
//
// Without credentials, objects are read anonymously: a public bucket needs none. A folder
// (s3://BUCKET/PREFIX/) is listed, which plain HTTP cannot do.

// objectSchemes are the location prefixes of object stores.
var objectSchemes = []string{"s3://", "gs://"}

// IsObject reports whether loc is an s3:// or gs:// location.
func IsObject(loc string) bool {
	return slices.ContainsFunc(objectSchemes, func(s string) bool { return strings.HasPrefix(loc, s) })
}

// Split splits an object location into its scheme ("s3", "gs"), bucket and key (which may be
// empty, or a prefix ending in "/"). The key is taken as it is: "?" and "#" are part of it.
func Split(loc string) (scheme, bucket, key string, err error) {
	scheme, rest, _ := strings.Cut(loc, "://")
	bucket, key, _ = strings.Cut(rest, "/")
	if bucket == "" {
		return "", "", "", fmt.Errorf("%s names no bucket: write %s://BUCKET/KEY", loc, scheme)
	}
	return scheme, bucket, key, nil
}

// Beside is the location of the relative path rel (which may climb with "..") from the folder of
// the object at loc, in the same bucket. Keys are not URLs: nothing is escaped.
func Beside(loc, rel string) string {
	scheme, bucket, key, err := Split(loc)
	if err != nil {
		return ""
	}
	return scheme + "://" + bucket + "/" + strings.TrimPrefix(path.Join(path.Dir(key), rel), "/")
}

// objectRequest is the request (GET, PUT with the file up, DELETE) of the object at loc, with
// header.
func objectRequest(ctx context.Context, method, loc string, header http.Header, up *upload) (*http.Request, error) {
	scheme, bucket, key, err := Split(loc)
	if err != nil {
		return nil, err
	}
	if key == "" || strings.HasSuffix(key, "/") {
		return nil, fmt.Errorf("%s names a folder, not an object", loc)
	}
	return bucketRequest(ctx, method, scheme, bucket, key, nil, header, up)
}

// ListPageSize is the most entries a listing's page asks for (S3's and GCS's own limit; a variable
// for the tests).
var ListPageSize = 1000

// Object is an object of a listing.
type Object struct {
	Loc  string // s3://BUCKET/KEY or gs://BUCKET/OBJECT
	Size int64
	MD5  string // hex; "" when the store does not give it (an S3 object uploaded in parts)
}

// s3MD5 is the MD5 of an S3 object, from its ETag: "" for an object uploaded in parts, whose
// ETag is no MD5.
func s3MD5(etag string) string {
	etag = strings.Trim(etag, `"`)
	if _, err := hex.DecodeString(etag); err != nil || len(etag) != 32 {
		return ""
	}
	return strings.ToLower(etag)
}

// gcsMD5 is the hex of GCS's md5Hash (base64); "" for a composite object, which has none.
func gcsMD5(b64 string) string {
	sum, err := base64.StdEncoding.DecodeString(b64)
	if err != nil || len(sum) != 16 {
		return ""
	}
	return hex.EncodeToString(sum)
}

// List lists the folder loc (s3://BUCKET/PREFIX/ or gs://BUCKET/PREFIX/): the objects directly in
// it, and the names of its subfolders.
func List(ctx context.Context, loc string) (objects []Object, folders []string, err error) {
	scheme, bucket, prefix, err := Split(loc)
	if err != nil {
		return nil, nil, err
	}
	if prefix != "" && !strings.HasSuffix(prefix, "/") {
		prefix += "/"
	}
	root := scheme + "://" + bucket + "/"
	token := ""
	for page := 1; ; page++ {
		query := url.Values{"prefix": {prefix}, "delimiter": {"/"}}
		build := func(ctx context.Context, header http.Header) (*http.Request, error) {
			return bucketRequest(ctx, http.MethodGet, scheme, bucket, "", query, header, nil)
		}
		if scheme == "s3" {
			query.Set("list-type", "2")
			query.Set("max-keys", strconv.Itoa(ListPageSize))
			if token != "" {
				query.Set("continuation-token", token)
			}
		} else {
			query.Set("maxResults", strconv.Itoa(ListPageSize))
			if token != "" {
				query.Set("pageToken", token)
			}
		}
		r, err := openRequest(ctx, fmt.Sprintf("%s (listing, page %d)", loc, page), build)
		if err != nil {
			return nil, nil, err
		}
		data, err := io.ReadAll(io.LimitReader(r, 64<<20))
		r.Close()
		if err != nil {
			return nil, nil, err
		}
		var found []Object
		var dirs []string
		if scheme == "s3" {
			var l struct {
				Contents []struct {
					Key  string
					Size int64
					ETag string
				}
				CommonPrefixes []struct{ Prefix string }
				IsTruncated    bool
				NextToken      string `xml:"NextContinuationToken"`
			}
			if err := xml.Unmarshal(data, &l); err != nil {
				return nil, nil, fmt.Errorf("listing %s: the answer is not S3's: %w", loc, err)
			}
			for _, c := range l.Contents {
				found = append(found, Object{c.Key, c.Size, s3MD5(c.ETag)})
			}
			for _, p := range l.CommonPrefixes {
				dirs = append(dirs, p.Prefix)
			}
			token = ""
			if l.IsTruncated {
				token = l.NextToken
			}
		} else {
			var l struct {
				Items []struct {
					Name    string
					Size    int64 `json:",string"`
					MD5Hash string
				}
				Prefixes      []string
				NextPageToken string
			}
			if err := json.Unmarshal(data, &l); err != nil {
				return nil, nil, fmt.Errorf("listing %s: the answer is not GCS's: %w", loc, err)
			}
			for _, it := range l.Items {
				found = append(found, Object{it.Name, it.Size, gcsMD5(it.MD5Hash)})
			}
			dirs, token = l.Prefixes, l.NextPageToken
		}
		for _, o := range found {
			if strings.HasPrefix(o.Loc, prefix) && o.Loc != prefix {
				o.Loc = root + o.Loc
				objects = append(objects, o)
			}
		}
		for _, d := range dirs {
			if name := strings.TrimSuffix(strings.TrimPrefix(d, prefix), "/"); name != "" {
				folders = append(folders, name)
			}
		}
		if token == "" {
			return objects, folders, nil
		}
		if token == query.Get("continuation-token")+query.Get("pageToken") {
			return nil, nil, fmt.Errorf("listing %s: page %d gives its own token as the next one", loc, page)
		}
	}
}
