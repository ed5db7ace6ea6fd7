package trainer

import (
	"errors"
	"strings"
	"testing"

	"github.com/gomlx-ssl/vicreg/backend/backendtest"
	"github.com/gomlx-ssl/vicreg/train/config"
)

func TestMoreDevicesThanTheBackendHasIsAUsageError(t *testing.T) {
	b := backendtest.XLA(t)
	c := tinyConfig(t)
	c.Devices = b.NumDevices() + 1
	c.BatchSize = 4 * c.Devices
	_, err := Run(b, c, quiet())
	var ue *config.FieldError
	if !errors.As(err, &ue) || ue.Flag != "devices" || !strings.Contains(err.Error(), "devices asked for, but the") {
		t.Errorf("Run with %d devices on a %d-device backend: got %v, want a -devices usage error", c.Devices, b.NumDevices(), err)
	}
}
