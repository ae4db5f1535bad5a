package mlbom

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cavra-dev/cavra/internal/testenv"
)

// schemaDir is the directory of CycloneDX JSON schemas shipped inside the cyclonedx-go module.
func schemaDir(t *testing.T) string {
	t.Helper()
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "github.com/CycloneDX/cyclonedx-go").Output()
	if err != nil {
		t.Fatalf("locate cyclonedx-go: %v", err)
	}
	dir := filepath.Join(strings.TrimSpace(string(out)), "schema")
	if _, err := os.Stat(filepath.Join(dir, "bom-1.6.schema.json")); err != nil {
		t.Fatalf("CycloneDX 1.6 schema: %v", err)
	}
	return dir
}

// TestBOMMatchesOfficialSchema validates generated BOMs with the official CycloneDX 1.6 JSON
// schema (python jsonschema), and checks that the validator rejects a broken document.
func TestBOMMatchesOfficialSchema(t *testing.T) {
	py, err := exec.LookPath("python3")
	if err != nil {
		testenv.Skip(t, "python3 not installed")
	}
	if out, err := exec.Command(py, "-c", "import jsonschema, referencing").CombinedOutput(); err != nil {
		testenv.Skip(t, "python3 jsonschema not installed: %s", out)
	}
	schemas := schemaDir(t)
	script, err := filepath.Abs(filepath.Join("testdata", "validate_cyclonedx.py"))
	if err != nil {
		t.Fatal(err)
	}
	golden, err := os.ReadFile(filepath.Join("testdata", "bom.golden.json"))
	if err != nil {
		t.Fatal(err)
	}
	bare := generate(t, writeTree(t, "bare", map[string]string{"m.gguf": "GGUF"}), Options{})
	broken := bytes.Replace(golden, []byte(`"id": "Apache-2.0"`), []byte(`"id": "not-an-spdx-id"`), 1)
	for _, tc := range []struct {
		name  string
		doc   []byte
		valid bool
	}{
		{"golden", golden, true},
		{"no metadata files", bare, true},
		{"invalid license id", broken, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "bom.json")
			if err := os.WriteFile(p, tc.doc, 0o644); err != nil {
				t.Fatal(err)
			}
			out, err := exec.Command(py, script, schemas, p).CombinedOutput()
			if tc.valid && err != nil {
				t.Fatalf("schema validation failed: %v\n%s", err, out)
			}
			if !tc.valid && err == nil {
				t.Fatal("validator accepted an invalid BOM")
			}
		})
	}
}
