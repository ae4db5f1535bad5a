package mcpgw

import (
	"fmt"
	"regexp"
	"strings"
	"sync"
	"unicode"
)

// Finding is one suspicious thing the gateway found in a tool definition or a tool result.
type Finding struct {
	// Rule names the detector: "invisible-unicode", "hidden-instructions", "secret-access",
	// "tool-chaining", "exfiltration", "prompt-injection", "secret".
	Rule string `json:"rule"`
	// Where says which field: "description", "inputSchema", "content[0]".
	Where string `json:"where,omitempty"`
	// Text is the matched text, shortened, with invisible characters made visible.
	Text string `json:"text"`
}

func (f Finding) String() string { return fmt.Sprintf("%s in %s: %q", f.Rule, f.Where, f.Text) }

type textRule struct {
	rule string
	re   *regexp.Regexp
}

// Instruction-like text aimed at the model rather than at a human reader. Tool descriptions are
// read by the model as trusted context, so these phrases there are an attack, not documentation
// (tool poisoning); in a tool result they are an indirect prompt injection. Compiled on first
// use, so that processes which never see an MCP message (every agent hook) do not pay for it.
var injectionRules = sync.OnceValue(func() []textRule {
	return []textRule{
		{"hidden-instructions", regexp.MustCompile(`(?i)<\s*/?\s*(important|system|instructions?|secret|hidden|admin|assistant|sys)\s*>`)},
		{"hidden-instructions", regexp.MustCompile(`(?i)\b(ignore|disregard|forget|override)\s+(all\s+|any\s+|the\s+)?(previous|prior|above|earlier|preceding|other)\s+(instructions|directions|rules|prompts?|context)`)},
		{"hidden-instructions", regexp.MustCompile(`(?i)\b(do\s+not|don'?t|never)\s+(tell|inform|mention|reveal|notify|alert|show)\s+(this\s+to\s+)?(the\s+)?(user|human|operator)`)},
		{"hidden-instructions", regexp.MustCompile(`(?i)\b(without|before)\s+(telling|informing|asking|notifying)\s+the\s+(user|human)`)},
		{"hidden-instructions", regexp.MustCompile(`(?i)(\byou\s+are\s+now\b|\bnew\s+instructions\s*:|\bsystem\s+prompt\b|<\|im_start\|>|\[INST\]|</?tool_(result|call)>)`)},
		{"secret-access", regexp.MustCompile(`(?i)(~/\.ssh|\bid_(rsa|ed25519|ecdsa)\b|\.aws/credentials|\.netrc\b|\.npmrc\b|\.pypirc\b|\.docker/config\.json|\bmcp\.json\b|\.cursor/|\.env\b|/etc/(passwd|shadow)|\.kube/config\b|\.git-credentials\b|\.config/gh/hosts\.yml)`)},
		{"tool-chaining", regexp.MustCompile(`(?i)\b(before|after|instead\s+of|when)\s+(using|calling|running|invoking)\s+(this|any|the|other|another)\b[^.]{0,80}\b(you\s+must|must|always|first)\b|\b(you\s+must|always|first)\s+(call|use|invoke|run)\s+(the\s+)?[\w.-]+\s+tool\b`)},
		{"exfiltration", regexp.MustCompile(`(?i)\b(send|post|upload|forward|transmit|exfiltrate|include|pass)\b[^.]{0,60}\b(to|into|in)\s+(https?://|the\s+(sidenote|notes?|metadata|url|webhook|parameter))`)},
	}
})

// secretAccessVerb: naming a credential file can be documentation ("never touches ~/.ssh"); it is
// suspicious when the same sentence tells the model to read, send or include it.
var secretAccessVerb = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`(?i)\b(read|cat|open|send|include|pass|provide|attach|upload|copy|print|output|retrieve|extract|fetch|collect|leak|append)\b`)
})

// invisible reports runes that render as nothing or reorder text: zero-width characters, bidi
// controls and the Unicode tag block (U+E0000-E007F), the carriers of "ASCII smuggling".
func invisible(r rune) bool {
	switch {
	case r >= 0xE0000 && r <= 0xE007F:
		return true
	case r == 0x200B, r == 0x200C, r == 0x200D, r == 0x2060, r == 0xFEFF, r == 0x180E, r == 0x00AD:
		return true
	case r >= 0x202A && r <= 0x202E, r >= 0x2066 && r <= 0x2069, r == 0x200E, r == 0x200F, r == 0x061C:
		return true
	case r >= 0x2061 && r <= 0x2064:
		return true
	}
	return unicode.Is(unicode.Cf, r) && r != '\u0600'
}

// visible renders s with invisible runes as <U+XXXX> and shortens it for a report.
func visible(s string) string {
	const max = 120
	var b strings.Builder
	for _, r := range s {
		if invisible(r) || (r < 0x20 && r != ' ') {
			fmt.Fprintf(&b, "<U+%04X>", r)
		} else {
			b.WriteRune(r)
		}
		if b.Len() > max {
			b.WriteString("...")
			break
		}
	}
	return b.String()
}

// scanText runs the detectors over s. strict (tool definitions) also reports secret-access
// phrases; in tool results those are ordinary data.
func scanText(s, where string, strict bool) []Finding {
	var out []Finding
	for i, r := range s {
		if invisible(r) {
			end := i + 40
			if end > len(s) {
				end = len(s)
			}
			out = append(out, Finding{Rule: "invisible-unicode", Where: where, Text: visible(s[i:end])})
			break
		}
	}
	// Invisible runes are stripped before matching, so "ig\u200bnore previous instructions" is
	// still found.
	clean := strings.Map(func(r rune) rune {
		if invisible(r) {
			return -1
		}
		return r
	}, s)
	for _, tr := range injectionRules() {
		if tr.rule == "secret-access" || tr.rule == "exfiltration" || tr.rule == "tool-chaining" {
			if !strict {
				continue
			}
		}
		loc := tr.re.FindStringIndex(clean)
		if loc == nil {
			continue
		}
		if tr.rule == "secret-access" && !secretAccessVerb().MatchString(sentenceAround(clean, loc)) {
			continue
		}
		out = append(out, Finding{Rule: tr.rule, Where: where, Text: visible(clean[loc[0]:loc[1]])})
	}
	return out
}

// sentenceAround returns the sentence of s that holds loc.
func sentenceAround(s string, loc []int) string {
	start := strings.LastIndexAny(s[:loc[0]], ".!?\n")
	end := strings.IndexAny(s[loc[1]:], ".!?\n")
	if end < 0 {
		end = len(s)
	} else {
		end += loc[1]
	}
	return s[start+1 : end]
}

// CheckTool looks for poisoning in a tool definition: instructions hidden from the user, requests
// to read secrets or to call other tools, and invisible Unicode, in the title, the description and
// every description or title inside the input schema.
func CheckTool(t Tool) []Finding {
	var out []Finding
	out = append(out, scanText(t.Name, "name", true)...)
	out = append(out, scanText(t.Title, "title", true)...)
	out = append(out, scanText(t.Description, "description", true)...)
	walkSchemaText(t.InputSchema, "inputSchema", func(where, text string) {
		out = append(out, scanText(text, where, true)...)
	})
	return out
}

// walkSchemaText calls fn for every string of a JSON schema that a model reads: descriptions,
// titles, defaults, examples, enum values and property names.
func walkSchemaText(v any, where string, fn func(where, text string)) {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			fn(where+"."+k+"(key)", k)
			walkSchemaText(e, where+"."+k, fn)
		}
	case []any:
		for i, e := range x {
			walkSchemaText(e, fmt.Sprintf("%s[%d]", where, i), fn)
		}
	case string:
		fn(where, x)
	}
}

// ScanResultText looks for prompt-injection markers in text a tool returned.
func ScanResultText(text, where string) []Finding { return scanText(text, where, false) }
