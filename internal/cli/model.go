package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/cavra-dev/cavra/internal/modelsign"
)

// maxKeyFile bounds a PEM key file read from disk.
const maxKeyFile = 1 << 20

func newModelCmd(rt *runtime) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "model",
		Short: "Sign and verify model directories (OpenSSF model signing, key-based)",
	}
	cmd.AddCommand(newModelSignCmd(rt), newModelVerifyCmd(rt), newModelKeygenCmd(rt))
	return cmd
}

// ignoreFlags are the path-exclusion flags sign and verify share with the OpenSSF tool.
type ignoreFlags struct {
	paths []string
	git   bool
}

func (f *ignoreFlags) register(cmd *cobra.Command) {
	cmd.Flags().StringSliceVar(&f.paths, "ignore-paths", nil, "files or directories to leave out, relative to DIR (repeatable)")
	cmd.Flags().BoolVar(&f.git, "ignore-git-paths", true, "leave out .git, .gitattributes, .github and .gitignore")
}

// signatureInside returns the signature path relative to dir when it lies inside dir, so that
// the signature never signs or verifies itself.
func signatureInside(dir, sig string) (string, bool) {
	absDir, err1 := filepath.Abs(dir)
	absSig, err2 := filepath.Abs(sig)
	if err1 != nil || err2 != nil {
		return "", false
	}
	rel, err := filepath.Rel(absDir, absSig)
	if err != nil || rel == "." || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		return "", false
	}
	return filepath.ToSlash(rel), true
}

func readKeyFile(path string) ([]byte, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if st.Size() > maxKeyFile {
		return nil, fmt.Errorf("%s is larger than %d bytes: not a key file", path, maxKeyFile)
	}
	return os.ReadFile(path)
}

func newModelSignCmd(rt *runtime) *cobra.Command {
	var (
		keyPath, sigPath string
		shardSize        int64
		ignore           ignoreFlags
	)
	cmd := &cobra.Command{
		Use:   "sign DIR --private-key KEY [--signature OUT]",
		Short: "Sign a model directory; the bundle is one the OpenSSF model_signing tool verifies",
		Long: `Hashes every file of DIR (SHA-256), signs the list as an in-toto statement in a DSSE
envelope with an ECDSA key, and writes a Sigstore bundle (default DIR/model.sig).
Verify it with 'cavra model verify' or 'model_signing verify key'.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			dir := args[0]
			if keyPath == "" {
				return usageError("--private-key is required")
			}
			if sigPath == "" {
				sigPath = filepath.Join(dir, "model.sig")
			}
			pemBytes, err := readKeyFile(keyPath)
			if err != nil {
				return usageError("read private key: %w", err)
			}
			key, err := modelsign.ParsePrivateKey(pemBytes)
			if err != nil {
				return usageError("%s: %w", keyPath, err)
			}
			opts := modelsign.HashOptions{IgnorePaths: ignore.paths, IgnoreGitPaths: ignore.git, ShardSize: shardSize}
			if rel, ok := signatureInside(dir, sigPath); ok {
				opts.IgnorePaths = append(opts.IgnorePaths, rel)
			}
			bundle, m, err := modelsign.Sign(cmd.Context(), dir, key, opts)
			if err != nil {
				return withExit(exitUsage, fmt.Errorf("sign %s: %w", dir, err))
			}
			out, err := bundle.Marshal()
			if err != nil {
				return withExit(exitUsage, err)
			}
			if err := os.WriteFile(sigPath, out, 0o644); err != nil {
				return withExit(exitUsage, fmt.Errorf("write signature: %w", err))
			}
			root, _ := m.RootDigest()
			_, err = fmt.Fprintf(rt.stdout, "signed %s: %d %s, %d bytes, root sha256:%s\nsignature written to %s\n",
				dir, len(m.Resources), m.Serialization.Method, m.Bytes, root, sigPath)
			return err
		},
	}
	cmd.Flags().StringVar(&keyPath, "private-key", "", "PEM ECDSA private key (P-256, P-384 or P-521)")
	cmd.Flags().StringVar(&sigPath, "signature", "", "where to write the bundle (default DIR/model.sig)")
	cmd.Flags().Int64Var(&shardSize, "shard-size", 0, "hash files in shards of this many bytes (OpenSSF \"shards\" method); 0 hashes whole files")
	ignore.register(cmd)
	return cmd
}

func newModelVerifyCmd(rt *runtime) *cobra.Command {
	var (
		keyPath, sigPath, format string
		ignore                   ignoreFlags
	)
	cmd := &cobra.Command{
		Use:   "verify DIR --signature model.sig --public-key KEY",
		Short: "Verify a model directory against a key-signed OpenSSF model signature",
		Long: `Checks the bundle's signature with the public key, then re-hashes DIR and compares every
file with the signed list. Paths the signer ignored are ignored again. Exit 0 when the model
matches, 1 when it does not (bad signature, changed, missing or extra files), 2 on bad input.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			dir := args[0]
			if keyPath == "" {
				return usageError("--public-key is required")
			}
			if format != "text" && format != "json" {
				return usageError("--format must be text or json, not %q", format)
			}
			if sigPath == "" {
				sigPath = filepath.Join(dir, "model.sig")
			}
			pemBytes, err := readKeyFile(keyPath)
			if err != nil {
				return usageError("read public key: %w", err)
			}
			pub, err := modelsign.ParsePublicKey(pemBytes)
			if err != nil {
				return usageError("%s: %w", keyPath, err)
			}
			st, err := os.Stat(sigPath)
			if err != nil {
				return usageError("read signature: %w", err)
			}
			if st.Size() > modelsign.MaxBundleSize {
				return withExit(exitFailure, fmt.Errorf("%s: %w: larger than %d bytes", sigPath, modelsign.ErrInvalidBundle, modelsign.MaxBundleSize))
			}
			bundle, err := os.ReadFile(sigPath)
			if err != nil {
				return usageError("read signature: %w", err)
			}
			opts := modelsign.VerifyOptions{IgnorePaths: ignore.paths, IgnoreGitPaths: ignore.git, Logger: rt.logger}
			if rel, ok := signatureInside(dir, sigPath); ok {
				opts.IgnorePaths = append(opts.IgnorePaths, rel)
			}
			res, err := modelsign.Verify(cmd.Context(), dir, bundle, pub, opts)
			if err != nil {
				if errors.Is(err, modelsign.ErrVerification) {
					return withExit(exitFailure, err)
				}
				if errors.Is(err, fs.ErrNotExist) || errors.Is(err, fs.ErrPermission) {
					return usageError("verify %s: %w", dir, err)
				}
				return withExit(exitUsage, fmt.Errorf("verify %s: %w", dir, err))
			}
			if format == "json" {
				enc := json.NewEncoder(rt.stdout)
				enc.SetIndent("", "  ")
				return enc.Encode(map[string]any{
					"verified":      true,
					"model":         res.ModelName,
					"root_digest":   "sha256:" + res.RootDigest,
					"key_hint":      res.KeyHint,
					"serialization": res.Serialization,
					"resources":     res.Resources,
					"bytes":         res.Bytes,
				})
			}
			_, err = fmt.Fprintf(rt.stdout, "verified %s: %d %s match the signature (root sha256:%s, key %s)\n",
				dir, res.Resources, res.Serialization.Method, res.RootDigest, res.KeyHint)
			return err
		},
	}
	cmd.Flags().StringVar(&sigPath, "signature", "", "the bundle to verify (default DIR/model.sig)")
	cmd.Flags().StringVar(&keyPath, "public-key", "", "PEM public key of the signer")
	cmd.Flags().StringVar(&format, "format", "text", "output format: text or json")
	ignore.register(cmd)
	return cmd
}

func newModelKeygenCmd(rt *runtime) *cobra.Command {
	var privPath, pubPath string
	cmd := &cobra.Command{
		Use:   "keygen",
		Short: "Create an ECDSA P-256 key pair (PEM) for model signing",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			key, err := modelsign.GenerateKey()
			if err != nil {
				return withExit(exitUsage, err)
			}
			privPEM, err := modelsign.MarshalPrivateKeyPEM(key)
			if err != nil {
				return withExit(exitUsage, err)
			}
			pubPEM, err := modelsign.MarshalPublicKeyPEM(&key.PublicKey)
			if err != nil {
				return withExit(exitUsage, err)
			}
			// O_EXCL: never overwrite a key someone may already rely on.
			if err := writeNew(privPath, privPEM, 0o600); err != nil {
				return usageError("write private key: %w", err)
			}
			if err := writeNew(pubPath, pubPEM, 0o644); err != nil {
				os.Remove(privPath)
				return usageError("write public key: %w", err)
			}
			hint, err := modelsign.KeyHint(&key.PublicKey)
			if err != nil {
				return withExit(exitUsage, err)
			}
			_, err = fmt.Fprintf(rt.stdout, "private key: %s\npublic key:  %s\nkey hint:    %s\n", privPath, pubPath, hint)
			return err
		},
	}
	cmd.Flags().StringVar(&privPath, "private-key", "model-signing.key", "where to write the private key (mode 0600)")
	cmd.Flags().StringVar(&pubPath, "public-key", "model-signing.pub", "where to write the public key")
	return cmd
}

func writeNew(path string, data []byte, mode os.FileMode) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
