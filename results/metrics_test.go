package results

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestReadMetricsSupersedes: lines of steps trained again after a resume are dropped, a final
// line written again replaces the first, and two rollbacks to one step both stay.
func TestReadMetricsSupersedes(t *testing.T) {
	path := filepath.Join(t.TempDir(), MetricsFileName)
	lines := `{"step":4,"epoch":1,"loss":4}
{"step":8,"epoch":2,"loss":3}
{"step":8,"rollback_from_step":9}
{"step":8,"rollback_from_step":10}
{"step":12,"epoch":3,"loss":2}
{"step":16,"epoch":4,"loss":9}
{"step":12,"resumed":1}
{"step":16,"epoch":4,"loss":1}
{"step":16,"epoch":4,"linear_acc":0.5}
{"step":16,"resumed":1}
{"step":16,"epoch":4,"linear_acc":0.75}
`
	if err := os.WriteFile(path, []byte(lines), 0o644); err != nil {
		t.Fatal(err)
	}
	m, err := ReadMetrics(path)
	if err != nil {
		t.Fatal(err)
	}
	steps := func(key string) string {
		var s []string
		for _, p := range m[key] {
			s = append(s, fmt.Sprintf("%g:%g", p.Step, p.Value))
		}
		return fmt.Sprint(s)
	}
	for key, want := range map[string]string{
		"loss":               "[4:4 8:3 12:2 16:1]",
		"rollback_from_step": "[8:9 8:10]",
		"linear_acc":         "[16:0.75]",
		ResumedKey:           "[]",
	} {
		if got := steps(key); got != want {
			t.Errorf("%s: %s, want %s", key, got, want)
		}
	}
}

// TestReadMetricsAfterARollback: the values of steps trained again after a rollback stay beside
// the first ones, however many lines were trained again: one (a checkpoint at step 2, logging
// every step, a non-finite step 4: steps 1-3, the rollback, steps 3 and 4 again) or two.
func TestReadMetricsAfterARollback(t *testing.T) {
	for _, tc := range []struct{ lines, want string }{
		{`{"step":1,"epoch":0.5,"loss":1}
{"step":2,"epoch":1,"loss":2}
{"step":3,"epoch":1.5,"loss":3}
{"step":2,"rollback_from_step":4}
{"step":3,"epoch":1.5,"loss":30}
{"step":4,"epoch":2,"loss":40}
`, "[1:1 2:2 3:3 3:30 4:40]"},
		{`{"step":1,"epoch":0.5,"loss":1}
{"step":2,"epoch":1,"loss":2}
{"step":3,"epoch":1.5,"loss":3}
{"step":4,"epoch":2,"loss":4}
{"step":2,"rollback_from_step":5}
{"step":3,"epoch":1.5,"loss":30}
{"step":4,"epoch":2,"loss":40}
`, "[1:1 2:2 3:3 4:4 3:30 4:40]"},
	} {
		path := filepath.Join(t.TempDir(), MetricsFileName)
		if err := os.WriteFile(path, []byte(tc.lines), 0o644); err != nil {
			t.Fatal(err)
		}
		m, err := ReadMetrics(path)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, p := range m[KeyLoss] {
			got = append(got, fmt.Sprintf("%g:%g", p.Step, p.Value))
		}
		if fmt.Sprint(got) != tc.want {
			t.Errorf("loss read back %v, want %s", got, tc.want)
		}
	}
}

// A script finds a run's metrics by name, as it finds its result (File): the name is the one the
// trainer and fine-tuning write.
func TestMetricsFileName(t *testing.T) {
	if MetricsFileName != "metrics.jsonl" {
		t.Fatalf("MetricsFileName %q, want metrics.jsonl (the runs write that name)", MetricsFileName)
	}
}

// A file that is not a metrics file (a run's result.json or config.json given by mistake) is an
// error that names the file and its line and says what was wanted (it gave only the JSON
// decoder's message, such as "unexpected end of JSON input").
func TestReadMetricsNotMetrics(t *testing.T) {
	dir := t.TempDir()
	for name, content := range map[string]string{
		File:          "{\n  \"kind\": \"pretrain\"\n}\n",
		"config.json": `{"dataset":"synthetic","steps":20}` + "\n",
	} {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		_, err := ReadMetrics(path)
		if err == nil || !strings.Contains(err.Error(), path+":1:") || !strings.Contains(err.Error(), "want a JSON-lines metrics file") {
			t.Errorf("%s: %v, want an error naming %s:1 and what was wanted", name, err, path)
		}
	}
}

// TestAppendAfterACutLine: a process that died while writing a line (a full disk, a power cut)
// leaves the file ending in part of a line; the run resumed appends its lines after it, and the
// file must still read: the cut line is an incomplete record of steps trained again, not a reason
// to lose every metric of the run.
func TestAppendAfterACutLine(t *testing.T) {
	path := filepath.Join(t.TempDir(), MetricsFileName)
	if err := os.WriteFile(path, []byte("{\"step\":4,\"epoch\":1,\"loss\":4}\n{\"step\":8,\"epoch\":2,\"lo"), 0o644); err != nil {
		t.Fatal(err)
	}
	m, err := OpenMetrics(path)
	if err != nil {
		t.Fatal(err)
	}
	if !m.HadLines() {
		t.Error("HadLines is false for a file with lines")
	}
	for _, line := range []map[string]float64{{KeyStep: 4, ResumedKey: 1}, {KeyStep: 8, KeyEpoch: 2, KeyLoss: 3}} {
		if err := m.Write(line); err != nil {
			t.Fatal(err)
		}
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	got, err := ReadMetrics(path)
	if err != nil {
		data, _ := os.ReadFile(path)
		t.Fatalf("the resumed run's metrics do not read: %v\n%s", err, data)
	}
	if loss := got[KeyLoss]; len(loss) != 2 || loss[0].Value != 4 || loss[1].Step != 8 || loss[1].Value != 3 {
		t.Errorf("loss %v, want 4 at step 4 and 3 at step 8", loss)
	}
}
