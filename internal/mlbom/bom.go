// Package mlbom writes a CycloneDX 1.6 ML-BOM for a model directory: one
// machine-learning-model component per model (the directory itself, and every subdirectory with
// its own config.json, as in diffusers pipelines), the SHA-256 of each of its files, a model card
// from config.json and the README.md front matter, and a data component per declared dataset.
// Nothing is loaded or executed: metadata files are parsed as JSON and YAML with size limits.
package mlbom

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"path"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	cdx "github.com/CycloneDX/cyclonedx-go"

	"github.com/cavra-dev/cavra/internal/modelsign"
)

// Options makes BOM generation reproducible.
type Options struct {
	// Now stamps metadata.timestamp; nil means time.Now.
	Now func() time.Time
	// SerialNumber is the BOM's urn:uuid; empty means a fresh random one.
	SerialNumber string
	// ToolVersion is the cavra version recorded in metadata.tools.
	ToolVersion string
	// IgnorePaths are left out of the BOM (relative to the directory); git metadata always is.
	IgnorePaths []string
}

// Document is a generated BOM plus the model-card properties cyclonedx-go cannot carry.
type Document struct {
	BOM *cdx.BOM
	// cardProperties maps a modelCard bom-ref to the properties to add to that card.
	cardProperties map[string][]cdx.Property
}

type modelRoot struct {
	rel   string // "." for the top directory
	card  Card
	files []modelsign.Resource
	sizes map[string]int64
}

// Generate builds the ML-BOM of the model directory dir.
func Generate(ctx context.Context, dir string, opts Options) (*Document, error) {
	absDir, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("resolve model directory: %w", err)
	}
	m, err := modelsign.HashDir(ctx, absDir, modelsign.HashOptions{IgnorePaths: opts.IgnorePaths, IgnoreGitPaths: true})
	if err != nil {
		return nil, fmt.Errorf("hash model files: %w", err)
	}

	// Model roots: the directory itself and every subdirectory holding its own config.json.
	roots := map[string]*modelRoot{".": {rel: "."}}
	for _, r := range m.Resources {
		if path.Base(r.Name) == "config.json" && path.Dir(r.Name) != "." {
			roots[path.Dir(r.Name)] = &modelRoot{rel: path.Dir(r.Name)}
		}
	}
	for _, r := range m.Resources {
		owner := roots[ownerRoot(r.Name, roots)]
		owner.files = append(owner.files, r)
	}
	rootNames := make([]string, 0, len(roots))
	for name, root := range roots {
		rootNames = append(rootNames, name)
		base := filepath.Join(absDir, filepath.FromSlash(name))
		if err := readCard(base, &root.card); err != nil {
			return nil, fmt.Errorf("model %s: %w", name, err)
		}
		root.sizes = map[string]int64{}
		for _, f := range root.files {
			info, err := os.Stat(filepath.Join(absDir, filepath.FromSlash(f.Name)))
			if err != nil {
				return nil, fmt.Errorf("stat %s: %w", f.Name, err)
			}
			root.sizes[f.Name] = info.Size()
		}
	}
	sort.Strings(rootNames)

	serial := opts.SerialNumber
	if serial == "" {
		serial, err = newSerial()
		if err != nil {
			return nil, err
		}
	}
	now := time.Now
	if opts.Now != nil {
		now = opts.Now
	}
	version := opts.ToolVersion
	if version == "" {
		version = "(devel)"
	}

	bom := cdx.NewBOM()
	bom.SerialNumber = serial
	bom.Metadata = &cdx.Metadata{
		Timestamp: now().UTC().Format(time.RFC3339),
		Tools: &cdx.ToolsChoice{Components: &[]cdx.Component{{
			Type: cdx.ComponentTypeApplication, Name: "cavra", Version: version,
		}}},
	}
	doc := &Document{BOM: bom, cardProperties: map[string][]cdx.Property{}}
	topName := filepath.Base(absDir)
	var components []cdx.Component
	datasets := map[string]bool{}
	for _, name := range rootNames {
		root := roots[name]
		modelName := topName
		if name != "." {
			modelName = topName + "/" + name
		}
		c, props := modelComponent(modelName, root)
		doc.cardProperties[c.ModelCard.BOMRef] = props
		components = append(components, c)
		for _, d := range root.card.Datasets {
			datasets[d] = true
		}
	}
	for _, d := range slices.Sorted(maps.Keys(datasets)) {
		components = append(components, cdx.Component{
			BOMRef: datasetRef(d),
			Type:   cdx.ComponentTypeData,
			Name:   d,
			Data:   &[]cdx.ComponentData{{Type: cdx.ComponentDataTypeDataset, Name: d}},
		})
	}
	bom.Components = &components
	return doc, nil
}

// ownerRoot is the deepest model root that contains the file name.
func ownerRoot(name string, roots map[string]*modelRoot) string {
	for dir := path.Dir(name); dir != "."; dir = path.Dir(dir) {
		if _, ok := roots[dir]; ok {
			return dir
		}
	}
	return "."
}

func readCard(dir string, card *Card) error {
	if data, err := readLimited(filepath.Join(dir, "README.md"), maxReadmeSize); err == nil {
		if err := card.ParseReadme(data); err != nil {
			return err
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	if data, err := readLimited(filepath.Join(dir, "config.json"), maxConfigSize); err == nil {
		if err := card.ParseConfig(data); err != nil {
			return err
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}

func readLimited(p string, limit int64) ([]byte, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", filepath.Base(p), err)
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("%s is larger than %d bytes", filepath.Base(p), limit)
	}
	return data, nil
}

func datasetRef(name string) string { return "dataset:" + name }

func modelComponent(name string, root *modelRoot) (cdx.Component, []cdx.Property) {
	card := root.card
	c := cdx.Component{
		BOMRef: "model:" + name,
		Type:   cdx.ComponentTypeMachineLearningModel,
		Name:   name,
	}
	if lic := license(card); lic != nil {
		c.Licenses = &cdx.Licenses{*lic}
	}
	if len(card.Tags) > 0 {
		tags := slices.Clone(card.Tags)
		c.Tags = &tags
	}
	if len(card.BaseModels) > 0 {
		var ancestors []cdx.Component
		for _, b := range card.BaseModels {
			ancestors = append(ancestors, cdx.Component{Type: cdx.ComponentTypeMachineLearningModel, Name: b})
		}
		c.Pedigree = &cdx.Pedigree{Ancestors: &ancestors}
	}

	params := &cdx.MLModelParameters{Task: card.PipelineTag, ArchitectureFamily: card.ModelType}
	if len(card.Architectures) > 0 {
		params.ModelArchitecture = card.Architectures[0]
	}
	if len(card.Datasets) > 0 {
		var ds []cdx.MLDatasetChoice
		for _, d := range card.Datasets {
			ds = append(ds, cdx.MLDatasetChoice{Ref: datasetRef(d)})
		}
		params.Datasets = &ds
	}
	c.ModelCard = &cdx.MLModelCard{BOMRef: "model-card:" + name, ModelParameters: params}

	var files []cdx.Component
	var total int64
	for _, f := range root.files {
		size := root.sizes[f.Name]
		total += size
		files = append(files, cdx.Component{
			BOMRef:     "file:" + name + ":" + f.Name,
			Type:       cdx.ComponentTypeFile,
			Name:       f.Name,
			Hashes:     &[]cdx.Hash{{Algorithm: cdx.HashAlgoSHA256, Value: f.Digest}},
			Properties: &[]cdx.Property{{Name: "cavra:file:size", Value: fmt.Sprint(size)}},
		})
	}
	if len(files) > 0 {
		c.Components = &files
	}
	c.Properties = &[]cdx.Property{
		{Name: "cavra:model:files", Value: fmt.Sprint(len(files))},
		{Name: "cavra:model:size", Value: fmt.Sprint(total)},
	}

	var props []cdx.Property
	add := func(k, v string) {
		if v != "" {
			props = append(props, cdx.Property{Name: k, Value: v})
		}
	}
	add("huggingface:model_type", card.ModelType)
	for _, a := range card.Architectures {
		add("huggingface:architecture", a)
	}
	add("huggingface:torch_dtype", card.TorchDType)
	add("huggingface:transformers_version", card.TransformersVersion)
	add("huggingface:library_name", card.LibraryName)
	add("huggingface:pipeline_tag", card.PipelineTag)
	for _, l := range card.Languages {
		add("huggingface:language", l)
	}
	for _, k := range slices.Sorted(maps.Keys(card.Hyperparameters)) {
		add("huggingface:"+k, card.Hyperparameters[k])
	}
	return c, props
}

// spdxIDs maps Hugging Face license identifiers to SPDX ids. CycloneDX validates license.id
// against the SPDX list, so anything not known here is recorded as a license name instead.
var spdxIDs = map[string]string{
	"apache-2.0": "Apache-2.0", "mit": "MIT", "bsd-2-clause": "BSD-2-Clause",
	"bsd-3-clause": "BSD-3-Clause", "cc0-1.0": "CC0-1.0", "cc-by-4.0": "CC-BY-4.0",
	"cc-by-sa-4.0": "CC-BY-SA-4.0", "cc-by-nc-4.0": "CC-BY-NC-4.0", "cc-by-nc-sa-4.0": "CC-BY-NC-SA-4.0",
	"cc-by-nc-nd-4.0": "CC-BY-NC-ND-4.0", "gpl-2.0": "GPL-2.0-only", "gpl-3.0": "GPL-3.0-only",
	"lgpl-3.0": "LGPL-3.0-only", "agpl-3.0": "AGPL-3.0-only", "mpl-2.0": "MPL-2.0",
	"openrail": "OpenRAIL", "unlicense": "Unlicense", "bsl-1.0": "BSL-1.0", "artistic-2.0": "Artistic-2.0",
}

func license(card Card) *cdx.LicenseChoice {
	l := strings.TrimSpace(card.License)
	if l == "" {
		return nil
	}
	if id, ok := spdxIDs[strings.ToLower(l)]; ok {
		return &cdx.LicenseChoice{License: &cdx.License{ID: id}}
	}
	if strings.EqualFold(l, "other") && card.LicenseName != "" {
		l = card.LicenseName
	}
	return &cdx.LicenseChoice{License: &cdx.License{Name: l}}
}

func newSerial() (string, error) {
	var u [16]byte
	if _, err := rand.Read(u[:]); err != nil {
		return "", fmt.Errorf("serial number: %w", err)
	}
	u[6] = u[6]&0x0f | 0x40 // version 4
	u[8] = u[8]&0x3f | 0x80 // RFC 4122 variant
	return fmt.Sprintf("urn:uuid:%x-%x-%x-%x-%x", u[0:4], u[4:6], u[6:8], u[8:10], u[10:16]), nil
}

// WriteJSON encodes d as CycloneDX 1.6 JSON. cyclonedx-go v0.12.0 has no modelCard.properties
// field, so the encoded document is patched: each card's unique bom-ref is found in the compact
// encoding and its properties are spliced in after it, then the result is indented. The
// splice is checked to hit exactly one place and to leave valid JSON.
func (d *Document) WriteJSON(w io.Writer) error {
	var buf bytes.Buffer
	enc := cdx.NewBOMEncoder(&buf, cdx.BOMFileFormatJSON)
	enc.SetPretty(false)
	enc.SetEscapeHTML(false)
	if err := enc.EncodeVersion(d.BOM, cdx.SpecVersion1_6); err != nil {
		return fmt.Errorf("encode BOM: %w", err)
	}
	out := buf.Bytes()
	for _, ref := range slices.Sorted(maps.Keys(d.cardProperties)) {
		props := d.cardProperties[ref]
		if len(props) == 0 {
			continue
		}
		refJSON, err := json.Marshal(ref)
		if err != nil {
			return fmt.Errorf("encode bom-ref: %w", err)
		}
		anchor := append([]byte(`"modelCard":{"bom-ref":`), refJSON...)
		if n := bytes.Count(out, anchor); n != 1 {
			return fmt.Errorf("model card %s appears %d times in the encoded BOM", ref, n)
		}
		propsJSON, err := marshalNoEscape(props)
		if err != nil {
			return fmt.Errorf("encode model card properties: %w", err)
		}
		at := bytes.Index(out, anchor) + len(anchor)
		patched := make([]byte, 0, len(out)+len(propsJSON)+16)
		patched = append(patched, out[:at]...)
		patched = append(patched, `,"properties":`...)
		patched = append(patched, propsJSON...)
		patched = append(patched, out[at:]...)
		out = patched
	}
	if !json.Valid(out) {
		return errors.New("patched BOM is not valid JSON")
	}
	var pretty bytes.Buffer
	if err := json.Indent(&pretty, out, "", "  "); err != nil {
		return fmt.Errorf("indent BOM: %w", err)
	}
	pretty.WriteByte('\n')
	_, err := w.Write(pretty.Bytes())
	return err
}

func marshalNoEscape(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimRight(b.Bytes(), "\n"), nil
}
