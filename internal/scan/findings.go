package scan

import (
	"fmt"

	"github.com/cavra-dev/cavra"
)

// maxFindingsPerFile bounds what one hostile file can make the scanner hold and print.
const maxFindingsPerFile = 500

// collector gathers a file's findings, folding repeats (the same import 10,000 times) into one.
type collector struct {
	findings  []cavra.Finding
	counts    []int
	index     map[string]int
	truncated bool
}

func newCollector() *collector { return &collector{index: map[string]int{}} }

func (c *collector) add(f cavra.Finding) {
	key := f.RuleID + "\x00" + f.Detail
	if i, ok := c.index[key]; ok {
		c.counts[i]++
		return
	}
	if len(c.findings) >= maxFindingsPerFile {
		c.truncated = true
		return
	}
	c.index[key] = len(c.findings)
	c.findings = append(c.findings, f)
	c.counts = append(c.counts, 1)
}

// result returns the findings with repeat counts folded into their detail.
func (c *collector) result() []cavra.Finding {
	out := make([]cavra.Finding, 0, len(c.findings)+1)
	for i, f := range c.findings {
		if c.counts[i] > 1 {
			f.Detail = fmt.Sprintf("%s (%d occurrences; first shown)", f.Detail, c.counts[i])
		}
		out = append(out, f)
	}
	if c.truncated {
		out = append(out, cavra.Finding{
			RuleID:   "scan.too-many-findings",
			Severity: cavra.SeverityMedium,
			Detail:   fmt.Sprintf("more than %d distinct findings; the rest were dropped", maxFindingsPerFile),
		})
	}
	return out
}

// scope is where a parser reports: the file's collector plus a location prefix naming the
// archive member being parsed ("member model/data.pkl").
type scope struct {
	c      *collector
	prefix string
}

func (s scope) add(rule string, sev cavra.Severity, location, format string, args ...any) {
	loc := location
	if s.prefix != "" {
		loc = s.prefix
		if location != "" {
			loc += " " + location
		}
	}
	s.c.add(cavra.Finding{RuleID: rule, Severity: sev, Detail: fmt.Sprintf(format, args...), Location: loc})
}

func (s scope) member(name string) scope {
	p := "member " + name
	if s.prefix != "" {
		p = s.prefix + " > " + name
	}
	return scope{c: s.c, prefix: p}
}

func offset(n int64) string { return fmt.Sprintf("offset %d", n) }
