//go:build !nocloud

package datasets

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/gomlx-ssl/vicreg/internal/remote"
	"github.com/gomlx-ssl/vicreg/internal/remote/remotetest"
)

// Shards in moto's S3 (buckets in two regions, keys with a space, a folder listed in pages of 2),
// named by their folder, index or pattern, give the samples of the files on disk.
func TestS3AgainstMoto(t *testing.T) {
	remotetest.MotoPython(t)
	files, want := objectStoreFixture(t)
	root := t.TempDir()
	for name, data := range files {
		writeFile(t, filepath.Join(root, "far@eu-west-1", "my data", "train", name), data)
		writeFile(t, filepath.Join(root, "near@us-east-1", name), data)
	}
	writeFile(t, filepath.Join(root, "far@eu-west-1", "my data", "val", "shard-000000.tar"), files["shard-000000.tar"])
	endpoint := remotetest.Moto(t, root)
	awsEnv(t, endpoint, "AKIDMOTO", "moto")
	page := remote.ListPageSize
	remote.ListPageSize = 2
	t.Cleanup(func() { remote.ListPageSize = page })

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
	_, err = OpenShards("s3://far/my data/train/shard-{000007..000007}.tar", "")
	if err == nil || !strings.Contains(err.Error(), "GET s3://far/my data/train/shard-000007.tar: HTTP status 404 NOT FOUND (NoSuchKey: The specified key does not exist.): check the URL") {
		t.Fatalf("a missing key: %v", err)
	}
}
