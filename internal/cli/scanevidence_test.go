package cli

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cavra-dev/cavra"
	"github.com/cavra-dev/cavra/internal/audit"
	"github.com/cavra-dev/cavra/verify"
)

var updateScanEvidenceGolden = flag.Bool("update-scan-evidence", false, "rewrite testdata/scanevidence/records.golden.jsonl")

// auditRecord is one audit entry of a given type with its body decoded.
type auditRecord[T any] struct {
	Index uint64
	Body  T
}

// readRecordsAt reads every audit entry of type typ in the data home's default tenant, in log
// order, decoding each record's body into T.
func readRecordsAt[T any](t *testing.T, root string, typ cavra.RecordType) []auditRecord[T] {
	t.Helper()
	ctx := context.Background()
	log, closeLog, err := audit.OpenLocal(ctx, root, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer closeLog()
	head, err := log.Head(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var out []auditRecord[T]
	err = log.Store().ScanAuditEntries(ctx, 0, head.Size, func(e cavra.AuditEntry) error {
		if e.Type != typ {
			return nil
		}
		rec, err := audit.ParseRecord(e.Record)
		if err != nil {
			return err
		}
		var body T
		dec := json.NewDecoder(bytes.NewReader(rec.Body))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&body); err != nil {
			return err
		}
		out = append(out, auditRecord[T]{Index: e.Index, Body: body})
		return nil
	})
	if err != nil {
		t.Fatalf("read %s records: %v", typ, err)
	}
	return out
}

// readRecords reads the bodies of the audit records of type typ, in log order.
func readRecords[T any](t *testing.T, root string, typ cavra.RecordType) []T {
	t.Helper()
	var out []T
	for _, r := range readRecordsAt[T](t, root, typ) {
		out = append(out, r.Body)
	}
	return out
}

func sha256Hex(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

func TestScanRecordsEvidence(t *testing.T) {
	home := filepath.Join(t.TempDir(), "home")
	env := map[string]string{"CAVRA_HOME": home}
	if r := runEvidenceCLI(t, env, "init"); r.code != exitOK {
		t.Fatalf("init: %+v", r)
	}
	dir := writeFiles(t, map[string]string{"evil.pkl": maliciousPickle, "list.pkl": benignPickle})

	r := runCLI(t, env, "", "scan", "--format", "json", dir)
	if r.code != exitFailure {
		t.Fatalf("scan exit %d, want 1 (malicious file): %+v", r.code, r)
	}

	files := readRecordsAt[cavra.ScanEvidence](t, home, cavra.RecordScan)
	if len(files) != 2 {
		t.Fatalf("audit log has %d scan records, want one per file (2)", len(files))
	}
	want := map[string]struct {
		content string
		verdict cavra.Verdict
	}{
		filepath.Join(dir, "evil.pkl"): {maliciousPickle, cavra.VerdictMalicious},
		filepath.Join(dir, "list.pkl"): {benignPickle, cavra.VerdictClean},
	}
	scanID := files[0].Body.ScanID
	for _, f := range files {
		got := f.Body.File
		w, ok := want[got.Path]
		if !ok {
			t.Errorf("scan record for unexpected path %q", got.Path)
			continue
		}
		if f.Body.ScanID == "" || f.Body.ScanID != scanID {
			t.Errorf("%s: scan id %q, want the scan's one id %q", got.Path, f.Body.ScanID, scanID)
		}
		if got.SHA256 != sha256Hex(w.content) || got.Size != int64(len(w.content)) || got.Format != "pickle" || got.Verdict != w.verdict {
			t.Errorf("%s: record %+v, want sha256 %s size %d verdict %s", got.Path, got, sha256Hex(w.content), len(w.content), w.verdict)
		}
		if w.verdict == cavra.VerdictMalicious && len(got.Findings) == 0 {
			t.Errorf("%s: malicious file recorded without findings", got.Path)
		}
		delete(want, got.Path)
	}

	sums := readRecordsAt[cavra.ScanSummaryEvidence](t, home, cavra.RecordScanSummary)
	if len(sums) != 1 {
		t.Fatalf("audit log has %d scan summaries, want 1", len(sums))
	}
	sum := sums[0]
	if sum.Body.ScanID != scanID || sum.Body.Summary.Files != 2 || sum.Body.Summary.Malicious != 1 || sum.Body.Summary.Clean != 1 ||
		len(sum.Body.Targets) != 1 || sum.Body.Targets[0] != dir || !strings.HasPrefix(sum.Body.Scanner, "cavra ") {
		t.Errorf("summary record %+v", sum.Body)
	}
	for _, f := range files {
		if f.Index > sum.Index {
			t.Errorf("file record %d after the summary %d: the summary must close the scan", f.Index, sum.Index)
		}
	}

	t.Run("records hold no file content", func(t *testing.T) {
		ctx := context.Background()
		log, closeLog, err := audit.OpenLocal(ctx, home, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer closeLog()
		for i := range uint64(3) {
			e, err := log.Entry(ctx, i)
			if err != nil {
				t.Fatal(err)
			}
			// The pickle's argument is data of the file, not a fact about it.
			if bytes.Contains(e.Record, []byte("echo pwned")) {
				t.Errorf("entry %d carries file content: %s", i, e.Record)
			}
		}
	})

	t.Run("audit list shows the scan", func(t *testing.T) {
		r := runEvidenceCLI(t, env, "audit", "list")
		if r.code != exitOK || strings.Count(r.stdout, " scan ") != 2 || !strings.Contains(r.stdout, " scan_summary ") {
			t.Errorf("audit list: %+v", r)
		}
	})

	t.Run("audit verify passes", func(t *testing.T) {
		if r := runEvidenceCLI(t, env, "audit", "verify"); r.code != exitOK || !strings.Contains(r.stdout, "ok: 3 entries") {
			t.Errorf("audit verify: %+v", r)
		}
	})

	t.Run("exported bundle verifies offline", func(t *testing.T) {
		out := filepath.Join(t.TempDir(), "bundle.json")
		if r := runEvidenceCLI(t, env, "audit", "export", "-o", out); r.code != exitOK {
			t.Fatalf("export: %+v", r)
		}
		data, err := os.ReadFile(out)
		if err != nil {
			t.Fatal(err)
		}
		keysFile, err := os.ReadFile(filepath.Join(home, "keys", "keyring.json"))
		if err != nil {
			t.Fatal(err)
		}
		trusted, err := verify.ParseKeys(keysFile)
		if err != nil {
			t.Fatal(err)
		}
		res, err := verify.Check(data, verify.Options{TrustedKeys: trusted})
		if err != nil {
			t.Fatalf("offline verify of a bundle with scan records: %v", err)
		}
		if res.Entries != 3 {
			t.Errorf("bundle has %d entries, want 3", res.Entries)
		}
	})
}

func TestScanEvidenceOnlyInAnExistingHome(t *testing.T) {
	dir := writeFiles(t, map[string]string{"evil.pkl": maliciousPickle})
	initialised := func(t *testing.T) string {
		t.Helper()
		home := filepath.Join(t.TempDir(), "home")
		if r := runEvidenceCLI(t, map[string]string{"CAVRA_HOME": home}, "init"); r.code != exitOK {
			t.Fatalf("init: %+v", r)
		}
		return home
	}
	for _, tc := range []struct {
		name        string
		home        func(t *testing.T) string
		args        []string
		wantCode    int
		wantDB      bool
		wantRecords int
	}{
		{name: "no data home: none is created", home: func(t *testing.T) string { return filepath.Join(t.TempDir(), "absent") },
			wantCode: exitFailure},
		{name: "directory without a database: none is created", home: func(t *testing.T) string { return t.TempDir() },
			wantCode: exitFailure},
		{name: "initialised home records", home: initialised, wantCode: exitFailure, wantDB: true, wantRecords: 2},
		{name: "--no-evidence records nothing", home: initialised, args: []string{"--no-evidence"}, wantCode: exitFailure, wantDB: true},
		{name: "unreadable database fails the scan", home: func(t *testing.T) string {
			home := t.TempDir()
			if err := os.WriteFile(filepath.Join(home, "cavra.db"), []byte("not a database, but long enough to have a header"), 0o600); err != nil {
				t.Fatal(err)
			}
			return home
		}, wantCode: exitUsage, wantDB: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			home := tc.home(t)
			r := runCLI(t, map[string]string{"CAVRA_HOME": home}, "", append(append([]string{"scan"}, tc.args...), dir)...)
			if r.code != tc.wantCode {
				t.Fatalf("exit %d, want %d: %+v", r.code, tc.wantCode, r)
			}
			_, err := os.Stat(filepath.Join(home, "cavra.db"))
			if gotDB := err == nil; gotDB != tc.wantDB {
				t.Fatalf("database exists = %v, want %v (%v)", gotDB, tc.wantDB, err)
			}
			if tc.wantCode == exitUsage {
				if !strings.Contains(r.stderr, "record scan evidence") {
					t.Errorf("stderr lacks the evidence error: %s", r.stderr)
				}
				return
			}
			if !tc.wantDB {
				return
			}
			n := len(readRecords[cavra.ScanEvidence](t, home, cavra.RecordScan)) + len(readRecords[cavra.ScanSummaryEvidence](t, home, cavra.RecordScanSummary))
			if n != tc.wantRecords {
				t.Errorf("%d scan records, want %d", n, tc.wantRecords)
			}
		})
	}
}

// appendedRecord is what a fake audit log was asked to append, as canonical JSON.
type appendedRecord struct {
	Type cavra.RecordType `json:"type"`
	Body json.RawMessage  `json:"body"`
}

// fakeAppender keeps what is appended and fails the append numbered failAt (from 1).
type fakeAppender struct {
	t       *testing.T
	failAt  int
	records []appendedRecord
}

func (f *fakeAppender) Append(_ context.Context, typ cavra.RecordType, v any) (cavra.AuditEntry, error) {
	if len(f.records)+1 == f.failAt {
		return cavra.AuditEntry{}, errors.New("disk full")
	}
	body, err := audit.MarshalCanonical(v)
	if err != nil {
		f.t.Fatalf("body of %s is not canonical JSON: %v", typ, err)
	}
	f.records = append(f.records, appendedRecord{Type: typ, Body: body})
	return cavra.AuditEntry{Index: uint64(len(f.records) - 1)}, nil
}

func scanResultsForGolden() []cavra.FileResult {
	return []cavra.FileResult{
		{Path: "/models/evil.pkl", Format: "pickle", SHA256: sha256Hex(maliciousPickle), Size: int64(len(maliciousPickle)),
			Verdict: cavra.VerdictMalicious, Findings: []cavra.Finding{{RuleID: "pickle.dangerous-import", Severity: cavra.SeverityCritical,
				Detail: "imports os.system", Location: "offset 0"}}},
		{Path: "/models/list.pkl", Format: "pickle", SHA256: sha256Hex(benignPickle), Size: int64(len(benignPickle)), Verdict: cavra.VerdictClean},
		{Path: "/models/gone.bin", Error: "open /models/gone.bin: permission denied"},
	}
}

func TestAppendScanRecordFormat(t *testing.T) {
	f := &fakeAppender{t: t}
	if err := appendScan(context.Background(), f, "scan-1", []string{"/models"}, scanResultsForGolden(), "cavra test"); err != nil {
		t.Fatal(err)
	}
	var got bytes.Buffer
	for _, r := range f.records {
		line, err := json.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		got.Write(append(line, '\n'))
	}
	golden := filepath.Join("testdata", "scanevidence", "records.golden.jsonl")
	if *updateScanEvidenceGolden {
		if err := os.MkdirAll(filepath.Dir(golden), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(golden, got.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run with -update-scan-evidence to create it)", err)
	}
	if !bytes.Equal(got.Bytes(), want) {
		t.Errorf("scan records differ from %s:\ngot:\n%s\nwant:\n%s", golden, got.Bytes(), want)
	}
}

func TestAppendScanStopsAtTheFirstFailure(t *testing.T) {
	results := scanResultsForGolden()
	for _, tc := range []struct {
		name      string
		failAt    int
		wantKept  int
		wantError string
	}{
		{name: "first file", failAt: 1, wantKept: 0, wantError: "record scan evidence of /models/evil.pkl: disk full"},
		{name: "last file", failAt: 3, wantKept: 2, wantError: "record scan evidence of /models/gone.bin: disk full"},
		{name: "summary", failAt: 4, wantKept: 3, wantError: "record scan evidence summary: disk full"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := &fakeAppender{t: t, failAt: tc.failAt}
			err := appendScan(context.Background(), f, "scan-1", []string{"/models"}, results, "cavra test")
			if err == nil || err.Error() != tc.wantError {
				t.Fatalf("error %v, want %q", err, tc.wantError)
			}
			if len(f.records) != tc.wantKept {
				t.Errorf("%d records appended, want %d", len(f.records), tc.wantKept)
			}
			for _, r := range f.records {
				if r.Type == cavra.RecordScanSummary {
					t.Errorf("a summary was appended after a failed file record")
				}
			}
		})
	}
}

// BenchmarkScanEvidence measures recording a 100-file scan in a local audit log on disk, as
// cavra scan does after scanning, and reports the cost per file record.
func BenchmarkScanEvidence(b *testing.B) {
	const files = 100
	ctx := context.Background()
	log, closeLog, err := audit.OpenLocal(ctx, b.TempDir(), nil)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { closeLog() })
	results := make([]cavra.FileResult, files)
	for i := range results {
		results[i] = cavra.FileResult{Path: fmt.Sprintf("/models/shard-%03d.pkl", i), Format: "pickle",
			SHA256: sha256Hex(fmt.Sprint(i)), Size: 1 << 20, Verdict: cavra.VerdictClean, Findings: []cavra.Finding{}}
	}
	for b.Loop() {
		if err := appendScan(ctx, log, newScanID(), []string{"/models"}, results, "cavra bench"); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N*(files+1)), "µs/record")
}
