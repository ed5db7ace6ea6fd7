// Package pagecache drops the operating system's page cache, so that a benchmark's next reads
// come from the disk ("cold"), not from memory.
package pagecache

import (
	"fmt"
	"os"
	"os/exec"
)

// Drop writes back the dirty pages and drops the page cache (Linux, as root).
func Drop() error {
	if err := exec.Command("sync").Run(); err != nil {
		return fmt.Errorf("sync: %w", err)
	}
	if err := os.WriteFile("/proc/sys/vm/drop_caches", []byte("3\n"), 0); err != nil {
		return fmt.Errorf("dropping the page cache needs root on Linux: %w", err)
	}
	return nil
}
