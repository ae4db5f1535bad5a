package cavra

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"maps"
	"slices"
	"strconv"
	"sync"
	"unicode/utf8"
)

// Fingerprint identifies an action by who asks, what and where, independent of when and of
// host bookkeeping (session and tool-use ids). An approval is bound to it: the same act retried
// has the same fingerprint, a different act does not.
//
// The hashed bytes are the JSON encoding/json gives the fingerprinted fields (map keys sorted),
// written by hand because the engine fingerprints every decision and reflection-driven encoding
// was a tenth of its time. Approvals stored by earlier builds keep matching:
// TestFingerprintMatchesJSON and FuzzFingerprint hold the bytes to encoding/json's.
func (a Action) Fingerprint() string {
	bp := fingerprintBuffers.Get().(*[]byte)
	b, ok := appendFingerprintJSON((*bp)[:0], &a)
	if !ok {
		// Only unsupported attribute values (channels, funcs) get here; fall back to their text.
		b = append(append(append(b[:0], a.Kind...), 0), a.Cwd...)
	}
	sum := sha256.Sum256(b)
	if cap(b) <= maxPooledFingerprintBuffer {
		*bp = b
		fingerprintBuffers.Put(bp)
	}
	var out [len("sha256:") + 2*sha256.Size]byte
	copy(out[:], "sha256:")
	hex.Encode(out[len("sha256:"):], sum[:])
	return string(out[:])
}

// maxPooledFingerprintBuffer keeps a whole-file write from pinning its buffer in the pool.
const maxPooledFingerprintBuffer = 64 << 10

var fingerprintBuffers = sync.Pool{New: func() any { b := make([]byte, 0, 1024); return &b }}

// appendFingerprintJSON appends the encoding of
//
//	{k, p, t, w, c, l, f, g, m, n, o, a}
//
// (kind, principal, tenant, workspace, cwd, command line, files, git, MCP, network, model,
// attributes), every field but k omitted when empty. It reports false when a value cannot be
// encoded as JSON.
func appendFingerprintJSON(b []byte, a *Action) ([]byte, bool) {
	b = append(b, `{"k":`...)
	b = appendJSONString(b, string(a.Kind))
	b = appendStringField(b, "p", a.Principal)
	b = appendStringField(b, "t", a.Tenant)
	b = appendStringField(b, "w", a.Workspace)
	b = appendStringField(b, "c", a.Cwd)
	if a.Command != nil {
		b = appendStringField(b, "l", a.Command.Line)
	}
	if len(a.Files) > 0 {
		b = append(b, `,"f":[`...)
		for i, f := range a.Files {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, `{"op":`...)
			b = appendJSONString(b, string(f.Op))
			b = append(b, `,"path":`...)
			b = appendJSONString(b, f.Path)
			b = appendStringField(b, "raw", f.Raw)
			b = appendStringField(b, "to", f.To)
			b = appendStringField(b, "content", f.Content)
			b = append(b, '}')
		}
		b = append(b, ']')
	}
	if len(a.Git) > 0 {
		b = append(b, `,"g":[`...)
		for i, g := range a.Git {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, `{"subcommand":`...)
			b = appendJSONString(b, g.Subcommand)
			b = appendStringField(b, "remote", g.Remote)
			b = appendStringsField(b, "refs", g.Refs)
			if g.Force {
				b = append(b, `,"force":true`...)
			}
			if g.Delete {
				b = append(b, `,"delete":true`...)
			}
			b = appendStringsField(b, "args", g.Args)
			b = append(b, '}')
		}
		b = append(b, ']')
	}
	if m := a.MCP; m != nil {
		b = append(b, `,"m":{"server":`...)
		b = appendJSONString(b, m.Server)
		b = appendStringField(b, "tool", m.Tool)
		b = appendStringField(b, "method", m.Method)
		if len(m.Arguments) > 0 {
			var ok bool
			if b, ok = appendJSONValue(append(b, `,"arguments":`...), m.Arguments); !ok {
				return b, false
			}
		}
		b = append(b, '}')
	}
	if len(a.Network) > 0 {
		b = append(b, `,"n":[`...)
		for i, n := range a.Network {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, `{"url":`...)
			b = appendJSONString(b, n.URL)
			b = appendStringField(b, "host", n.Host)
			b = appendStringField(b, "method", n.Method)
			b = append(b, '}')
		}
		b = append(b, ']')
	}
	if m := a.Model; m != nil {
		b = append(b, `,"o":{`...)
		start := len(b)
		for _, f := range [...]struct{ name, value string }{{"id", m.ID}, {"name", m.Name},
			{"version", m.Version}, {"digest", m.Digest}, {"stage", m.Stage}, {"format", m.Format},
			{"verdict", m.Verdict}} {
			b = appendStringField(b, f.name, f.value)
		}
		if len(m.Metadata) > 0 {
			b = append(b, `,"metadata":{`...)
			for i, k := range slices.Sorted(maps.Keys(m.Metadata)) {
				if i > 0 {
					b = append(b, ',')
				}
				b = append(appendJSONString(b, k), ':')
				b = appendJSONString(b, m.Metadata[k])
			}
			b = append(b, '}')
		}
		if len(b) > start { // the fields were written with a leading comma
			b = append(b[:start], b[start+1:]...)
		}
		b = append(b, '}')
	}
	if len(a.Attributes) > 0 {
		var ok bool
		if b, ok = appendJSONValue(append(b, `,"a":`...), a.Attributes); !ok {
			return b, false
		}
	}
	return append(b, '}'), true
}

// appendStringField appends ,"name":"value" unless value is empty (omitempty).
func appendStringField(b []byte, name, value string) []byte {
	if value == "" {
		return b
	}
	b = append(append(append(b, `,"`...), name...), `":`...)
	return appendJSONString(b, value)
}

// appendStringsField appends ,"name":[...] unless values is empty (omitempty).
func appendStringsField(b []byte, name string, values []string) []byte {
	if len(values) == 0 {
		return b
	}
	b = append(append(append(b, `,"`...), name...), `":[`...)
	for i, v := range values {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendJSONString(b, v)
	}
	return append(b, ']')
}

// appendJSONValue appends the JSON of a decoded-JSON-shaped value, handing any other type to
// encoding/json.
func appendJSONValue(b []byte, v any) ([]byte, bool) {
	switch v := v.(type) {
	case nil:
		return append(b, "null"...), true
	case string:
		return appendJSONString(b, v), true
	case bool:
		return strconv.AppendBool(b, v), true
	case map[string]any:
		if v == nil {
			return append(b, "null"...), true
		}
		b = append(b, '{')
		for i, k := range slices.Sorted(maps.Keys(v)) {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(appendJSONString(b, k), ':')
			var ok bool
			if b, ok = appendJSONValue(b, v[k]); !ok {
				return b, false
			}
		}
		return append(b, '}'), true
	case []any:
		if v == nil {
			return append(b, "null"...), true
		}
		b = append(b, '[')
		for i, e := range v {
			if i > 0 {
				b = append(b, ',')
			}
			var ok bool
			if b, ok = appendJSONValue(b, e); !ok {
				return b, false
			}
		}
		return append(b, ']'), true
	}
	enc, err := json.Marshal(v)
	if err != nil {
		return b, false
	}
	return append(b, enc...), true
}

// appendJSONString appends s quoted the way encoding/json quotes it: HTML-significant bytes,
// control bytes, U+2028 and U+2029 escaped, invalid UTF-8 replaced by U+FFFD.
func appendJSONString(b []byte, s string) []byte {
	const hexDigits = "0123456789abcdef"
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		if c := s[i]; c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			b = append(append(b, s[start:i]...), `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			b = append(append(b, s[start:i]...), '\\', 'u', '2', '0', '2', hexDigits[r&0xF])
		default:
			i += size
			continue
		}
		i += size
		start = i
	}
	return append(append(b, s[start:]...), '"')
}
