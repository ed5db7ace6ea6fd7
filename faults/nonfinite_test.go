package faults

import (
	"regexp"
	"strings"
	"testing"

	"github.com/gomlx-ssl/vicreg/checkpoints"
)

// assertFiniteCheckpoints loads every checkpoint in dir; each must verify and hold only finite
// values. It returns how many there are.
func assertFiniteCheckpoints(t *testing.T, dir string) int {
	t.Helper()
	paths, err := (&checkpoints.Manager{Dir: dir}).List()
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range paths {
		s := loadState(t, p)
		if key, i, ok := checkpoints.FirstNonFinite(s.Variables); !ok {
			t.Errorf("%s holds a non-finite value at %s[%d]", p, key, i)
		}
		s.Free()
	}
	return len(paths)
}

// nonFiniteMsg matches the trainer's message: the step, then the loss term or the variable.
var nonFiniteMsg = regexp.MustCompile(`non-finite training state at step (\d+): ([a-z_]+ = (NaN|\+Inf|-Inf)|variable \S+)`)

// TestNonFiniteLossStops trains with an absurd learning rate (1e30; the warm-up makes step 1 finite,
// so a good checkpoint exists before the divergence): exit status 1, a message naming the step
// and the value that went non-finite, and only finite checkpoints on disk.
func TestNonFiniteLossStops(t *testing.T) {
	needXLA(t)
	t.Parallel()
	dir := t.TempDir()
	r := run(t, bins.train, nil, tinyArgs(dir, "-lr", "1e30")...)
	if r.code != 1 {
		t.Fatalf("exit %d, want 1:\n%s", r.code, r.output)
	}
	assertNoStackTrace(t, "non-finite loss", r.output)
	m := nonFiniteMsg.FindStringSubmatch(r.output)
	if m == nil {
		t.Fatalf("no message naming the step and the value:\n%s", r.output)
	}
	t.Logf("non-finite stop: %q; %d finite checkpoint(s) kept", m[0], assertFiniteCheckpoints(t, dir))
	if strings.Contains(r.output, "Trained ") {
		t.Errorf("the run reports success:\n%s", r.output)
	}
	if strings.HasPrefix(m[2], "loss = ") {
		t.Errorf("the message names the total loss, not the term that went non-finite: %q", m[0])
	}
}

// TestNonFiniteRollback is the same divergence with -on-nonfinite rollback: the run rolls back
// to the newest checkpoint at most 3 times (the divergence comes back, since the learning rate is
// absurd), then stops with exit status 1 saying so; no checkpoint is ever non-finite.
func TestNonFiniteRollback(t *testing.T) {
	needXLA(t)
	t.Parallel()
	dir := t.TempDir()
	r := run(t, bins.train, nil, tinyArgs(dir, "-lr", "1e30", "-on-nonfinite", "rollback")...)
	if r.code != 1 {
		t.Fatalf("exit %d, want 1:\n%s", r.code, r.output)
	}
	assertNoStackTrace(t, "rollback", r.output)
	if n := strings.Count(r.output, "rolled back to the newest checkpoint"); n != 3 {
		t.Errorf("%d rollbacks logged, want 3:\n%s", n, r.output)
	}
	if !strings.Contains(r.output, "already rolled back 3 times") || nonFiniteMsg.FindString(r.output) == "" {
		t.Errorf("the final error does not say it gave up after 3 rollbacks:\n%s", r.output)
	}
	assertFiniteCheckpoints(t, dir)
}
