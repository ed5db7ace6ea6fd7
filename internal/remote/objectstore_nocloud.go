//go:build nocloud

package remote

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
)

// Built with -tags nocloud (as scripts/gpu-build.sh builds the binaries a GPU check carries, for
// their size), there are no S3 or GCS clients: s3:// and gs:// locations are refused.

// bucketRequest refuses every object location.
func bucketRequest(_ context.Context, _, scheme, bucket, key string, _ url.Values, _ http.Header, _ *upload) (*http.Request, error) {
	return nil, fmt.Errorf("%s://%s/%s: this binary was built without s3:// and gs:// support (-tags nocloud): build it without the tag, or give a pipe: command such as pipe:aws s3 cp s3://BUCKET/KEY -", scheme, bucket, key)
}

// BucketsSupported says whether this binary has the S3 and GCS clients: not with -tags nocloud.
const BucketsSupported = false

// Forget has nothing to forget.
func Forget() {}

// authHint has nothing to say: no request is made.
func authHint(string, bool) string { return "" }
