package mlbom

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	cdx "github.com/CycloneDX/cyclonedx-go"
)

var update = flag.Bool("update", false, "rewrite golden files")

func writeTree(t *testing.T, name string, files map[string]string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), name)
	for rel, content := range files {
		p := filepath.Join(dir, filepath.FromSlash(rel))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

const readme = `---
license: apache-2.0
language:
- en
- fr
tags:
- text-classification
- bert
datasets:
- imdb
- stanfordnlp/sst2
base_model: google-bert/bert-base-uncased
pipeline_tag: text-classification
library_name: transformers
---
# tiny-bert

A model card body that is not metadata.
`

const config = `{
  "architectures": ["BertForSequenceClassification"],
  "model_type": "bert",
  "torch_dtype": "float32",
  "transformers_version": "4.46.0",
  "hidden_size": 128,
  "num_hidden_layers": 2,
  "vocab_size": 30522
}`

func fixedOptions() Options {
	return Options{
		Now:          func() time.Time { return time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC) },
		SerialNumber: "urn:uuid:3e671687-395b-41f5-a30f-a58921a69b79",
		ToolVersion:  "v0.0.0-test",
	}
}

func generate(t *testing.T, dir string, opts Options) []byte {
	t.Helper()
	doc, err := Generate(context.Background(), dir, opts)
	if err != nil {
		t.Fatalf("Generate: %v", err)
	}
	var buf bytes.Buffer
	if err := doc.WriteJSON(&buf); err != nil {
		t.Fatalf("WriteJSON: %v", err)
	}
	return buf.Bytes()
}

func TestBOMGolden(t *testing.T) {
	dir := writeTree(t, "tiny-bert", map[string]string{
		"README.md":                    readme,
		"config.json":                  config,
		"model.safetensors":            "weights",
		"tokenizer.json":               "{}",
		".gitattributes":               "*.bin filter=lfs",
		"text_encoder/config.json":     `{"model_type":"clip_text_model","architectures":["CLIPTextModel"]}`,
		"text_encoder/model.fp16.onnx": "onnx",
	})
	got := generate(t, dir, fixedOptions())
	golden := filepath.Join("testdata", "bom.golden.json")
	if *update {
		if err := os.WriteFile(golden, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("read golden (run with -update to create): %v", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("BOM differs from %s:\n%s", golden, got)
	}
	checkValid(t, got)
}

// checkValid checks the fields CycloneDX 1.6 requires and the ML-BOM shape CAVRA promises.
func checkValid(t *testing.T, raw []byte) {
	t.Helper()
	var doc struct {
		BOMFormat    string `json:"bomFormat"`
		SpecVersion  string `json:"specVersion"`
		Schema       string `json:"$schema"`
		SerialNumber string `json:"serialNumber"`
		Version      int    `json:"version"`
		Metadata     struct {
			Timestamp string `json:"timestamp"`
		} `json:"metadata"`
		Components []struct {
			BOMRef    string `json:"bom-ref"`
			Type      string `json:"type"`
			Name      string `json:"name"`
			ModelCard *struct {
				ModelParameters struct {
					Datasets []struct {
						Ref string `json:"ref"`
					} `json:"datasets"`
				} `json:"modelParameters"`
				Properties []struct{ Name, Value string } `json:"properties"`
			} `json:"modelCard"`
			Components []struct {
				Type   string `json:"type"`
				Name   string `json:"name"`
				Hashes []struct {
					Alg     string `json:"alg"`
					Content string `json:"content"`
				} `json:"hashes"`
			} `json:"components"`
		} `json:"components"`
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatalf("BOM is not JSON: %v", err)
	}
	if doc.BOMFormat != "CycloneDX" || doc.SpecVersion != "1.6" || doc.Version != 1 {
		t.Errorf("header: bomFormat=%q specVersion=%q version=%d", doc.BOMFormat, doc.SpecVersion, doc.Version)
	}
	if !strings.Contains(doc.Schema, "bom-1.6") {
		t.Errorf("$schema = %q", doc.Schema)
	}
	if !regexp.MustCompile(`^urn:uuid:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`).MatchString(doc.SerialNumber) {
		t.Errorf("serialNumber = %q", doc.SerialNumber)
	}
	if _, err := time.Parse(time.RFC3339, doc.Metadata.Timestamp); err != nil {
		t.Errorf("timestamp: %v", err)
	}
	refs := map[string]bool{}
	models := 0
	for _, c := range doc.Components {
		if c.Type == "" || c.Name == "" {
			t.Errorf("component without type or name: %+v", c)
		}
		if refs[c.BOMRef] {
			t.Errorf("duplicate bom-ref %q", c.BOMRef)
		}
		refs[c.BOMRef] = true
		if c.Type != "machine-learning-model" {
			continue
		}
		models++
		if c.ModelCard == nil {
			t.Errorf("model %s has no modelCard", c.Name)
		}
		for _, f := range c.Components {
			if f.Type != "file" || len(f.Hashes) != 1 || f.Hashes[0].Alg != "SHA-256" || len(f.Hashes[0].Content) != 64 {
				t.Errorf("file component %+v", f)
			}
		}
	}
	if models == 0 {
		t.Error("no machine-learning-model component")
	}
	for _, c := range doc.Components {
		if c.ModelCard == nil {
			continue
		}
		for _, d := range c.ModelCard.ModelParameters.Datasets {
			if !refs[d.Ref] {
				t.Errorf("dataset ref %q names no component", d.Ref)
			}
		}
	}
	// The library must read back what was written (the patched properties aside).
	var bom cdx.BOM
	if err := cdx.NewBOMDecoder(bytes.NewReader(raw), cdx.BOMFileFormatJSON).Decode(&bom); err != nil {
		t.Errorf("cyclonedx-go cannot decode the BOM: %v", err)
	}
}

func TestBOMContent(t *testing.T) {
	dir := writeTree(t, "tiny-bert", map[string]string{"README.md": readme, "config.json": config, "w.safetensors": "x"})
	doc, err := Generate(context.Background(), dir, fixedOptions())
	if err != nil {
		t.Fatal(err)
	}
	comps := *doc.BOM.Components
	if len(comps) != 3 { // the model and two datasets
		t.Fatalf("%d components", len(comps))
	}
	m := comps[0]
	if m.Type != cdx.ComponentTypeMachineLearningModel || m.Name != "tiny-bert" {
		t.Errorf("model component %s %s", m.Type, m.Name)
	}
	p := m.ModelCard.ModelParameters
	if p.Task != "text-classification" || p.ArchitectureFamily != "bert" || p.ModelArchitecture != "BertForSequenceClassification" {
		t.Errorf("model parameters %+v", p)
	}
	if (*m.Licenses)[0].License.ID != "Apache-2.0" {
		t.Errorf("license %+v", (*m.Licenses)[0].License)
	}
	if (*m.Pedigree.Ancestors)[0].Name != "google-bert/bert-base-uncased" {
		t.Errorf("base model %+v", m.Pedigree)
	}
	if comps[1].Name != "imdb" || comps[2].Name != "stanfordnlp/sst2" || comps[1].Type != cdx.ComponentTypeData {
		t.Errorf("datasets %s %s", comps[1].Name, comps[2].Name)
	}
	var out bytes.Buffer
	if err := doc.WriteJSON(&out); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"name": "huggingface:torch_dtype"`, `"value": "float32"`, `"name": "huggingface:hidden_size"`} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("BOM lacks %s", want)
		}
	}
}

func TestBOMWithoutMetadata(t *testing.T) {
	dir := writeTree(t, "bare", map[string]string{"model.gguf": "GGUF"})
	raw := generate(t, dir, Options{})
	checkValid(t, raw)
	a := generate(t, dir, Options{})
	if bytes.Equal(a, raw) {
		t.Error("two BOMs without an injected serial number are identical")
	}
}

func TestBOMErrors(t *testing.T) {
	for _, tc := range []struct {
		name  string
		files map[string]string
		want  string
	}{
		{"bad config", map[string]string{"config.json": "{not json"}, "config.json"},
		{"config array", map[string]string{"config.json": "[1,2]"}, "config.json"},
		{"config trailing data", map[string]string{"config.json": "{} {}"}, "trailing data"},
		{"bad front matter", map[string]string{"README.md": "---\nlicense: [unclosed\n---\n"}, "front matter"},
		{"empty model", map[string]string{".gitattributes": "x"}, "no regular files"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := writeTree(t, "m", tc.files)
			_, err := Generate(context.Background(), dir, fixedOptions())
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error = %v, want it to mention %q", err, tc.want)
			}
		})
	}
}

func TestFrontMatterShapes(t *testing.T) {
	for _, tc := range []struct {
		name, readme string
		license      string
		datasets     []string
	}{
		{"none", "# title\n", "", nil},
		{"scalar dataset", "---\nlicense: mit\ndatasets: squad\n---\n", "mit", []string{"squad"}},
		{"crlf", "---\r\nlicense: mit\r\n---\r\n", "mit", nil},
		{"unterminated", "---\nlicense: mit\n", "", nil},
		{"other license", "---\nlicense: other\nlicense_name: llama3\n---\n", "other", nil},
		{"wrong types", "---\nlicense: {a: b}\ndatasets: {x: 1}\n---\n", "", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var c Card
			if err := c.ParseReadme([]byte(tc.readme)); err != nil {
				t.Fatal(err)
			}
			if c.License != tc.license || strings.Join(c.Datasets, ",") != strings.Join(tc.datasets, ",") {
				t.Errorf("license=%q datasets=%v", c.License, c.Datasets)
			}
		})
	}
}

func TestFrontMatterAliasBombIsRefused(t *testing.T) {
	// A "billion laughs" document: nine levels of nine-fold aliases.
	var b strings.Builder
	b.WriteString("---\na0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n")
	for i := 1; i < 10; i++ {
		p := "*a" + string(rune('0'+i-1))
		b.WriteString("a" + string(rune('0'+i)) + ": &a" + string(rune('0'+i)) + " [" + strings.Repeat(p+", ", 8) + p + "]\n")
	}
	b.WriteString("---\n")
	var c Card
	if err := c.ParseReadme([]byte(b.String())); err == nil {
		t.Fatal("alias bomb accepted")
	}
}
