package scan

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/cavra-dev/cavra"
	"github.com/cavra-dev/cavra/internal/testenv"
)

var update = flag.Bool("update", false, "rewrite golden files")

func scanDir(t *testing.T, s *Scanner, dir string) map[string]cavra.FileResult {
	t.Helper()
	results, err := s.Scan(context.Background(), []string{dir})
	if err != nil {
		t.Fatalf("scan: %v", err)
	}
	byName := map[string]cavra.FileResult{}
	for _, r := range results {
		rel, err := filepath.Rel(dir, r.Path)
		if err != nil {
			t.Fatal(err)
		}
		byName[filepath.ToSlash(rel)] = r
	}
	return byName
}

func ruleIDs(fs []cavra.Finding) []string {
	var ids []string
	for _, f := range fs {
		ids = append(ids, f.RuleID)
	}
	return ids
}

func TestCorpusVerdicts(t *testing.T) {
	dir := t.TempDir()
	samples := corpus(t)
	writeCorpus(t, dir, samples)
	got := scanDir(t, New(Options{}), dir)
	if len(got) != len(samples) {
		t.Fatalf("scanned %d files, want %d", len(got), len(samples))
	}
	for _, s := range samples {
		t.Run(s.name, func(t *testing.T) {
			r, ok := got[s.name]
			if !ok {
				t.Fatalf("no result for %s", s.name)
			}
			if r.Error != "" {
				t.Fatalf("error: %s", r.Error)
			}
			if string(r.Verdict) != s.verdict {
				t.Errorf("verdict %s, want %s; findings: %+v", r.Verdict, s.verdict, r.Findings)
			}
			ids := ruleIDs(r.Findings)
			for _, want := range s.rules {
				if !slices.Contains(ids, want) {
					t.Errorf("missing finding %s; got %v", want, r.Findings)
				}
			}
			if len(r.SHA256) != 64 || r.Size != int64(len(s.data)) {
				t.Errorf("sha256 %q size %d, want a digest and size %d", r.SHA256, r.Size, len(s.data))
			}
		})
	}
}

func TestFormatsDetectedByContent(t *testing.T) {
	dir := t.TempDir()
	samples := corpus(t)
	writeCorpus(t, dir, samples)
	got := scanDir(t, New(Options{}), dir)
	want := map[string]string{
		"pickle/no_extension_p0":              FormatPickle,
		"torch/benign.pt":                     FormatPyTorch,
		"torch/renamed.zip.txt":               FormatPyTorch,
		"torch/legacy.pt":                     FormatPyTorchLegacy,
		"numpy/arrays.npz":                    FormatNPZ,
		"keras/lambda.keras":                  FormatKeras,
		"keras/model.h5":                      FormatKerasH5,
		"tf/saved_model.pb":                   FormatSavedModel,
		"safetensors/good.safetensors":        FormatSafetensors,
		"gguf/good.gguf":                      FormatGGUF,
		"onnx/good.onnx":                      FormatONNX,
		"other/readme.md":                     FormatUnknown,
		"safetensors/bad_offsets.safetensors": FormatSafetensors,
	}
	for name, format := range want {
		if got[name].Format != format {
			t.Errorf("%s: format %q, want %q", name, got[name].Format, format)
		}
	}
}

func TestSHA256MatchesContent(t *testing.T) {
	dir := t.TempDir()
	// A pickle is hashed while it is walked; check the tee path against a plain digest.
	big := cat(pickleBenignData(), bytes.Repeat([]byte{'N', '0'}, 200_000), []byte{'.'})
	for _, tc := range []struct {
		name string
		data []byte
	}{
		{"walked.pkl", big},
		{"plain.bin", bytes.Repeat([]byte("abc"), 1<<20)},
		{"empty", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := filepath.Join(dir, tc.name)
			if err := os.WriteFile(p, tc.data, 0o644); err != nil {
				t.Fatal(err)
			}
			r := New(Options{}).ScanFile(context.Background(), p)
			if want := sha256Hex(tc.data); r.SHA256 != want {
				t.Errorf("sha256 %s, want %s", r.SHA256, want)
			}
		})
	}
}

// relativize rewrites result paths relative to dir so golden output does not depend on t.TempDir.
func relativize(t *testing.T, dir string, rs []cavra.FileResult) {
	t.Helper()
	for i := range rs {
		rel, err := filepath.Rel(dir, rs[i].Path)
		if err != nil {
			t.Fatal(err)
		}
		rs[i].Path = filepath.ToSlash(rel)
	}
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", "golden", name)
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read golden (run with -update to create): %v", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from golden file; run go test -update and review the diff\ngot:\n%s", name, got)
	}
}

func goldenResults(t *testing.T) []cavra.FileResult {
	t.Helper()
	dir := t.TempDir()
	writeCorpus(t, dir, corpus(t))
	rs, err := New(Options{}).Scan(context.Background(), []string{dir})
	if err != nil {
		t.Fatal(err)
	}
	relativize(t, dir, rs)
	return rs
}

func TestJSONGolden(t *testing.T) {
	var buf bytes.Buffer
	if err := WriteJSON(&buf, NewReport(goldenResults(t))); err != nil {
		t.Fatal(err)
	}
	golden(t, "scan.json", buf.Bytes())
}

func TestTableGolden(t *testing.T) {
	var buf bytes.Buffer
	if err := WriteTable(&buf, NewReport(goldenResults(t))); err != nil {
		t.Fatal(err)
	}
	golden(t, "scan.txt", buf.Bytes())
}

func TestSARIFRequiredFields(t *testing.T) {
	rs := goldenResults(t)
	rs = append(rs, cavra.FileResult{Path: "missing.bin", Format: FormatUnknown, Findings: []cavra.Finding{}, Error: "open: no such file"})
	var buf bytes.Buffer
	if err := WriteSARIF(&buf, NewReport(rs), "test"); err != nil {
		t.Fatal(err)
	}
	var log map[string]any
	if err := json.Unmarshal(buf.Bytes(), &log); err != nil {
		t.Fatalf("sarif is not JSON: %v", err)
	}
	if log["version"] != "2.1.0" || log["$schema"] == nil {
		t.Fatalf("version/$schema missing: %v %v", log["version"], log["$schema"])
	}
	runs, _ := log["runs"].([]any)
	if len(runs) != 1 {
		t.Fatalf("runs: %v", runs)
	}
	run := runs[0].(map[string]any)
	driver := run["tool"].(map[string]any)["driver"].(map[string]any)
	if driver["name"] != "cavra" {
		t.Errorf("driver name %v", driver["name"])
	}
	rules := driver["rules"].([]any)
	results := run["results"].([]any)
	if len(results) == 0 {
		t.Fatal("no results")
	}
	levels := map[string]bool{"none": true, "note": true, "warning": true, "error": true}
	for i, r := range results {
		res := r.(map[string]any)
		msg, _ := res["message"].(map[string]any)
		if msg == nil || msg["text"] == "" {
			t.Errorf("result %d has no message.text", i)
		}
		if !levels[res["level"].(string)] {
			t.Errorf("result %d level %v", i, res["level"])
		}
		idx := int(res["ruleIndex"].(float64))
		if idx >= len(rules) || rules[idx].(map[string]any)["id"] != res["ruleId"] {
			t.Errorf("result %d ruleIndex %d does not point at rule %v", i, idx, res["ruleId"])
		}
		locs := res["locations"].([]any)
		uri := locs[0].(map[string]any)["physicalLocation"].(map[string]any)["artifactLocation"].(map[string]any)["uri"]
		if uri == "" {
			t.Errorf("result %d has no artifact uri", i)
		}
	}
	inv := run["invocations"].([]any)[0].(map[string]any)
	if inv["executionSuccessful"] != false || len(inv["toolExecutionNotifications"].([]any)) != 1 {
		t.Errorf("unreadable file not reported as a failed invocation: %v", inv)
	}
}

func TestRulesOverride(t *testing.T) {
	for _, tc := range []struct {
		name       string
		file       string
		module     string
		attr       string
		wantTier   Tier
		wantErrSub string
	}{
		{name: "default dangerous", file: `{}`, module: "os", attr: "system", wantTier: TierDangerous},
		{name: "submodule of dangerous module", file: `{}`, module: "os.path", attr: "join", wantTier: TierDangerous},
		{name: "default safe", file: `{}`, module: "torch._utils", attr: "_rebuild_tensor_v2", wantTier: TierSafe},
		{name: "glob safe", file: `{}`, module: "torch", attr: "HalfStorage", wantTier: TierSafe},
		{name: "unknown", file: `{}`, module: "sklearn.tree", attr: "DecisionTreeClassifier", wantTier: TierSuspicious},
		{name: "allowed by file", file: `{"safe": {"sklearn.tree": ["DecisionTreeClassifier"]}}`, module: "sklearn.tree", attr: "DecisionTreeClassifier", wantTier: TierSafe},
		{name: "dangerous by file", file: `{"dangerous": {"high": {"mylib": ["*"]}}}`, module: "mylib.sub", attr: "x", wantTier: TierDangerous},
		{name: "dangerous wins over safe", file: `{"safe": {"os": ["system"]}}`, module: "os", attr: "system", wantTier: TierDangerous},
		{name: "replace drops built-ins", file: `{"replace": true, "dangerous": {"critical": {"x": ["*"]}}}`, module: "os", attr: "system", wantTier: TierSuspicious},
		{name: "dunder walk", file: `{}`, module: "collections", attr: "OrderedDict.__init__.__globals__", wantTier: TierDangerous},
		{name: "bad severity", file: `{"dangerous": {"urgent": {"x": ["*"]}}}`, wantErrSub: "unknown severity"},
		{name: "unknown field", file: `{"allow": {}}`, wantErrSub: "unknown field"},
		{name: "bad pattern", file: `{"safe": {"x": ["["]}}`, wantErrSub: "bad pattern"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, err := ParseRules([]byte(tc.file))
			if tc.wantErrSub != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErrSub) {
					t.Fatalf("err %v, want one containing %q", err, tc.wantErrSub)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if tier, _ := r.Classify(tc.module, tc.attr); tier != tc.wantTier {
				t.Errorf("tier %d, want %d", tier, tc.wantTier)
			}
		})
	}
}

// TestPythonCorpus writes real pickles with Python's pickle module (serialising only: the
// payload classes are never loaded) across protocols 0-5 and checks every verdict.
func TestPythonCorpus(t *testing.T) {
	py, err := exec.LookPath("python3")
	if err != nil {
		testenv.Skip(t, "python3 not found: skipping the Python-written pickle corpus")
	}
	dir := t.TempDir()
	out, err := exec.Command(py, filepath.Join("testdata", "make_corpus.py"), dir).CombinedOutput()
	if err != nil {
		t.Fatalf("make_corpus.py: %v\n%s", err, out)
	}
	got := scanDir(t, New(Options{}), dir)
	if len(got) < 20 {
		t.Fatalf("corpus script wrote %d files, want at least 20", len(got))
	}
	for name, r := range got {
		want := strings.SplitN(filepath.Base(name), "_", 2)[0]
		t.Run(name, func(t *testing.T) {
			if string(r.Verdict) != want {
				t.Errorf("verdict %s, want %s; findings %+v", r.Verdict, want, r.Findings)
			}
		})
	}
}

func TestScanCancelled(t *testing.T) {
	dir := t.TempDir()
	writeCorpus(t, dir, corpus(t))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := New(Options{}).Scan(ctx, []string{dir}); err == nil {
		t.Fatal("scan of a cancelled context succeeded")
	}
}

func TestScanMissingPath(t *testing.T) {
	_, err := New(Options{}).Scan(context.Background(), []string{filepath.Join(t.TempDir(), "nope")})
	if err == nil {
		t.Fatal("scan of a missing path succeeded")
	}
}

func TestScanFollowsFileSymlinksOnly(t *testing.T) {
	dir := t.TempDir()
	outside := t.TempDir()
	target := filepath.Join(outside, "evil.pkl")
	if err := os.WriteFile(target, pickleOSSystemProto0, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, link := range []struct{ old, new string }{
		{target, filepath.Join(dir, "model.bin")},
		{outside, filepath.Join(dir, "loop")},
		{dir, filepath.Join(dir, "self")},
		{filepath.Join(outside, "gone"), filepath.Join(dir, "dangling")},
	} {
		if err := os.Symlink(link.old, link.new); err != nil {
			t.Skipf("symlinks unsupported: %v", err)
		}
	}
	got := scanDir(t, New(Options{}), dir)
	if len(got) != 1 {
		t.Fatalf("scanned %v, want only model.bin", got)
	}
	if r := got["model.bin"]; r.Verdict != cavra.VerdictMalicious {
		t.Errorf("symlinked pickle: %s %+v", r.Verdict, r.Findings)
	}
	if r := New(Options{}).ScanFile(context.Background(), os.DevNull); r.Error == "" {
		t.Errorf("device scanned as a file: %+v", r)
	}
}
