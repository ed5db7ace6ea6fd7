package datasets

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// img2datasetStats is a shard's NNNNN_stats.json as img2dataset 1.47.0 writes it
// (logger.write_stats): successes are the samples it wrote into the shard.
func img2datasetStats(successes, failed int) []byte {
	return fmt.Appendf(nil, `{
    "count": %d,
    "successes": %d,
    "failed_to_download": %d,
    "failed_to_resize": 0,
    "duration": 1.5,
    "start_time": 1700000000.0,
    "end_time": 1700000001.5,
    "status_dict": {"success": %d}
}`, successes+failed, successes, failed, successes)
}

// TestSidecarCounts: remote shards with the counts that the tools that wrote them leave beside
// them (open_clip's sizes.json, img2dataset's NNNNN_stats.json) open without a scan, none of them
// downloaded, and give the samples and classes of the scan; a shard counted 0 is left out
// unread. Without counts for every shard, or with labels that nothing names the classes of,
// they are scanned (the negative controls: each shard requested). A count that is not the
// shard's is found when the shard is read, naming the file that counted it.
func TestSidecarCounts(t *testing.T) {
	dir, _, want, srv := remoteFixture(t)
	pattern := srv.URL + "/shard-{000000..000003}.tar"
	open := func(what string, scanned bool) *Shards {
		t.Helper()
		before := srv.count(".tar")
		s, err := OpenShards(pattern, "")
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		if n := srv.count(".tar") - before; scanned != (n > 0) {
			t.Fatalf("%s: opening requested %d shards; scanned %v", what, n, scanned)
		}
		if got := samplesOf(t, s); !slices.Equal(got, want) || !slices.Equal(s.Info().ClassNames, []string{"a", "b", "c"}) {
			t.Fatalf("%s: samples or classes %q differ from those of the files", what, s.Info().ClassNames)
		}
		return s
	}
	open("no counts", true)

	counts := []int{4, 4, 4, 3}
	for i, n := range counts {
		writeFile(t, filepath.Join(dir, fmt.Sprintf("shard-%06d_stats.json", i)), img2datasetStats(n, 2))
	}
	open("img2dataset's statistics", false)

	// A shard counted 0 (every download failed: img2dataset writes it all the same) is left out,
	// and not requested: here it does not even exist.
	writeFile(t, filepath.Join(dir, "shard-000004_stats.json"), img2datasetStats(0, 7))
	pattern = srv.URL + "/shard-{000000..000004}.tar"
	if s := open("a shard of no samples", false); len(s.Paths()) != 4 {
		t.Fatalf("shards %q, want the 4 of samples", s.Paths())
	}

	// open_clip's sizes.json, looked for first: counts as numbers or as text.
	writeFile(t, filepath.Join(dir, sizesFile), []byte(`{"shard-000000.tar": 4, "shard-000001.tar": "4", "shard-000002.tar": 4, "shard-000003.tar": 3, "shard-000004.tar": 0}`))
	os.Remove(filepath.Join(dir, "shard-000004_stats.json"))
	open("open_clip's sizes.json", false)
	if n := srv.count(statsSuffix); n != 1+4+5 {
		t.Fatalf("%d requests of _stats.json files; want 1 (the first, absent) + 4 + 5 before sizes.json, none after", n)
	}

	// A sizes.json that lacks a shard, or is not counts: a warning, and a scan.
	pattern = srv.URL + "/shard-{000000..000003}.tar"
	writeFile(t, filepath.Join(dir, sizesFile), []byte(`{"shard-000000.tar": 4}`))
	open("sizes.json without every shard", true)
	writeFile(t, filepath.Join(dir, sizesFile), []byte(`["shard-000000.tar"]`))
	open("sizes.json of no counts", true)
	os.Remove(filepath.Join(dir, sizesFile))

	// Statistics of only some shards: a scan.
	os.Remove(filepath.Join(dir, "shard-000002_stats.json"))
	open("statistics of 3 of the 4 shards", true)
	writeFile(t, filepath.Join(dir, "shard-000002_stats.json"), img2datasetStats(4, 0))

	// Labels without a class list: the scan numbers them.
	os.Rename(filepath.Join(dir, "classes.txt"), filepath.Join(dir, "names.txt"))
	before := srv.count(".tar")
	s, err := OpenShards(pattern, "")
	if err != nil || srv.count(".tar") == before || !slices.Equal(s.Info().ClassNames, []string{"0", "1", "2"}) {
		t.Fatalf("labels without a class list: %v, %d shard requests, classes %q; want a scan numbering them", err, srv.count(".tar")-before, s.Info().ClassNames)
	}
	os.Rename(filepath.Join(dir, "names.txt"), filepath.Join(dir, "classes.txt"))

	// A count that is not the shard's.
	writeFile(t, filepath.Join(dir, "shard-000003_stats.json"), img2datasetStats(4, 0))
	s, err = OpenShards(pattern, "")
	if err != nil {
		t.Fatal(err)
	}
	if err := readToError(s); !errors.Is(err, ErrDamaged) || !strings.Contains(err.Error(), "holds 3 samples, but "+srv.URL+"/shard-000003_stats.json counts 4") {
		t.Fatalf("a count that is not the shard's: %v", err)
	}
	writeFile(t, filepath.Join(dir, "shard-000003_stats.json"), img2datasetStats(3, 0))
	writeFile(t, filepath.Join(dir, "shard-000000_stats.json"), img2datasetStats(3, 0))
	if s, err = OpenShards(pattern, ""); err != nil {
		t.Fatal(err)
	}
	if err := readToError(s); !errors.Is(err, ErrDamaged) || !strings.Contains(err.Error(), "holds more than the 3 samples that "+srv.URL+"/shard-000000_stats.json counts") {
		t.Fatalf("a count below the shard's: %v", err)
	}
}
