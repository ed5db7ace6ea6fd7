package datasets

import (
	"context"
	"errors"
	"path"
	"slices"
	"sort"
	"strings"

	"github.com/gomlx-ssl/vicreg/internal/remote"
)

// objectShards lists the shards of the folder loc (s3://BUCKET/PREFIX/ or gs://...) for split: those
// of its subfolder train/, val/ (or validation/ or valid/ beside train/: heldOutAliases) or test/
// when it has split folders, else those named for split (shardsOfSplit), as of a local folder of
// shards.
func objectShards(loc, split string) ([]string, error) { return listedShards(loc, split, remote.List) }

// listedShards is objectShards for a folder that list lists (a bucket's, or a Hub
// repository's).
func listedShards(loc, split string, list func(context.Context, string) ([]remote.Object, []string, error)) ([]string, error) {
	ctx := context.Background()
	objects, folders, err := list(ctx, loc)
	if err != nil {
		return nil, usageErr(loc, err, "")
	}
	folder := loc
	var testOnly error
	has := func(name string) bool { return slices.Contains(folders, name) }
	if name := splitFolder(split, has); name != "" {
		folder = strings.TrimSuffix(loc, "/") + "/" + name + "/"
		if objects, _, err = list(ctx, folder); err != nil {
			return nil, usageErr(folder, err, "")
		}
	} else if err := missingSplit(loc, split, has); err != nil {
		if split != splitTestOnly || hasSplitFolders(has) {
			return nil, err
		}
		testOnly = err // a folder without split folders: its test-named shards, if it has them
	}
	var paths []string
	for _, o := range objects {
		if name := path.Base(o.Loc); !hidden(name) && isShardName(name) {
			paths = append(paths, o.Loc)
		}
	}
	sort.Strings(paths)
	if folder == loc {
		if paths, err = shardsOfSplit(loc, paths, split, testOnly); err != nil {
			return nil, err
		}
	}
	if len(paths) == 0 {
		return nil, usageErr(folder, errors.New("no .tar shards"), "give the folder of the shards (ending in /), or a pattern such as "+strings.TrimSuffix(folder, "/")+"/train-{000000..000146}.tar")
	}
	return paths, nil
}
