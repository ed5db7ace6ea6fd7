package checkpoints

import (
	"bufio"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/charmbracelet/log"

	"github.com/gomlx-ssl/vicreg/checkpoints/safetensors"
	"github.com/gomlx-ssl/vicreg/internal/atomicfile"
)

// filePrefix starts the name of every checkpoint a Manager writes.
const filePrefix = "ckpt-"

// ErrNoCheckpoint is wrapped by the errors of Manager.LoadLatest and Manager.Best when the folder
// holds no checkpoint: a caller can start training from scratch.
var ErrNoCheckpoint = errors.New("no checkpoint")

// ErrNoValidCheckpoint is wrapped by the error of Manager.LoadLatest when the folder holds
// checkpoints but every one of them is damaged (the files are kept). It is not ErrNoCheckpoint:
// a caller must not treat such a folder as empty and start afresh over it.
var ErrNoValidCheckpoint = errors.New("no valid checkpoint")

// Manager keeps a folder of checkpoints named after their step (ckpt-000001234.safetensors).
//
// After each Save it keeps the KeepLast newest checkpoints plus the one with the highest value
// of BestMetric, and deletes the others — only after the new one is safely in place. It never
// deletes a checkpoint whose header it cannot read: damaged files are reported and kept for
// inspection.
type Manager struct {
	// Dir is the folder of the checkpoints.
	Dir string
	// KeepLast is how many of the newest checkpoints to keep; 0 or less keeps all.
	KeepLast int
	// BestMetric names the metric whose highest value marks the best checkpoint (e.g.
	// "probe_acc"); empty means no best checkpoint is kept besides the newest ones.
	BestMetric string
	// Logger receives warnings about damaged checkpoints and failed clean-ups.
	Logger *log.Logger
	// Mirror, when set, is synced (in the background) after each Save: the folder's copy in a
	// bucket follows it.
	Mirror *Mirror
}

// NewManager returns a Manager for dir, creating the folder if needed, and removes temporary
// files that an interrupted Save left there.
func NewManager(dir string, keepLast int, bestMetric string) (*Manager, error) {
	if dir == "" {
		return nil, errors.New("checkpoint manager: empty folder name")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("checkpoint manager: creating folder %s: %w", dir, err)
	}
	m := &Manager{Dir: dir, KeepLast: keepLast, BestMetric: bestMetric, Logger: log.Default()}
	if err := m.CleanTemp(); err != nil {
		return nil, err
	}
	return m, nil
}

// PathForStep returns the path of the checkpoint of the given step.
func (m *Manager) PathForStep(step int64) string {
	return filepath.Join(m.Dir, fmt.Sprintf("%s%09d%s", filePrefix, step, Ext))
}

// stepOf parses the step out of the name of a checkpoint file with extension ext; ok is false
// for other files.
func stepOf(name, ext string) (step int64, ok bool) {
	digits, found := strings.CutPrefix(name, filePrefix)
	if !found {
		return 0, false
	}
	digits, found = strings.CutSuffix(digits, ext)
	if !found || digits == "" {
		return 0, false
	}
	for _, c := range digits {
		if c < '0' || c > '9' {
			return 0, false
		}
	}
	step, err := strconv.ParseInt(digits, 10, 64)
	return step, err == nil
}

// CleanTemp removes the temporary files that an interrupted Save left in the folder. Only one
// process may save into the folder at a time, or this could remove a file being written.
func (m *Manager) CleanTemp() error {
	entries, err := os.ReadDir(m.Dir)
	if err != nil {
		return fmt.Errorf("checkpoint manager: reading folder %s: %w", m.Dir, err)
	}
	for _, e := range entries {
		if e.Type().IsRegular() && atomicfile.IsTemp(e.Name(), filePrefix) {
			p := filepath.Join(m.Dir, e.Name())
			if err := os.Remove(p); err != nil {
				return fmt.Errorf("checkpoint manager: removing leftover temporary file %s: %w", p, err)
			}
			m.logger().Info("removed leftover temporary checkpoint file", "path", p)
		}
	}
	return nil
}

func (m *Manager) logger() *log.Logger {
	if m.Logger == nil {
		return log.Default()
	}
	return m.Logger
}

// List returns the paths of the checkpoints in the folder, oldest (smallest step) first.
// Temporary files and other files are ignored. A folder that holds no checkpoint but checkpoints
// in the old .vckpt format is an error wrapping ErrOldFormat that names them and the conversion
// command: such a folder is not empty, and a caller must not start afresh over it.
func (m *Manager) List() ([]string, error) {
	entries, err := os.ReadDir(m.Dir)
	if err != nil {
		return nil, fmt.Errorf("listing checkpoints in %s: %w", m.Dir, err)
	}
	type item struct {
		step int64
		name string
	}
	var items []item
	var old []string
	for _, e := range entries {
		if !e.Type().IsRegular() {
			continue
		}
		if step, ok := stepOf(e.Name(), Ext); ok {
			items = append(items, item{step, e.Name()})
		} else if _, ok := stepOf(e.Name(), OldExt); ok {
			old = append(old, filepath.Join(m.Dir, e.Name()))
		}
	}
	if len(items) == 0 && len(old) > 0 {
		return nil, oldFormatError(m.Dir, old)
	}
	slices.SortFunc(items, func(a, b item) int {
		if a.step != b.step {
			return int(min(max(a.step-b.step, -1), 1))
		}
		return strings.Compare(a.name, b.name)
	})
	paths := make([]string, len(items))
	for i, it := range items {
		paths[i] = filepath.Join(m.Dir, it.name)
	}
	return paths, nil
}

// Save writes s as the checkpoint of step s.Step (replacing a valid checkpoint of the same step;
// a damaged one is moved aside to <path>.corrupt, never overwritten), then applies the retention policy. The error
// is nil if and only if the checkpoint was saved; failures to delete old checkpoints are logged.
func (m *Manager) Save(s *State) (string, error) {
	if s == nil {
		return "", errors.New("checkpoint manager: nil state")
	}
	path := m.PathForStep(s.Step)
	if _, err := os.Stat(path); err == nil {
		if old, loadErr := Load(path); loadErr != nil {
			aside := path + ".corrupt"
			for i := 1; fileExists(aside); i++ {
				aside = fmt.Sprintf("%s.corrupt.%d", path, i)
			}
			if err := os.Rename(path, aside); err != nil {
				return "", fmt.Errorf("checkpoint manager: moving damaged %s aside: %w", path, err)
			}
			m.logger().Warn("moved a damaged checkpoint aside before replacing it", "path", aside, "err", loadErr)
		} else {
			old.Free()
		}
	}
	if err := Save(path, s); err != nil {
		return "", err
	}
	m.retain(path)
	if m.Mirror != nil {
		m.Mirror.Sync()
	}
	return path, nil
}

func fileExists(path string) bool {
	_, err := os.Lstat(path)
	return err == nil
}

// oldFormatError reports a folder whose checkpoints are all in the old format.
func oldFormatError(dir string, old []string) error {
	list := old
	if len(old) > 5 {
		list = append(slices.Clone(old[:5]), fmt.Sprintf("... and %d more", len(old)-5))
	}
	return fmt.Errorf("%w: %s holds %d checkpoint(s) of the old format (version 1), which this program no longer reads, and none of the current one:\n  %s\nconvert them (the old files are kept) with\n  %s %s",
		ErrOldFormat, dir, len(old), strings.Join(list, "\n  "), ConvertCommand, dir)
}

// readHeaderFile reads only the header of a checkpoint (not verifying the checksum).
func readHeaderFile(path string) (*safetensors.Header, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return nil, err
	}
	h, err := readHeader(bufio.NewReader(f), info.Size())
	if err != nil {
		return nil, fmt.Errorf("reading the header of %s: %w", path, err)
	}
	return h, nil
}

// retain deletes the checkpoints that are neither just saved, nor among the KeepLast newest, nor
// the best, nor unreadable.
func (m *Manager) retain(saved string) {
	if m.KeepLast <= 0 {
		return
	}
	paths, err := m.List()
	if err != nil {
		m.logger().Warn("not applying checkpoint retention", "err", err)
		return
	}
	keep := map[string]bool{saved: true}
	for _, p := range paths[max(0, len(paths)-m.KeepLast):] {
		keep[p] = true
	}
	best, bestErr := m.Best()
	if bestErr == nil {
		keep[best] = true
	}
	for _, p := range paths {
		if keep[p] {
			continue
		}
		if _, err := readHeaderFile(p); err != nil {
			m.logger().Warn("keeping a damaged checkpoint for inspection", "path", p, "err", err)
			continue
		}
		if err := os.Remove(p); err != nil {
			m.logger().Warn("could not remove an old checkpoint", "path", p, "err", err)
		}
	}
}

// LoadLatest loads the newest checkpoint that verifies. Newer damaged checkpoints are skipped,
// logged as warnings and kept. The returned error wraps ErrNoCheckpoint when the folder has no
// checkpoint, and ErrNoValidCheckpoint joined with every file's error when none verifies.
func (m *Manager) LoadLatest() (*State, string, error) {
	paths, err := m.List()
	if err != nil {
		return nil, "", err
	}
	if len(paths) == 0 {
		return nil, "", fmt.Errorf("%w in %s", ErrNoCheckpoint, m.Dir)
	}
	var errs []error
	for i := len(paths) - 1; i >= 0; i-- {
		s, err := Load(paths[i])
		if err == nil {
			return s, paths[i], nil
		}
		m.logger().Warn("skipping a damaged checkpoint (kept on disk)", "path", paths[i], "err", err)
		errs = append(errs, err)
	}
	return nil, "", fmt.Errorf("%w in %s: all %d are damaged (kept on disk): %w", ErrNoValidCheckpoint, m.Dir, len(paths), errors.Join(errs...))
}

// Best returns the path of the checkpoint with the highest value of BestMetric (the newest among
// equals). Checkpoints without the metric, with a NaN value, or with an unreadable header are
// ignored; only headers are read, so the data of the result is verified only when it is loaded.
func (m *Manager) Best() (string, error) {
	if m.BestMetric == "" {
		return "", errors.New("checkpoint manager: no best metric configured")
	}
	paths, err := m.List()
	if err != nil {
		return "", err
	}
	best, bestValue := "", math.Inf(-1)
	for _, p := range paths {
		h, err := readHeaderFile(p)
		if err != nil {
			continue
		}
		metrics, err := headerMetrics(h)
		if err != nil {
			continue
		}
		v, ok := metrics[m.BestMetric]
		if !ok || math.IsNaN(v) {
			continue
		}
		if best == "" || v >= bestValue {
			best, bestValue = p, v
		}
	}
	if best == "" {
		return "", fmt.Errorf("%w with metric %q in %s", ErrNoCheckpoint, m.BestMetric, m.Dir)
	}
	return best, nil
}
