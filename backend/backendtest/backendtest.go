// Package backendtest gives tests the backend chosen by GOMLX_BACKEND, once per test binary.
//
// Tests that need XLA (convolution training, batch-norm training) call XLA and are skipped, with
// the reason, when another backend is selected. A missing plugin is a test failure, never a skip:
// `make test` installs the plugin first.
package backendtest

import (
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/gomlx/gomlx/backends"

	"github.com/gomlx-ssl/vicreg/backend"
)

var (
	once    sync.Once
	shared  backends.Backend
	openErr error
)

// Backend returns the backend selected by GOMLX_BACKEND (default xla:cpu), shared by all tests of
// the package. It fails the test if the backend cannot be started.
//
// On a GPU the tests compute in float32 with deterministic kernels, so that they hold to the
// tolerances and exact round trips they assert on a CPU: Backend sets VICREG_TF32=0 and
// VICREG_DETERMINISTIC=1 (backend.TF32Env, backend.DeterministicEnv) unless they are set, for
// this process and the commands its tests start. They change nothing on a CPU.
func Backend(tb testing.TB) backends.Backend {
	tb.Helper()
	once.Do(func() {
		for name, value := range map[string]string{backend.TF32Env: "0", backend.DeterministicEnv: "1"} {
			if _, set := os.LookupEnv(name); !set {
				if openErr = os.Setenv(name, value); openErr != nil {
					return
				}
			}
		}
		shared, openErr = backend.New()
	})
	if openErr != nil {
		tb.Fatalf("cannot start the GoMLX backend: %v", openErr)
	}
	return shared
}

// XLA returns the shared backend if it is XLA, and skips the test with the reason otherwise.
func XLA(tb testing.TB) backends.Backend {
	tb.Helper()
	if !backend.IsXLA(backend.Config()) {
		tb.Skipf("needs the XLA backend (GoMLX's pure Go backend lacks the ops this test uses); %s=%q",
			backend.EnvVar, backend.Config())
	}
	return Backend(tb)
}

// SkipIfUnsupported skips the test, naming the missing operation, when err says that the
// selected backend does not implement an op (GoMLX's pure Go backend lacks some, e.g. Pad, which
// the gradients of Slice and Concatenate use). Any other error is left to the caller.
func SkipIfUnsupported(tb testing.TB, err error) {
	tb.Helper()
	if err != nil && !backend.IsXLA(backend.Config()) && strings.Contains(err.Error(), "not implemented") {
		tb.Skipf("the %s backend lacks an operation this test needs: %v", backend.Config(), err)
	}
}
