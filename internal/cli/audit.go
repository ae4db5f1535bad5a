package cli

import (
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/cavra-dev/cavra"
	"github.com/cavra-dev/cavra/internal/audit"
	"github.com/cavra-dev/cavra/internal/bundle"
	"github.com/cavra-dev/cavra/internal/home"
	"github.com/cavra-dev/cavra/internal/keys"
	"github.com/cavra-dev/cavra/verify"
)

// auditFlags are the flags every audit subcommand shares.
type auditFlags struct {
	home   string
	tenant string
}

// open opens the data home's audit log for the chosen tenant, creating the home on first use.
func (f *auditFlags) open(cmd *cobra.Command, rt *runtime) (context.Context, *audit.Log, func() error, error) {
	dir, err := homeDir(rt, f.home)
	if err != nil {
		return nil, nil, nil, err
	}
	ctx := cavra.WithTenant(cmd.Context(), f.tenant)
	l, closeFn, err := audit.OpenLocal(ctx, dir, rt.logger, keys.WithPKCS11PIN(rt.getenv(pkcs11PINVar)))
	if err != nil {
		return nil, nil, nil, withExit(exitUsage, err)
	}
	return ctx, l, closeFn, nil
}

// keyring loads the data home's keyring, creating it on first use.
func (f *auditFlags) keyring(cmd *cobra.Command, rt *runtime) (*keys.Keyring, error) {
	dir, err := homeDir(rt, f.home)
	if err != nil {
		return nil, err
	}
	k, err := keys.Init(cmd.Context(), home.Layout{Root: dir}.KeysDir(), time.Now,
		keys.WithLogger(rt.logger), keys.WithPKCS11PIN(rt.getenv(pkcs11PINVar)))
	if err != nil {
		return nil, withExit(exitUsage, err)
	}
	return k, nil
}

func newAuditCmd(rt *runtime) *cobra.Command {
	flags := &auditFlags{}
	cmd := &cobra.Command{
		Use:   "audit",
		Short: "Inspect, prove, verify and export the signed audit log",
		Long: `The audit log holds every decision as a canonical JSON record in an RFC 6962 Merkle tree,
with signed checkpoints (C2SP signed notes). Each tenant has its own log.`,
	}
	cmd.PersistentFlags().StringVar(&flags.home, "home", "", "data home (default $CAVRA_HOME, else the user's data directory)")
	cmd.PersistentFlags().StringVar(&flags.tenant, "tenant", cavra.DefaultTenant, "tenant whose log to use")
	cmd.AddCommand(
		newAuditVerifyCmd(rt, flags),
		newAuditListCmd(rt, flags),
		newAuditShowCmd(rt, flags),
		newAuditCheckpointCmd(rt, flags),
		newAuditProveCmd(rt, flags),
		newAuditExportCmd(rt, flags),
	)
	return cmd
}

func newAuditVerifyCmd(rt *runtime, flags *auditFlags) *cobra.Command {
	var trustedKeysPath string
	cmd := &cobra.Command{
		Use:   "verify",
		Short: "Check the whole log: records, hashes, tree, checkpoints and signatures",
		Long: `Check the whole log: every record is canonical and in place, every leaf hash and tree node is
recomputed, and every checkpoint is in sequence, signed by a trusted key inside its validity
window, and commits to the entries it covers. Trusted keys are the data home's keyring unless
--trusted-keys names a file (the output of cavra keys list --json, or a keyring.json).

Exit status: 0 the log verifies, 1 it does not (the first bad entry is named), 2 usage or I/O error.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var trusted []cavra.KeyInfo
			if trustedKeysPath != "" {
				data, err := readLimited(rt, trustedKeysPath)
				if err != nil {
					return withExit(exitUsage, fmt.Errorf("read trusted keys: %w", err))
				}
				vks, err := verify.ParseKeys(data)
				if err != nil {
					return withExit(exitUsage, fmt.Errorf("trusted keys %s: %w", trustedKeysPath, err))
				}
				for _, k := range vks {
					trusted = append(trusted, cavra.KeyInfo{ID: k.ID, Algorithm: k.Algorithm, PublicKey: k.PublicKey,
						Status: cavra.KeyStatus(k.Status), NotBefore: k.NotBefore, NotAfter: k.NotAfter, RevokedAt: k.RevokedAt, Custody: k.Custody})
				}
			} else {
				kr, err := flags.keyring(cmd, rt)
				if err != nil {
					return err
				}
				trusted = kr.Keys()
			}
			ctx, l, closeFn, err := flags.open(cmd, rt)
			if err != nil {
				return err
			}
			defer closeFn()
			rep, err := l.Verify(ctx, trusted)
			var ve *audit.VerifyError
			if errors.As(err, &ve) {
				return withExit(exitFailure, fmt.Errorf("verification failed: %w", err))
			}
			if err != nil {
				return withExit(exitUsage, err)
			}
			_, err = fmt.Fprintf(rt.stdout, "ok: %d entries, %d checkpoints, %d entries signed, root %s (%s)\n",
				rep.Size, rep.Checkpoints, rep.SignedSize, base64.StdEncoding.EncodeToString(rep.RootHash), rep.Elapsed.Round(time.Millisecond))
			return err
		},
	}
	cmd.Flags().StringVar(&trustedKeysPath, "trusted-keys", "", "file of keys to trust (default: the data home's keyring)")
	return cmd
}

// entrySummary is one line of cavra audit list.
type entrySummary struct {
	Index     uint64           `json:"index"`
	ID        string           `json:"id"`
	Time      time.Time        `json:"time"`
	Type      cavra.RecordType `json:"type"`
	Workspace string           `json:"workspace"`
	Outcome   cavra.Outcome    `json:"outcome,omitempty"`
	Kind      cavra.Kind       `json:"kind,omitempty"`
	RuleID    string           `json:"rule_id,omitempty"`
	// Verdict and Subject summarise the other record types: a scanned file's verdict and path,
	// an MCP result's handling and server/tool, a scan's counts and targets.
	Verdict string `json:"verdict,omitempty"`
	Subject string `json:"subject,omitempty"`
}

func summarise(e cavra.AuditEntry) entrySummary {
	s := entrySummary{Index: e.Index, ID: e.ID, Time: e.Time, Type: e.Type, Workspace: e.Workspace}
	switch e.Type {
	case cavra.RecordDecision:
		var rec struct {
			Body cavra.DecisionEvidence `json:"body"`
		}
		if json.Unmarshal(e.Record, &rec) == nil {
			s.Outcome, s.Kind, s.RuleID = rec.Body.Decision.Outcome, rec.Body.Action.Kind, rec.Body.Decision.RuleID
		}
	case cavra.RecordScan:
		var rec struct {
			Body cavra.ScanEvidence `json:"body"`
		}
		if json.Unmarshal(e.Record, &rec) == nil {
			s.Verdict, s.Subject = string(rec.Body.File.Verdict), rec.Body.File.Path
		}
	case cavra.RecordScanSummary:
		var rec struct {
			Body cavra.ScanSummaryEvidence `json:"body"`
		}
		if json.Unmarshal(e.Record, &rec) == nil {
			sum := rec.Body.Summary
			s.Verdict = fmt.Sprintf("%d malicious, %d suspicious", sum.Malicious, sum.Suspicious)
			s.Subject = strings.Join(rec.Body.Targets, " ")
		}
	case cavra.RecordMCPResult:
		var rec struct {
			Body struct {
				Server   string `json:"server"`
				Tool     string `json:"tool"`
				Handling string `json:"handling"`
			} `json:"body"`
		}
		if json.Unmarshal(e.Record, &rec) == nil {
			s.Verdict, s.Subject = rec.Body.Handling, rec.Body.Server+"/"+rec.Body.Tool
		}
	}
	return s
}

func newAuditListCmd(rt *runtime, flags *auditFlags) *cobra.Command {
	var (
		limit  uint64
		from   int64
		asJSON bool
	)
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List audit entries, newest last",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if limit == 0 {
				return usageError("--limit must be positive")
			}
			ctx, l, closeFn, err := flags.open(cmd, rt)
			if err != nil {
				return err
			}
			defer closeFn()
			head, err := l.Head(ctx)
			if err != nil {
				return withExit(exitUsage, err)
			}
			start := uint64(0)
			switch {
			case from >= 0:
				start = uint64(from)
			case head.Size > limit:
				start = head.Size - limit
			}
			var out []entrySummary
			err = l.Store().ScanAuditEntries(ctx, start, start+limit, func(e cavra.AuditEntry) error {
				out = append(out, summarise(e))
				return nil
			})
			if err != nil {
				return withExit(exitUsage, err)
			}
			if asJSON {
				enc := json.NewEncoder(rt.stdout)
				enc.SetIndent("", "  ")
				if out == nil {
					out = []entrySummary{}
				}
				return enc.Encode(out)
			}
			tw := tabwriter.NewWriter(rt.stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "INDEX\tTIME\tTYPE\tOUTCOME\tKIND\tRULE\tWORKSPACE\tID")
			for _, s := range out {
				outcome, rule := string(s.Outcome), s.RuleID
				if outcome == "" {
					outcome, rule = s.Verdict, s.Subject
				}
				fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", s.Index, s.Time.Format(time.RFC3339), s.Type, outcome,
					s.Kind, rule, s.Workspace, s.ID)
			}
			return tw.Flush()
		},
	}
	cmd.Flags().Uint64Var(&limit, "limit", 50, "how many entries to list")
	cmd.Flags().Int64Var(&from, "from", -1, "first index to list (default: the last --limit entries)")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

func newAuditShowCmd(rt *runtime, flags *auditFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "show ID|INDEX",
		Short: "Print one audit entry: its record and leaf hash",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx, l, closeFn, err := flags.open(cmd, rt)
			if err != nil {
				return err
			}
			defer closeFn()
			var e cavra.AuditEntry
			if idx, perr := strconv.ParseUint(args[0], 10, 64); perr == nil {
				e, err = l.Entry(ctx, idx)
			} else {
				e, err = l.EntryByID(ctx, args[0])
			}
			if cavra.Code(err) == cavra.ErrNotFound {
				return withExit(exitFailure, fmt.Errorf("no audit entry %q in tenant %s", args[0], flags.tenant))
			}
			if err != nil {
				return withExit(exitUsage, err)
			}
			out := struct {
				Index    uint64          `json:"index"`
				LeafHash string          `json:"leaf_hash"`
				Record   json.RawMessage `json:"record"`
			}{e.Index, hex.EncodeToString(e.LeafHash), e.Record}
			enc := json.NewEncoder(rt.stdout)
			enc.SetIndent("", "  ")
			return enc.Encode(out)
		},
	}
}

func newAuditCheckpointCmd(rt *runtime, flags *auditFlags) *cobra.Command {
	var cut bool
	cmd := &cobra.Command{
		Use:   "checkpoint",
		Short: "Print the latest signed checkpoint, or cut a new one with --cut",
		Long: `Print the latest signed checkpoint (a C2SP signed note: origin, tree size, root hash, signing
time, signature). With --cut, first sign a checkpoint of the whole log if it has grown since the
latest one.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, l, closeFn, err := flags.open(cmd, rt)
			if err != nil {
				return err
			}
			defer closeFn()
			var cp cavra.Checkpoint
			if cut {
				cp, err = l.Checkpoint(ctx)
			} else {
				cp, err = l.Store().LatestCheckpoint(ctx)
				if cavra.Code(err) == cavra.ErrNotFound {
					return withExit(exitFailure, errors.New("no checkpoint yet: cut one with cavra audit checkpoint --cut"))
				}
			}
			if err != nil {
				return withExit(exitUsage, err)
			}
			_, err = rt.stdout.Write(cp.Note)
			return err
		},
	}
	cmd.Flags().BoolVar(&cut, "cut", false, "sign a new checkpoint if the log has grown")
	return cmd
}

func newAuditProveCmd(rt *runtime, flags *auditFlags) *cobra.Command {
	var size uint64
	cmd := &cobra.Command{
		Use:   "prove INDEX",
		Short: "Print an inclusion proof of an entry against the latest checkpoint",
		Long: `Print an RFC 6962 inclusion proof of entry INDEX in the tree of the latest checkpoint (or of
--size entries), with the record, the leaf hash and the checkpoint note, as JSON. The proof is
checked against the tree's root before it is printed.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			idx, err := strconv.ParseUint(args[0], 10, 64)
			if err != nil {
				return usageError("INDEX must be a non-negative integer, not %q", args[0])
			}
			ctx, l, closeFn, err := flags.open(cmd, rt)
			if err != nil {
				return err
			}
			defer closeFn()
			var note []byte
			var root []byte
			if size == 0 {
				cp, err := l.Store().LatestCheckpoint(ctx)
				if cavra.Code(err) == cavra.ErrNotFound {
					return withExit(exitFailure, errors.New("no checkpoint yet: cut one with cavra audit checkpoint --cut, or pass --size"))
				}
				if err != nil {
					return withExit(exitUsage, err)
				}
				size, note, root = cp.Size, cp.Note, cp.RootHash
				if idx >= size {
					return withExit(exitFailure, fmt.Errorf("entry %d is not covered by the latest checkpoint (size %d): cut one with cavra audit checkpoint --cut", idx, size))
				}
			}
			e, err := l.Entry(ctx, idx)
			if err != nil {
				return withExit(exitFailure, err)
			}
			p, err := l.InclusionProof(ctx, idx, size)
			if err != nil {
				return withExit(exitFailure, err)
			}
			if root != nil {
				if err := audit.VerifyInclusion(e.Record, idx, size, p, root); err != nil {
					return withExit(exitFailure, fmt.Errorf("proof of entry %d does not verify against the checkpoint: %w", idx, err))
				}
			}
			out := struct {
				Index      uint64          `json:"index"`
				TreeSize   uint64          `json:"tree_size"`
				LeafHash   []byte          `json:"leaf_hash"`
				Proof      [][]byte        `json:"inclusion_proof"`
				Record     json.RawMessage `json:"record"`
				Checkpoint string          `json:"checkpoint,omitempty"`
			}{idx, size, e.LeafHash, p, e.Record, string(note)}
			enc := json.NewEncoder(rt.stdout)
			enc.SetIndent("", "  ")
			return enc.Encode(out)
		},
	}
	cmd.Flags().Uint64Var(&size, "size", 0, "tree size to prove against (default: the latest checkpoint's)")
	return cmd
}

func newAuditExportCmd(rt *runtime, flags *auditFlags) *cobra.Command {
	var (
		outPath  string
		from, to uint64
	)
	cmd := &cobra.Command{
		Use:   "export -o BUNDLE",
		Short: "Write an evidence bundle that cavra verify checks offline",
		Long: `Write an evidence bundle: the records of entries [--from, --to) (default: all), each with its
inclusion proof, a checkpoint of the whole log (cut now if the log has grown), the keyring's keys
with their windows and revocations, and a DSSE-signed in-toto statement over all of it.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if outPath == "" {
				return usageError("-o BUNDLE is required")
			}
			kr, err := flags.keyring(cmd, rt)
			if err != nil {
				return err
			}
			ctx, l, closeFn, err := flags.open(cmd, rt)
			if err != nil {
				return err
			}
			defer closeFn()
			cp, err := l.Checkpoint(ctx)
			if err != nil {
				return withExit(exitUsage, err)
			}
			if to == 0 {
				to = cp.Size
			}
			in, err := l.ExportInput(ctx, cp, from, to, kr.Keys())
			if err != nil {
				return withExit(exitUsage, err)
			}
			signer, err := kr.Active(ctx)
			if err != nil {
				return withExit(exitUsage, err)
			}
			data, err := bundle.Build(ctx, signer, in)
			if err != nil {
				return withExit(exitUsage, err)
			}
			if err := os.WriteFile(outPath, data, 0o644); err != nil {
				return withExit(exitUsage, fmt.Errorf("write bundle: %w", err))
			}
			_, err = fmt.Fprintf(rt.stdout, "wrote %s: %d entries, checkpoint %d (tree size %d)\n", outPath, len(in.Entries), cp.Seq, cp.Size)
			return err
		},
	}
	cmd.Flags().StringVarP(&outPath, "output", "o", "", "bundle file to write")
	cmd.Flags().Uint64Var(&from, "from", 0, "first entry index")
	cmd.Flags().Uint64Var(&to, "to", 0, "entry index to stop before (default: the end of the log)")
	return cmd
}
