package mlbom

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"gopkg.in/yaml.v3"
)

// Limits on what is read from a model's metadata files: they come from whoever published the
// model and are parsed, never trusted.
const (
	maxConfigSize      = 16 << 20
	maxReadmeSize      = 4 << 20
	maxFrontMatterSize = 256 << 10
)

// Card is the model-card metadata CAVRA takes from a Hugging Face style model directory: the
// README.md YAML front matter and config.json.
type Card struct {
	// From README.md front matter.
	License     string
	LicenseName string // for license: other
	Datasets    []string
	Languages   []string
	Tags        []string
	BaseModels  []string
	PipelineTag string
	LibraryName string

	// From config.json.
	Architectures       []string
	ModelType           string
	TorchDType          string
	TransformersVersion string
	// Numeric hyper-parameters worth recording (hidden_size, num_hidden_layers, ...), as text.
	Hyperparameters map[string]string
}

// splitFrontMatter returns the YAML between a leading "---" line and the next "---" line.
func splitFrontMatter(readme []byte) ([]byte, bool) {
	readme = bytes.TrimPrefix(readme, []byte("\xef\xbb\xbf"))
	rest, ok := bytes.CutPrefix(readme, []byte("---\n"))
	if !ok {
		rest, ok = bytes.CutPrefix(readme, []byte("---\r\n"))
	}
	if !ok {
		return nil, false
	}
	for off := 0; off < len(rest); {
		line := rest[off:]
		end := bytes.IndexByte(line, '\n')
		if end >= 0 {
			line = line[:end]
		}
		if t := bytes.TrimRight(line, "\r \t"); bytes.Equal(t, []byte("---")) || bytes.Equal(t, []byte("...")) {
			return rest[:off], true
		}
		if end < 0 {
			break
		}
		off += end + 1
	}
	return nil, false
}

// ParseReadme fills the README fields of c from a README.md. A README without front matter is
// fine; malformed front matter is an error naming the problem.
func (c *Card) ParseReadme(readme []byte) error {
	if len(readme) > maxReadmeSize {
		return fmt.Errorf("README.md is larger than %d bytes", maxReadmeSize)
	}
	fm, ok := splitFrontMatter(readme)
	if !ok {
		return nil
	}
	if len(fm) > maxFrontMatterSize {
		return fmt.Errorf("README.md front matter is larger than %d bytes", maxFrontMatterSize)
	}
	var doc map[string]any
	if err := yaml.Unmarshal(fm, &doc); err != nil {
		return fmt.Errorf("README.md front matter: %w", err)
	}
	c.License = scalar(doc["license"])
	c.LicenseName = scalar(doc["license_name"])
	c.Datasets = stringList(doc["datasets"])
	c.Languages = stringList(doc["language"])
	c.Tags = stringList(doc["tags"])
	c.BaseModels = stringList(doc["base_model"])
	c.PipelineTag = scalar(doc["pipeline_tag"])
	c.LibraryName = scalar(doc["library_name"])
	return nil
}

// hyperparameterKeys are config.json numbers that describe a transformer's size.
var hyperparameterKeys = []string{
	"hidden_size", "intermediate_size", "num_hidden_layers", "num_attention_heads",
	"num_key_value_heads", "vocab_size", "max_position_embeddings", "n_embd", "n_layer", "n_head",
}

// ParseConfig fills the config.json fields of c. Fields of unexpected types are left out; a
// file that is not a JSON object is an error.
func (c *Card) ParseConfig(config []byte) error {
	if len(config) > maxConfigSize {
		return fmt.Errorf("config.json is larger than %d bytes", maxConfigSize)
	}
	var doc map[string]any
	dec := json.NewDecoder(bytes.NewReader(config))
	dec.UseNumber()
	if err := dec.Decode(&doc); err != nil {
		return fmt.Errorf("config.json: %w", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return errors.New("config.json: trailing data after the JSON object")
	}
	if doc == nil {
		return errors.New("config.json: not a JSON object")
	}
	c.Architectures = stringList(doc["architectures"])
	c.ModelType = scalar(doc["model_type"])
	c.TorchDType = scalar(doc["torch_dtype"])
	if c.TorchDType == "" {
		c.TorchDType = scalar(doc["dtype"])
	}
	c.TransformersVersion = scalar(doc["transformers_version"])
	for _, k := range hyperparameterKeys {
		if n, ok := doc[k].(json.Number); ok {
			if c.Hyperparameters == nil {
				c.Hyperparameters = map[string]string{}
			}
			c.Hyperparameters[k] = n.String()
		}
	}
	return nil
}

// scalar renders a string, number or boolean as text; anything else is "".
func scalar(v any) string {
	switch x := v.(type) {
	case string:
		return strings.TrimSpace(x)
	case json.Number:
		return x.String()
	case int, int64, uint64, float64, bool:
		return fmt.Sprint(x)
	}
	return ""
}

// stringList accepts a single scalar or a list of scalars, as Hugging Face metadata does.
func stringList(v any) []string {
	var out []string
	add := func(x any) {
		if s := scalar(x); s != "" {
			out = append(out, s)
		}
	}
	if list, ok := v.([]any); ok {
		for _, x := range list {
			add(x)
		}
		return out
	}
	add(v)
	return out
}
