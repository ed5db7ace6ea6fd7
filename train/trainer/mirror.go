package trainer

import (
	"context"
	"fmt"

	"github.com/charmbracelet/log"

	"github.com/gomlx-ssl/vicreg/checkpoints"
	"github.com/gomlx-ssl/vicreg/train/config"
)

// OpenMirror returns the mirror of the manager's folder in the bucket folder loc (-checkpoint-mirror).
// Resuming, it first restores the bucket's checkpoints newer than the folder's (a run moved to
// another machine); starting a run, it refuses a bucket folder that holds checkpoints already,
// as RefuseOverwrite refuses such a local folder. A bucket that cannot be listed (a bad location,
// missing credentials) is a *config.FieldError for -checkpoint-mirror.
func OpenMirror(mgr *checkpoints.Manager, loc string, resume bool, logger *log.Logger) (*checkpoints.Mirror, error) {
	ctx := context.Background()
	m, err := checkpoints.NewMirror(ctx, mgr.Dir, loc, logger)
	if err != nil {
		return nil, config.Errorf("checkpoint-mirror", "%v", err)
	}
	held := m.RemoteCheckpoints()
	if !resume {
		if len(held) > 0 {
			return nil, config.Errorf("checkpoint-mirror", "%s already holds checkpoints of a run (the newest: %s): pass -resume to continue it (they are restored into -checkpoint-dir), or choose another -checkpoint-mirror (nothing was overwritten)", m.Remote, held[0])
		}
		return m, nil
	}
	restored, err := m.Restore(ctx)
	if err != nil {
		return nil, fmt.Errorf("%w\nnothing was deleted, in %s or in the bucket: fix the cause and resume again", err, mgr.Dir)
	}
	if len(restored) > 0 {
		logger.Info("restored the run's newer checkpoints from the bucket", "from", m.Remote, "checkpoints", len(restored), "newest", restored[0])
	}
	return m, nil
}

// FinishMirror copies what the run left in its folder to the bucket and waits until it is there.
func FinishMirror(m *checkpoints.Mirror, logger *log.Logger) error {
	m.Sync()
	logger.Info("copying the run's folder to the bucket", "to", m.Remote)
	if err := m.Wait(); err != nil {
		return fmt.Errorf("%w\nthe folder %s is intact, but its copy in the bucket is not complete: copy it yourself (aws s3 sync, gcloud storage rsync), or run the same command with -resume, which starts by copying it", err, m.Dir)
	}
	return nil
}
