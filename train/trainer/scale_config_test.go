package trainer

import (
	"errors"
	"flag"
	"io"
	"strings"
	"testing"

	"github.com/gomlx-ssl/vicreg/backend/backendtest"
)

func TestDevicesAndPrecisionFlags(t *testing.T) {
	for _, tc := range []struct {
		args []string
		flag string // "" for no error
		want string // in the error message
	}{
		{[]string{"-devices", "2"}, "", ""},
		{[]string{"-precision", "bf16"}, "", ""},
		{[]string{"-devices", "0"}, "devices", "must be >= 1"},
		{[]string{"-devices", "3"}, "devices", "3 devices do not divide the batch of 256"},
		{[]string{"-devices", "4", "-batch-size", "6"}, "devices", "4 devices do not divide the batch of 6"},
		{[]string{"-precision", "fp8"}, "precision", `unknown precision "fp8": use one of f32, bf16`},
	} {
		fs := flag.NewFlagSet("t", flag.ContinueOnError)
		fs.SetOutput(io.Discard)
		c, err := ParseFlags(fs, tc.args)
		if tc.flag == "" {
			if err != nil {
				t.Errorf("%v: %v", tc.args, err)
			}
			continue
		}
		var ue *UsageError
		if !errors.As(err, &ue) || ue.Flag != tc.flag || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: got %v (config %+v), want a -%s usage error containing %q", tc.args, err, c, tc.flag, tc.want)
		}
	}
}

// The device count is not part of the stored configuration (a run may resume on other devices);
// the precision is, except its default f32, so that older checkpoints still resume.
func TestDevicesAndPrecisionInJSON(t *testing.T) {
	c := Default()
	if c.Devices != 1 || c.Precision != "f32" {
		t.Fatalf("defaults: devices %d, precision %q; want 1, f32", c.Devices, c.Precision)
	}
	base := string(c.JSON())
	if strings.Contains(base, "precision") || strings.Contains(base, "devices") {
		t.Errorf("default JSON mentions precision or devices: %s", base)
	}
	c.Devices = 4
	if got := string(c.JSON()); got != base {
		t.Errorf("devices changed the stored configuration:\n%s\n%s", got, base)
	}
	c.Precision = "bf16"
	if got := string(c.JSON()); !strings.Contains(got, `"precision":"bf16"`) {
		t.Errorf("bf16 is not stored: %s", got)
	}
	if c.Precision != "bf16" {
		t.Errorf("JSON changed the config's precision to %q", c.Precision)
	}
}

func TestMoreDevicesThanTheBackendHasIsAUsageError(t *testing.T) {
	b := backendtest.XLA(t)
	c := tinyConfig(t)
	c.Devices = b.NumDevices() + 1
	c.BatchSize = 4 * c.Devices
	_, err := Run(b, c, quiet())
	var ue *UsageError
	if !errors.As(err, &ue) || ue.Flag != "devices" || !strings.Contains(err.Error(), "devices asked for, but the") {
		t.Errorf("Run with %d devices on a %d-device backend: got %v, want a -devices usage error", c.Devices, b.NumDevices(), err)
	}
}
