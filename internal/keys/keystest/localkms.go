// Package keystest gives tests real key-custody peers: a local AWS KMS API server.
package keystest

import (
	"go/build"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/cavra-dev/cavra/internal/testenv"
)

// StartLocalKMS starts nsmithuk/local-kms, a real AWS KMS API server, on a loopback port for the
// duration of t, and points the AWS SDK (and so sigstore's awskms:// provider) at it through
// the process environment. scripts/install-test-deps.sh installs the binary; without it the
// test is skipped (or failed under CAVRA_REQUIRE_SERVICES=1).
func StartLocalKMS(t *testing.T) {
	t.Helper()
	bin, err := exec.LookPath("local-kms")
	if err != nil {
		bin = filepath.Join(build.Default.GOPATH, "bin", "local-kms")
		if _, statErr := os.Stat(bin); statErr != nil {
			testenv.Skip(t, "local-kms not installed (scripts/install-test-deps.sh installs it)")
		}
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	cmd := exec.CommandContext(t.Context(), bin)
	cmd.Env = append(os.Environ(),
		"PORT="+strconv.Itoa(port),
		"KMS_DATA_PATH="+t.TempDir(),
		"KMS_REGION=eu-west-2",
		"KMS_ACCOUNT_ID=111122223333",
		"KMS_SEED_PATH="+filepath.Join(t.TempDir(), "no-seed.yaml"))
	if err := cmd.Start(); err != nil {
		t.Fatalf("start local-kms: %v", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		cmd.Process.Kill() //nolint:errcheck // it may have exited already
		<-exited
	})
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	for {
		conn, err := net.Dial("tcp", addr)
		if err == nil {
			conn.Close()
			break
		}
		select {
		case err := <-exited:
			t.Fatalf("local-kms exited before listening: %v", err)
		case <-t.Context().Done():
			t.Fatal("test ended before local-kms listened")
		case <-time.After(20 * time.Millisecond): // poll interval, not a limit
		}
	}
	awsHome := t.TempDir()
	t.Setenv("AWS_ENDPOINT_URL", "http://"+addr)
	t.Setenv("AWS_REGION", "eu-west-2")
	t.Setenv("AWS_ACCESS_KEY_ID", "local")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "local")
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(awsHome, "config"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(awsHome, "credentials"))
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
}
