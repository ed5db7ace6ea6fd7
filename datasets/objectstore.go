package datasets

import (
	"context"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"path"
	"slices"
	"sort"
	"strconv"
	"strings"
)

// Object stores: a location s3://BUCKET/KEY is an object of Amazon S3 (or of a store that speaks
// its API: MinIO, Ceph, Cloudflare R2, ...), gs://BUCKET/OBJECT one of Google Cloud Storage. Both
// are read over HTTPS like any URL (resumed with Range requests, retried, read ahead, cached), with
// the credentials of the user's environment, found as the clouds' own tools find them:
//   - S3: the AWS SDK's chain (AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, AWS_PROFILE and
//     ~/.aws/credentials, SSO, web identity, the instance's or container's role). Requests are
//     signed with Signature Version 4 in the bucket's region, asked of S3 once per bucket.
//     AWS_ENDPOINT_URL_S3 or AWS_ENDPOINT_URL names another store (path-style requests).
//   - GCS: Application Default Credentials (GOOGLE_APPLICATION_CREDENTIALS, gcloud auth
//     application-default login, the instance's service account), read-only scope, through the
//     JSON API. STORAGE_EMULATOR_HOST names an emulator, read without credentials.
//
// Without credentials, objects are read anonymously: a public bucket needs none. A folder
// (s3://BUCKET/PREFIX/) is listed, which plain HTTP cannot do.

// objectSchemes are the location prefixes of object stores.
var objectSchemes = []string{"s3://", "gs://"}

// isObject reports whether loc is an s3:// or gs:// location.
func isObject(loc string) bool {
	return slices.ContainsFunc(objectSchemes, func(s string) bool { return strings.HasPrefix(loc, s) })
}

// splitObject splits an object location into its scheme ("s3", "gs"), bucket and key (which may be
// empty, or a prefix ending in "/"). The key is taken as it is: "?" and "#" are part of it.
func splitObject(loc string) (scheme, bucket, key string, err error) {
	scheme, rest, _ := strings.Cut(loc, "://")
	bucket, key, _ = strings.Cut(rest, "/")
	if bucket == "" {
		return "", "", "", fmt.Errorf("%s names no bucket: write %s://BUCKET/KEY", loc, scheme)
	}
	return scheme, bucket, key, nil
}

// objectBeside is the location of the relative path rel (which may climb with "..") from the
// folder of the object at loc, in the same bucket. Keys are not URLs: nothing is escaped.
func objectBeside(loc, rel string) string {
	scheme, bucket, key, err := splitObject(loc)
	if err != nil {
		return ""
	}
	return scheme + "://" + bucket + "/" + strings.TrimPrefix(path.Join(path.Dir(key), rel), "/")
}

// objectRequest is the GET request of the object at loc, with header.
func objectRequest(ctx context.Context, loc string, header http.Header) (*http.Request, error) {
	scheme, bucket, key, err := splitObject(loc)
	if err != nil {
		return nil, err
	}
	if key == "" || strings.HasSuffix(key, "/") {
		return nil, fmt.Errorf("%s names a folder, not an object", loc)
	}
	return bucketRequest(ctx, scheme, bucket, key, nil, header)
}

// listPageSize is the most entries a listing's page asks for (S3's and GCS's own limit; a variable
// for the tests).
var listPageSize = 1000

// listObjects lists the folder loc (s3://BUCKET/PREFIX/ or gs://BUCKET/PREFIX/): the locations
// of the objects directly in it, and the names of its subfolders.
func listObjects(ctx context.Context, loc string) (objects, folders []string, err error) {
	scheme, bucket, prefix, err := splitObject(loc)
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
			return bucketRequest(ctx, scheme, bucket, "", query, header)
		}
		if scheme == "s3" {
			query.Set("list-type", "2")
			query.Set("max-keys", strconv.Itoa(listPageSize))
			if token != "" {
				query.Set("continuation-token", token)
			}
		} else {
			query.Set("maxResults", strconv.Itoa(listPageSize))
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
		var names, dirs []string
		if scheme == "s3" {
			var l struct {
				Contents       []struct{ Key string }
				CommonPrefixes []struct{ Prefix string }
				IsTruncated    bool
				NextToken      string `xml:"NextContinuationToken"`
			}
			if err := xml.Unmarshal(data, &l); err != nil {
				return nil, nil, fmt.Errorf("listing %s: the answer is not S3's: %w", loc, err)
			}
			for _, c := range l.Contents {
				names = append(names, c.Key)
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
				Items         []struct{ Name string }
				Prefixes      []string
				NextPageToken string
			}
			if err := json.Unmarshal(data, &l); err != nil {
				return nil, nil, fmt.Errorf("listing %s: the answer is not GCS's: %w", loc, err)
			}
			for _, it := range l.Items {
				names = append(names, it.Name)
			}
			dirs, token = l.Prefixes, l.NextPageToken
		}
		for _, n := range names {
			if strings.HasPrefix(n, prefix) && n != prefix {
				objects = append(objects, root+n)
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

// objectShards lists the shards of the folder loc (s3://BUCKET/PREFIX/ or gs://...) for split: those
// of its subfolder train/, val/ or test/ when it has split folders, as a local folder of shards.
func objectShards(loc, split string) ([]string, error) {
	ctx := context.Background()
	objects, folders, err := listObjects(ctx, loc)
	if err != nil {
		return nil, usageErr(loc, err, "")
	}
	folder := loc
	has := func(name string) bool { return slices.Contains(folders, name) }
	if dirs := splitDirs(split); slices.ContainsFunc(dirs, has) {
		folder = strings.TrimSuffix(loc, "/") + "/" + dirs[slices.IndexFunc(dirs, has)] + "/"
		if objects, _, err = listObjects(ctx, folder); err != nil {
			return nil, usageErr(folder, err, "")
		}
	} else if err := missingSplit(loc, split, has); err != nil {
		return nil, err
	}
	var paths []string
	for _, o := range objects {
		if name := path.Base(o); !hidden(name) && isShardName(name) {
			paths = append(paths, o)
		}
	}
	sort.Strings(paths)
	if len(paths) == 0 {
		return nil, usageErr(folder, errors.New("no .tar shards"), "give the folder of the shards (ending in /), or a pattern such as "+strings.TrimSuffix(folder, "/")+"/train-{000000..000146}.tar")
	}
	return paths, nil
}
