package cli

import (
	"errors"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/cavra-dev/cavra"
	"github.com/cavra-dev/cavra/internal/home"
	"github.com/cavra-dev/cavra/internal/keys"
)

// pkcs11PINVar names the environment variable that holds the PKCS#11 user PIN: a PIN on the
// command line would land in shell history and process listings.
const pkcs11PINVar = "CAVRA_PKCS11_PIN"

// keysFlags are the flags every keys subcommand shares.
type keysFlags struct {
	home string
}

// keyringDir is the data home's keyring directory, the data home coming from --home or the
// environment.
func (f *keysFlags) keyringDir(rt *runtime) (string, error) {
	dir, err := homeDir(rt, f.home)
	if err != nil {
		return "", err
	}
	return home.Layout{Root: dir}.KeysDir(), nil
}

// open opens (creating on first use) the keyring.
func (f *keysFlags) open(cmd *cobra.Command, rt *runtime) (*keys.Keyring, error) {
	dir, err := f.keyringDir(rt)
	if err != nil {
		return nil, err
	}
	k, err := keys.Init(cmd.Context(), dir, time.Now,
		keys.WithLogger(rt.logger),
		keys.WithPKCS11PIN(rt.getenv(pkcs11PINVar)))
	if err != nil {
		return nil, withExit(exitUsage, err)
	}
	return k, nil
}

func newKeysCmd(rt *runtime) *cobra.Command {
	flags := &keysFlags{}
	cmd := &cobra.Command{
		Use:   "keys",
		Short: "Manage the keys that sign evidence (checkpoints and bundles)",
		Long: `Manage the keys that sign evidence. Keys live in $CAVRA_HOME/keys: keyring.json lists
every key with its id, validity window and revocation; file keys are PKCS#8 files (mode 0600).
PKCS#11 and KMS keys stay in their HSM or KMS; the keyring records how to reach them.`,
	}
	cmd.PersistentFlags().StringVar(&flags.home, "home", "", "CAVRA data home (default $CAVRA_HOME, else the user's data directory)")
	cmd.AddCommand(newKeysListCmd(rt, flags), newKeysRotateCmd(rt, flags), newKeysRevokeCmd(rt, flags))
	return cmd
}

func newKeysListCmd(rt *runtime, flags *keysFlags) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List signing keys, their windows and revocations",
		Long: `List signing keys. With --json the output is the trusted-keys file an auditor passes to
cavra verify --trusted-keys.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			k, err := flags.open(cmd, rt)
			if err != nil {
				return err
			}
			if asJSON {
				return writeJSON(rt.stdout, k.Keys())
			}
			return writeKeyTable(rt, k.Keys())
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the keys as JSON (a trusted-keys file)")
	return cmd
}

func writeKeyTable(rt *runtime, infos []cavra.KeyInfo) error {
	tw := tabwriter.NewWriter(rt.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tALGORITHM\tSTATUS\tCUSTODY\tNOT BEFORE\tNOT AFTER\tREVOKED AT")
	for _, ki := range infos {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", ki.ID, ki.Algorithm, ki.Status, ki.Custody,
			formatTime(ki.NotBefore), formatTime(ki.NotAfter), formatTime(ki.RevokedAt))
	}
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("write output: %w", err)
	}
	return nil
}

func formatTime(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format(time.RFC3339)
}

func newKeysRotateCmd(rt *runtime, flags *keysFlags) *cobra.Command {
	var (
		p11       keys.PKCS11Config
		generate  bool
		kmsRef    string
		kmsCreate bool
	)
	cmd := &cobra.Command{
		Use:   "rotate",
		Short: "Make a new key the active signer and retire the old one",
		Long: `Make a new key the active signer. The old key is retired: its signatures made before now
stay valid. By default the new key is an Ed25519 file key.

  --pkcs11-module, --pkcs11-token, --pkcs11-label  use a P-256 key on a PKCS#11 token
                                                   (PIN from $` + pkcs11PINVar + `); add
                                                   --pkcs11-generate to create it
  --kms REF                                        use a KMS key through a sigstore kms
                                                   reference (awskms://...; other providers
                                                   as sigstore-kms plugins on PATH); add
                                                   --kms-create to create it (P-256)`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			usePKCS11 := p11.Module != "" || p11.Token != "" || p11.Label != ""
			if usePKCS11 && kmsRef != "" {
				return usageError("choose one of --pkcs11-* and --kms")
			}
			if kmsCreate && kmsRef == "" {
				return usageError("--kms-create needs --kms")
			}
			if generate && !usePKCS11 {
				return usageError("--pkcs11-generate needs --pkcs11-module, --pkcs11-token and --pkcs11-label")
			}
			if usePKCS11 && (p11.Module == "" || p11.Token == "" || p11.Label == "") {
				return usageError("a PKCS#11 key needs --pkcs11-module, --pkcs11-token and --pkcs11-label")
			}
			k, err := flags.open(cmd, rt)
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			var info cavra.KeyInfo
			switch {
			case usePKCS11:
				p11.PIN = rt.getenv(pkcs11PINVar)
				if p11.PIN == "" {
					return usageError("set %s to the token's user PIN", pkcs11PINVar)
				}
				p11.Name = k.Name()
				open := keys.OpenPKCS11
				if generate {
					open = keys.GeneratePKCS11Key
				}
				s, err := open(ctx, p11)
				if err != nil {
					return withExit(exitUsage, err)
				}
				defer s.Close()
				info, err = k.Adopt(ctx, s, keys.CustodyPKCS11, p11.Ref())
				if err != nil {
					return withExit(exitUsage, err)
				}
			case kmsRef != "":
				open := keys.OpenKMSNamed
				if kmsCreate {
					open = keys.CreateKMSKey
				}
				s, err := open(ctx, kmsRef, k.Name())
				if err != nil {
					return withExit(exitUsage, err)
				}
				info, err = k.Adopt(ctx, s, keys.CustodyKMS, kmsRef)
				if err != nil {
					return withExit(exitUsage, err)
				}
			default:
				info, err = k.Rotate(ctx)
				if err != nil {
					return withExit(exitUsage, err)
				}
			}
			_, err = fmt.Fprintf(rt.stdout, "active key: %s (%s, %s)\n", info.ID, info.Algorithm, info.Custody)
			return err
		},
	}
	cmd.Flags().StringVar(&p11.Module, "pkcs11-module", "", "path of the PKCS#11 module (e.g. /usr/lib/softhsm/libsofthsm2.so)")
	cmd.Flags().StringVar(&p11.Token, "pkcs11-token", "", "label of the PKCS#11 token")
	cmd.Flags().StringVar(&p11.Label, "pkcs11-label", "", "label of the key pair on the token")
	cmd.Flags().BoolVar(&generate, "pkcs11-generate", false, "generate a new P-256 key pair on the token (never replaces one)")
	cmd.Flags().StringVar(&kmsRef, "kms", "", "sigstore KMS key reference, e.g. awskms:///alias/cavra-audit")
	cmd.Flags().BoolVar(&kmsCreate, "kms-create", false, "create the KMS key (P-256) if the reference names none; never replaces one")
	return cmd
}

func newKeysRevokeCmd(rt *runtime, flags *keysFlags) *cobra.Command {
	var at string
	cmd := &cobra.Command{
		Use:   "revoke ID",
		Short: "Mark a key compromised: its signatures from the revocation time on are invalid",
		Long: `Mark a key compromised. Evidence it signed at or after the revocation time (now, or --at)
fails verification; evidence signed before stays valid. Revoking the active key first rotates
to a new file key, so evidence keeps being signed.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var when time.Time
			if at != "" {
				t, err := time.Parse(time.RFC3339Nano, at)
				if err != nil {
					return usageError("--at %q: want an RFC 3339 time such as 2026-11-25T09:00:00Z", at)
				}
				when = t
			}
			k, err := flags.open(cmd, rt)
			if err != nil {
				return err
			}
			if err := k.Revoke(cmd.Context(), args[0], when); err != nil {
				if cavra.Code(err) == cavra.ErrNotFound {
					return usageError("%v", err)
				}
				return withExit(exitUsage, err)
			}
			for _, ki := range k.Keys() {
				if ki.ID == args[0] {
					_, err := fmt.Fprintf(rt.stdout, "revoked %s at %s\n", ki.ID, ki.RevokedAt.UTC().Format(time.RFC3339Nano))
					return err
				}
			}
			return withExit(exitUsage, errors.New("revoked key vanished from the keyring"))
		},
	}
	cmd.Flags().StringVar(&at, "at", "", "revocation time, RFC 3339 (default now); signatures from then on are invalid")
	return cmd
}
