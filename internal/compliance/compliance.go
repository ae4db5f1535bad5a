// Package compliance holds the control catalogs of the frameworks CAVRA maps findings to
// (NIST AI RMF, NIST AI 600-1, ISO/IEC 42001, OWASP LLM and Agentic Top 10, NIST SSDF, EU AI Act),
// as data: identifiers and short labels.
package compliance

import (
	"bytes"
	"embed"
	"fmt"
	"io/fs"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"
)

//go:embed catalogs/*.yaml
var catalogFS embed.FS

// Framework is one catalog.
type Framework struct {
	ID        string
	Name      string
	Version   string
	Publisher string
	Controls  []Control
	byID      map[string]int
}

// Control is one mapping target of a framework.
type Control struct {
	ID    string
	Title string
	Group string // the id of the group that holds it
}

// Catalog is every framework, by id.
type Catalog struct {
	frameworks map[string]*Framework
}

type catalogFile struct {
	Framework struct {
		ID          string `yaml:"id"`
		Name        string `yaml:"name"`
		Version     string `yaml:"version"`
		Publisher   string `yaml:"publisher"`
		Source      string `yaml:"source"`
		LicenseNote string `yaml:"license_note"`
	} `yaml:"framework"`
	Groups []group `yaml:"groups"`
}

type group struct {
	ID                   string    `yaml:"id"`
	Title                string    `yaml:"title"`
	OscalID              string    `yaml:"oscal_id"`
	Groups               []group   `yaml:"groups"`
	Controls             []control `yaml:"controls"`
	ObligationsApplyFrom []struct {
		Scope      string `yaml:"scope"`
		Date       string `yaml:"date"`
		SourceNote string `yaml:"source_note"`
	} `yaml:"obligations_apply_from"`
}

type control struct {
	ID      string   `yaml:"id"`
	Title   string   `yaml:"title"`
	OscalID string   `yaml:"oscal_id"`
	Slug    string   `yaml:"slug"`
	Aliases []string `yaml:"aliases"`
}

// Load reads the embedded catalogs.
func Load() (*Catalog, error) {
	files, err := fs.Glob(catalogFS, "catalogs/*.yaml")
	if err != nil {
		return nil, fmt.Errorf("list catalogs: %w", err)
	}
	c := &Catalog{frameworks: map[string]*Framework{}}
	for _, name := range files {
		data, err := catalogFS.ReadFile(name)
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", name, err)
		}
		var f catalogFile
		dec := yaml.NewDecoder(bytes.NewReader(data))
		dec.KnownFields(true)
		if err := dec.Decode(&f); err != nil {
			return nil, fmt.Errorf("parse %s: %w", name, err)
		}
		fw := &Framework{ID: f.Framework.ID, Name: f.Framework.Name, Version: f.Framework.Version,
			Publisher: f.Framework.Publisher, byID: map[string]int{}}
		var walk func(gs []group)
		walk = func(gs []group) {
			for _, g := range gs {
				for _, ctl := range g.Controls {
					fw.byID[ctl.ID] = len(fw.Controls)
					for _, a := range ctl.Aliases {
						fw.byID[a] = len(fw.Controls)
					}
					fw.Controls = append(fw.Controls, Control{ID: ctl.ID, Title: ctl.Title, Group: g.ID})
				}
				walk(g.Groups)
			}
		}
		walk(f.Groups)
		c.frameworks[fw.ID] = fw
	}
	return c, nil
}

// Frameworks lists the framework ids.
func (c *Catalog) Frameworks() []string {
	ids := make([]string, 0, len(c.frameworks))
	for id := range c.frameworks {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	return ids
}

// Framework returns one framework.
func (c *Catalog) Framework(id string) (*Framework, bool) {
	f, ok := c.frameworks[id]
	return f, ok
}

// Resolve looks up a reference "FRAMEWORK:CONTROL". known is false for a framework outside the
// catalog (an organisation's own, or PCI DSS, whose text is not freely licensed); for a known
// framework, an unknown control is an error.
func (c *Catalog) Resolve(ref string) (ctl Control, known bool, err error) {
	fw, id, ok := strings.Cut(ref, ":")
	if !ok || fw == "" || id == "" {
		return Control{}, false, fmt.Errorf("compliance ref %q should be FRAMEWORK:CONTROL", ref)
	}
	f, ok := c.frameworks[fw]
	if !ok {
		return Control{}, false, nil
	}
	i, ok := f.byID[id]
	if !ok {
		return Control{}, true, fmt.Errorf("%s has no control %q", f.Name+" "+f.Version, id)
	}
	return f.Controls[i], true, nil
}
