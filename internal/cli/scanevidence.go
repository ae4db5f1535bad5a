package cli

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"

	"github.com/google/uuid"

	"github.com/cavra-dev/cavra"
	"github.com/cavra-dev/cavra/internal/audit"
	"github.com/cavra-dev/cavra/internal/home"
	"github.com/cavra-dev/cavra/internal/keys"
)

// recordScan appends the scan's results to the data home's audit log: one record per file,
// then the summary. A scan does not create a data home: without a database there it records
// nothing and returns false, so that scanning a download on a machine that never ran cavra
// init leaves no files behind.
func recordScan(ctx context.Context, rt *runtime, targets []string, results []cavra.FileResult) (bool, error) {
	root, err := dataHome(rt)
	if err != nil {
		// No data home can be named (no CAVRA_HOME, no HOME), so none exists.
		return false, nil
	}
	if _, err := os.Stat(home.Layout{Root: root}.DBPath()); errors.Is(err, fs.ErrNotExist) {
		return false, nil
	} else if err != nil {
		return false, fmt.Errorf("record scan evidence: %w", err)
	}
	log, closeLog, err := audit.OpenLocal(ctx, root, rt.logger, keys.WithPKCS11PIN(rt.getenv(pkcs11PINVar)))
	if err != nil {
		return false, fmt.Errorf("record scan evidence: %w", err)
	}
	err = appendScan(ctx, log, newScanID(), targets, results, "cavra "+toolVersion())
	if cerr := closeLog(); err == nil && cerr != nil {
		err = fmt.Errorf("record scan evidence: close the audit log: %w", cerr)
	}
	return err == nil, err
}

// scanAppender is the part of the audit log a scan writes to.
type scanAppender interface {
	Append(ctx context.Context, typ cavra.RecordType, v any) (cavra.AuditEntry, error)
}

// appendScan appends one scan record per result, in order, then the summary. The summary goes
// last so that its presence says every file record before it was written.
func appendScan(ctx context.Context, log scanAppender, scanID string, targets []string, results []cavra.FileResult, scanner string) error {
	for _, r := range results {
		if _, err := log.Append(ctx, cavra.RecordScan, cavra.ScanEvidence{ScanID: scanID, File: withFindings(r)}); err != nil {
			return fmt.Errorf("record scan evidence of %s: %w", r.Path, err)
		}
	}
	if targets == nil {
		targets = []string{}
	}
	sum := cavra.ScanSummaryEvidence{ScanID: scanID, Targets: targets, Summary: cavra.Summarize(results), Scanner: scanner}
	if _, err := log.Append(ctx, cavra.RecordScanSummary, sum); err != nil {
		return fmt.Errorf("record scan evidence summary: %w", err)
	}
	return nil
}

// withFindings gives a result an empty findings list instead of none, so every scan record
// carries the member and a reader need not tell null from [].
func withFindings(r cavra.FileResult) cavra.FileResult {
	if r.Findings == nil {
		r.Findings = []cavra.Finding{}
	}
	return r
}

func newScanID() string {
	id, err := uuid.NewV7()
	if err != nil {
		// NewV7 fails only when the system's random source does; a random v4 is still unique.
		return uuid.NewString()
	}
	return id.String()
}
