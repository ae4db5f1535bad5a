package cli

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/cavra-dev/cavra"
	"github.com/cavra-dev/cavra/internal/attest"
	"github.com/cavra-dev/cavra/internal/audit"
	"github.com/cavra-dev/cavra/internal/home"
	"github.com/cavra-dev/cavra/internal/keys"
	"github.com/cavra-dev/cavra/verify"
)

// attestationsDir holds, under the data home, one DSSE envelope per attested decision.
const attestationsDir = "attestations"

// attestationRecord is the body of an "attestation" audit record: it binds the envelope's
// bytes to the log, next to the decision it attests, so a replaced or deleted file shows.
type attestationRecord struct {
	DecisionID    string           `json:"decision_id"`
	DecisionIndex uint64           `json:"decision_index"`
	Path          string           `json:"path"` // relative to the data home
	SHA256        string           `json:"sha256"`
	KeyID         string           `json:"key_id"`
	PredicateType string           `json:"predicate_type"`
	Subjects      []attest.Subject `json:"subjects"`
}

// attestation is an envelope written to the data home.
type attestation struct {
	Path     string // absolute
	Envelope []byte
}

// RecordAttested records the decision, signs an attestation of it with the evidence key,
// writes it to the data home and records its digest in the audit log. subjects nil means the
// action's own (attest.SubjectsOf). Any failure is returned: the caller must not let the act
// run without its attestation. The returned decision carries its audit record's id.
func (e *evidence) RecordAttested(ctx context.Context, a cavra.Action, d cavra.Decision, subjects []attest.Subject) (cavra.Decision, attestation, error) {
	entry, err := e.log.AppendDecision(ctx, a, d)
	if err != nil {
		return d, attestation{}, err
	}
	d.ID = entry.ID
	if e.mirror != nil {
		if err := e.mirror.RecordDecision(ctx, a, d); err != nil {
			return d, attestation{}, err
		}
	}
	if d.ID == "" || d.ID != filepath.Base(d.ID) || strings.ContainsAny(d.ID, `/\`) || d.ID == ".." {
		return d, attestation{}, cavra.Errorf(cavra.ErrInternal, "attest: decision id %q cannot name a file", d.ID)
	}
	layout := home.Layout{Root: e.root}
	signer, err := audit.KeyringSigner(layout.KeysDir(), e.rt.logger, keys.WithPKCS11PIN(e.rt.getenv(pkcs11PINVar)))(ctx)
	if err != nil {
		return d, attestation{}, fmt.Errorf("attest: open the evidence key: %w", err)
	}
	if subjects == nil {
		subjects = attest.SubjectsOf(a)
	}
	env, err := attest.Build(ctx, signer, attest.Statement{Action: a, Decision: d, AuditIndex: entry.Index, Subjects: subjects, SignedAt: time.Now()})
	if err != nil {
		return d, attestation{}, fmt.Errorf("attest: %w", err)
	}
	rel := filepath.Join(attestationsDir, d.ID+".dsse.json")
	path := filepath.Join(e.root, rel)
	// The data home is private (0700); its attestations directory is too.
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return d, attestation{}, fmt.Errorf("attest: %w", err)
	}
	if err := writeFileAtomic(path, env); err != nil {
		return d, attestation{}, fmt.Errorf("attest: %w", err)
	}
	sum := sha256.Sum256(env)
	rec := attestationRecord{DecisionID: d.ID, DecisionIndex: entry.Index, Path: filepath.ToSlash(rel),
		SHA256: hex.EncodeToString(sum[:]), KeyID: signer.KeyID(), PredicateType: attest.PredicateType, Subjects: subjects}
	if _, err := e.log.Append(ctx, attest.RecordType, rec); err != nil {
		return d, attestation{}, fmt.Errorf("attest: record the attestation: %w", err)
	}
	return d, attestation{Path: path, Envelope: env}, nil
}

func newAttestCmd(rt *runtime) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "attest",
		Short: "Check the signed attestations of allow_with_attestation decisions",
		Long: `Decisions with the outcome allow_with_attestation produce a DSSE-signed in-toto attestation
(predicate ` + attest.PredicateType + `), written to $CAVRA_HOME/attestations/<decision id>.dsse.json
and recorded in the audit log; cavra ci check --attest FILE attests a change set's AI-authored commits.`,
	}
	cmd.AddCommand(newAttestVerifyCmd(rt))
	return cmd
}

func newAttestVerifyCmd(rt *runtime) *cobra.Command {
	var trustedKeysPath string
	cmd := &cobra.Command{
		Use:   "verify FILE",
		Short: "Check an attestation's signature, its signing key's validity and its statement",
		Long: `Checks a CAVRA attestation (a DSSE envelope; FILE may be - for standard input): the signature
over the in-toto statement, that the signing key was inside its validity window and not yet
revoked at the signing time the statement claims, and that the statement is a CAVRA action
attestation whose subjects bind the action's fingerprint.

Pass --trusted-keys with the keys you trust (the output of cavra keys list --json, a keyring.json,
or a JSON array of keys). Without it the data home's keyring is used, which is the signer's own
word: fine on the machine that signed, not for a third party.

Exit status: 0 the attestation verifies, 1 it does not, 2 usage or I/O error.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			data, err := readLimited(rt, args[0])
			if err != nil {
				return withExit(exitUsage, fmt.Errorf("read attestation: %w", err))
			}
			trusted, source, err := attestTrustedKeys(cmd.Context(), rt, trustedKeysPath)
			if err != nil {
				return withExit(exitUsage, err)
			}
			v, err := attest.Verify(data, trusted, time.Now())
			if err != nil {
				return withExit(exitFailure, fmt.Errorf("verification failed: %w", err))
			}
			return writeAttestResult(rt.stdout, v, source)
		},
	}
	cmd.Flags().StringVar(&trustedKeysPath, "trusted-keys", "", "file of keys to trust (default: the data home's keyring)")
	return cmd
}

// attestTrustedKeys reads the keys to trust from path, or the data home's keyring when path is
// empty, and says which it used.
func attestTrustedKeys(ctx context.Context, rt *runtime, path string) ([]cavra.KeyInfo, string, error) {
	if path != "" {
		data, err := readLimited(rt, path)
		if err != nil {
			return nil, "", fmt.Errorf("read trusted keys: %w", err)
		}
		vks, err := verify.ParseKeys(data)
		if err != nil {
			return nil, "", fmt.Errorf("trusted keys %s: %w", path, err)
		}
		infos := make([]cavra.KeyInfo, len(vks))
		for i, k := range vks {
			infos[i] = cavra.KeyInfo{ID: k.ID, Algorithm: k.Algorithm, PublicKey: k.PublicKey, Status: cavra.KeyStatus(k.Status),
				NotBefore: k.NotBefore, NotAfter: k.NotAfter, RevokedAt: k.RevokedAt, Custody: k.Custody}
		}
		return infos, "trusted keys from " + path, nil
	}
	root, err := dataHome(rt)
	if err != nil {
		return nil, "", err
	}
	dir := home.Layout{Root: root}.KeysDir()
	kr, err := keys.Load(ctx, dir, keys.WithLogger(rt.logger), keys.WithPKCS11PIN(rt.getenv(pkcs11PINVar)))
	if err != nil {
		if cavra.Code(err) == cavra.ErrNotFound || errors.Is(err, os.ErrNotExist) {
			return nil, "", fmt.Errorf("no keyring in %s: pass --trusted-keys with the signer's keys", dir)
		}
		return nil, "", fmt.Errorf("load the keyring: %w", err)
	}
	return kr.Keys(), "the data home's keyring (" + dir + "); pass --trusted-keys to check against keys you hold", nil
}

func writeAttestResult(w io.Writer, v *attest.Verified, source string) error {
	p := v.Predicate
	var b strings.Builder
	fmt.Fprintf(&b, "OK: attestation verified\n")
	fmt.Fprintf(&b, "key: %s (signed %s)\n", v.KeyID, v.SignedAt.UTC().Format(time.RFC3339))
	fmt.Fprintf(&b, "decision: %s %s", p.Decision.ID, p.Decision.Outcome)
	if p.Decision.RuleID != "" {
		fmt.Fprintf(&b, " by rule %s", p.Decision.RuleID)
	}
	fmt.Fprintf(&b, " of policy %s (%s), audit index %s\n", p.Decision.Policy, p.Decision.PolicyRevision, p.AuditIndex)
	actor := p.Actor
	if actor == "" {
		actor = "an unnamed principal"
	}
	fmt.Fprintf(&b, "action: %s for %s via %s/%s, fingerprint %s\n", p.Kind, actor, p.Host, p.Tool, p.Fingerprint)
	for _, s := range v.Subjects {
		algs := make([]string, 0, len(s.Digest))
		for alg, d := range s.Digest {
			algs = append(algs, alg+":"+d)
		}
		sort.Strings(algs)
		fmt.Fprintf(&b, "subject: %s %s\n", s.Name, strings.Join(algs, " "))
	}
	fmt.Fprintf(&b, "trusted: %s\n", source)
	if _, err := io.WriteString(w, b.String()); err != nil {
		return fmt.Errorf("write output: %w", err)
	}
	return nil
}
