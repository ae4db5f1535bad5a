package cli

import (
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/cavra-dev/cavra/verify"
)

// maxBundleBytes bounds what cavra verify reads, so a hostile file cannot exhaust memory.
const maxBundleBytes = 1 << 30

func newVerifyCmd(rt *runtime) *cobra.Command {
	var trustedKeysPath string
	cmd := &cobra.Command{
		Use:   "verify BUNDLE",
		Short: "Check an evidence bundle offline",
		Long: `Check an evidence bundle offline: the checkpoint signature, the DSSE attestation, key validity
windows and revocations, and every record's inclusion proof. BUNDLE may be - for standard input.

Pass --trusted-keys with the keys you trust (the output of cavra keys list --json, a keyring.json,
or a JSON array of keys); without it the bundle's own keys are used, which proves integrity but
not who signed it.

Exit status: 0 the bundle verifies, 1 it does not, 2 usage or I/O error.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			data, err := readLimited(rt, args[0])
			if err != nil {
				return withExit(exitUsage, fmt.Errorf("read bundle: %w", err))
			}
			var opts verify.Options
			if trustedKeysPath != "" {
				keyData, err := readLimited(rt, trustedKeysPath)
				if err != nil {
					return withExit(exitUsage, fmt.Errorf("read trusted keys: %w", err))
				}
				if opts.TrustedKeys, err = verify.ParseKeys(keyData); err != nil {
					return withExit(exitUsage, fmt.Errorf("trusted keys %s: %w", trustedKeysPath, err))
				}
			}
			res, err := verify.Check(data, opts)
			if err != nil {
				return withExit(exitFailure, fmt.Errorf("verification failed: %w", err))
			}
			return writeVerifyResult(rt.stdout, res)
		},
	}
	cmd.Flags().StringVar(&trustedKeysPath, "trusted-keys", "", "file of keys to trust (default: the bundle's own keys)")
	return cmd
}

func readLimited(rt *runtime, path string) ([]byte, error) {
	var r io.Reader = rt.stdin
	if path != "-" {
		f, err := os.Open(path)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		r = f
	}
	data, err := io.ReadAll(io.LimitReader(r, maxBundleBytes+1))
	if err != nil {
		return nil, err
	}
	if len(data) > maxBundleBytes {
		return nil, fmt.Errorf("%s is larger than %d bytes", path, maxBundleBytes)
	}
	return data, nil
}

func writeVerifyResult(w io.Writer, res *verify.Result) error {
	var b strings.Builder
	fmt.Fprintf(&b, "OK: %d entries verified\n", res.Entries)
	fmt.Fprintf(&b, "checkpoint: %s, tree size %d, root %x\n", res.Origin, res.TreeSize, res.RootHash)
	signedAt := "no signing time"
	if !res.CheckpointTime.IsZero() {
		signedAt = "signed " + res.CheckpointTime.UTC().Format(time.RFC3339)
	}
	fmt.Fprintf(&b, "checkpoint keys: %s (%s)\n", strings.Join(res.CheckpointKeys, ", "), signedAt)
	fmt.Fprintf(&b, "attestation key: %s (signed %s)\n", res.AttestationKey, res.SignedAt.UTC().Format(time.RFC3339))
	if res.SelfAsserted {
		b.WriteString("warning: trusted the keys inside the bundle; pass --trusted-keys to check who signed it\n")
	}
	if _, err := io.WriteString(w, b.String()); err != nil {
		return fmt.Errorf("write output: %w", err)
	}
	return nil
}
