package audit

import (
	"context"
	"fmt"

	"github.com/cavra-dev/cavra"
	"github.com/cavra-dev/cavra/internal/bundle"
)

// maxExportEntries bounds one bundle; larger exports are split by range.
const maxExportEntries = 1_000_000

// ExportInput gathers entries [from, to) of the log with their inclusion proofs in the tree
// the checkpoint cp commits to, ready for bundle.Build. to is capped at cp.Size.
func (l *Log) ExportInput(ctx context.Context, cp cavra.Checkpoint, from, to uint64, trusted []cavra.KeyInfo) (bundle.Input, error) {
	to = min(to, cp.Size)
	if from >= to {
		return bundle.Input{}, cavra.Errorf(cavra.ErrInvalid, "export: no entries in [%d, %d) under checkpoint %d of size %d", from, to, cp.Seq, cp.Size)
	}
	if to-from > maxExportEntries {
		return bundle.Input{}, cavra.Errorf(cavra.ErrInvalid, "export: %d entries exceed %d per bundle: export a range", to-from, maxExportEntries)
	}
	in := bundle.Input{TreeSize: cp.Size, Checkpoint: cp.Note, Keys: trusted}
	err := l.store.ScanAuditEntries(ctx, from, to, func(e cavra.AuditEntry) error {
		if e.Index != from+uint64(len(in.Entries)) {
			return cavra.Errorf(cavra.ErrInternal, "export: audit entry %d is missing", from+uint64(len(in.Entries)))
		}
		p, err := l.InclusionProof(ctx, e.Index, cp.Size)
		if err != nil {
			return err
		}
		in.Entries = append(in.Entries, bundle.Entry{Index: e.Index, Record: e.Record, InclusionProof: p})
		return nil
	})
	if err != nil {
		return bundle.Input{}, fmt.Errorf("export: %w", err)
	}
	if uint64(len(in.Entries)) != to-from {
		return bundle.Input{}, cavra.Errorf(cavra.ErrInternal, "export: found %d of entries [%d, %d)", len(in.Entries), from, to)
	}
	return in, nil
}
