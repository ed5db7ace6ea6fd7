package remotetest

import (
	"bufio"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// MotoPython is the python3 that VICREG_S3_PYTHON names, with moto and boto3 from PyPI (pip
// install 'moto[server]' boto3), for the optional S3 tests against references; the test is
// skipped without it.
func MotoPython(t testing.TB) string {
	py := os.Getenv("VICREG_S3_PYTHON")
	if py == "" {
		t.Skip("VICREG_S3_PYTHON is not set: name a python3 with moto and boto3 (pip install 'moto[server]' boto3)")
	}
	return py
}

// MotoScript is the path of the references' script (internal/remote/testdata/moto_s3.py).
func MotoScript() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "testdata", "moto_s3.py")
}

// Moto serves moto's S3 for the test (skipped without VICREG_S3_PYTHON): each folder
// root/BUCKET@REGION is a bucket in that region holding its files. It returns the endpoint's URL;
// moto's request log is shown if the test fails.
func Moto(t testing.TB, root string) string {
	py := MotoPython(t)
	cmd := exec.Command(py, MotoScript(), "serve", root)
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		stdin.Close()
		cmd.Wait()
		if t.Failed() {
			t.Logf("moto:\n%s", stderr.String())
		}
	})
	endpoint, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		t.Fatalf("moto did not start: %v", err)
	}
	go io.Copy(io.Discard, stdout)
	return strings.TrimSpace(endpoint)
}
