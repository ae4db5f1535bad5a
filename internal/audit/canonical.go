package audit

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// Canonical JSON, the byte form every audit record is hashed in. It follows RFC 8785 (JSON
// Canonicalization Scheme):
//
//   - no insignificant whitespace;
//   - object members sorted by their names compared as UTF-16 code units; duplicate names are
//     an error;
//   - strings as UTF-8 (invalid UTF-8 is an error) with only '"', '\\' and the control
//     characters U+0000..U+001F escaped: \b \t \n \f \r by name, the rest as \u00xx;
//   - numbers as IEEE 754 doubles printed the way ECMAScript's Number.prototype.toString does
//     (shortest round-trip digits; exponent form below 1e-6 and from 1e21); -0 prints as 0.
//
// Records are therefore reproducible from their meaning by any JCS implementation, and a
// verifier can tell a re-encoded record from the original.

// maxDepth bounds nesting so that hostile input cannot exhaust the stack.
const maxDepth = 200

// Canonicalize returns the canonical form of the JSON text in.
func Canonicalize(in []byte) ([]byte, error) {
	p := &canonParser{in: in}
	var out bytes.Buffer
	out.Grow(len(in))
	p.skipSpace()
	if err := p.value(&out, 0); err != nil {
		return nil, err
	}
	p.skipSpace()
	if p.pos != len(p.in) {
		return nil, p.errorf("unexpected data after the top-level value")
	}
	return out.Bytes(), nil
}

// MarshalCanonical encodes v with encoding/json and canonicalises the result.
func MarshalCanonical(v any) ([]byte, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("encode json: %w", err)
	}
	return Canonicalize(b)
}

type canonParser struct {
	in  []byte
	pos int
}

func (p *canonParser) errorf(format string, args ...any) error {
	return fmt.Errorf("canonical json: offset %d: %s", p.pos, fmt.Sprintf(format, args...))
}

func (p *canonParser) skipSpace() {
	for p.pos < len(p.in) {
		switch p.in[p.pos] {
		case ' ', '\t', '\n', '\r':
			p.pos++
		default:
			return
		}
	}
}

func (p *canonParser) value(out *bytes.Buffer, depth int) error {
	if depth > maxDepth {
		return p.errorf("nesting deeper than %d", maxDepth)
	}
	if p.pos >= len(p.in) {
		return p.errorf("unexpected end of input")
	}
	switch c := p.in[p.pos]; {
	case c == '{':
		return p.object(out, depth)
	case c == '[':
		return p.array(out, depth)
	case c == '"':
		s, err := p.str()
		if err != nil {
			return err
		}
		writeString(out, s)
		return nil
	case c == 't':
		return p.literal(out, "true")
	case c == 'f':
		return p.literal(out, "false")
	case c == 'n':
		return p.literal(out, "null")
	case c == '-' || (c >= '0' && c <= '9'):
		return p.number(out)
	default:
		return p.errorf("unexpected character %q", c)
	}
}

func (p *canonParser) literal(out *bytes.Buffer, word string) error {
	if !bytes.HasPrefix(p.in[p.pos:], []byte(word)) {
		return p.errorf("invalid literal")
	}
	p.pos += len(word)
	out.WriteString(word)
	return nil
}

type member struct {
	key   string
	key16 []uint16 // nil when key is ASCII, whose byte order is its UTF-16 order
	// val is the member's canonical value: vals[start:end] of its object's value buffer.
	start, end int
}

func compareMembers(a, b member) int {
	if a.key16 == nil && b.key16 == nil {
		return strings.Compare(a.key, b.key)
	}
	ak, bk := a.key16, b.key16
	if ak == nil {
		ak = utf16.Encode([]rune(a.key))
	}
	if bk == nil {
		bk = utf16.Encode([]rune(b.key))
	}
	return slices.Compare(ak, bk)
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

func (p *canonParser) object(out *bytes.Buffer, depth int) error {
	p.pos++ // {
	p.skipSpace()
	if p.pos < len(p.in) && p.in[p.pos] == '}' {
		p.pos++
		out.WriteString("{}")
		return nil
	}
	// The members' canonical values go into one buffer, in input order, and are written out
	// in key order at the end.
	var (
		members = make([]member, 0, 8)
		vals    bytes.Buffer
	)
	for {
		p.skipSpace()
		if p.pos >= len(p.in) || p.in[p.pos] != '"' {
			return p.errorf("expected an object member name")
		}
		key, err := p.str()
		if err != nil {
			return err
		}
		p.skipSpace()
		if p.pos >= len(p.in) || p.in[p.pos] != ':' {
			return p.errorf("expected ':' after member name")
		}
		p.pos++
		p.skipSpace()
		m := member{key: key, start: vals.Len()}
		if err := p.value(&vals, depth+1); err != nil {
			return err
		}
		m.end = vals.Len()
		if !isASCII(key) {
			m.key16 = utf16.Encode([]rune(key))
		}
		members = append(members, m)
		p.skipSpace()
		if p.pos >= len(p.in) {
			return p.errorf("unterminated object")
		}
		if p.in[p.pos] == ',' {
			p.pos++
			continue
		}
		if p.in[p.pos] == '}' {
			p.pos++
			break
		}
		return p.errorf("expected ',' or '}' in object")
	}
	slices.SortFunc(members, compareMembers)
	buf := vals.Bytes()
	out.WriteByte('{')
	for i, m := range members {
		if i > 0 {
			if members[i-1].key == m.key {
				return p.errorf("duplicate member name %q", m.key)
			}
			out.WriteByte(',')
		}
		writeString(out, m.key)
		out.WriteByte(':')
		out.Write(buf[m.start:m.end])
	}
	out.WriteByte('}')
	return nil
}

func (p *canonParser) array(out *bytes.Buffer, depth int) error {
	p.pos++ // [
	out.WriteByte('[')
	p.skipSpace()
	if p.pos < len(p.in) && p.in[p.pos] == ']' {
		p.pos++
		out.WriteByte(']')
		return nil
	}
	for i := 0; ; i++ {
		if i > 0 {
			out.WriteByte(',')
		}
		p.skipSpace()
		if err := p.value(out, depth+1); err != nil {
			return err
		}
		p.skipSpace()
		if p.pos >= len(p.in) {
			return p.errorf("unterminated array")
		}
		if p.in[p.pos] == ',' {
			p.pos++
			continue
		}
		if p.in[p.pos] == ']' {
			p.pos++
			out.WriteByte(']')
			return nil
		}
		return p.errorf("expected ',' or ']' in array")
	}
}

// str reads a JSON string and returns its value.
func (p *canonParser) str() (string, error) {
	p.pos++ // opening quote
	// Most strings are printable ASCII without escapes: their value is their text.
	for i := p.pos; i < len(p.in); i++ {
		c := p.in[i]
		if c == '"' {
			s := string(p.in[p.pos:i])
			p.pos = i + 1
			return s, nil
		}
		if c == '\\' || c < 0x20 || c >= 0x80 {
			break
		}
	}
	var b strings.Builder
	for {
		if p.pos >= len(p.in) {
			return "", p.errorf("unterminated string")
		}
		c := p.in[p.pos]
		switch {
		case c == '"':
			p.pos++
			return b.String(), nil
		case c < 0x20:
			return "", p.errorf("unescaped control character in string")
		case c == '\\':
			if p.pos+1 >= len(p.in) {
				return "", p.errorf("unterminated escape")
			}
			e := p.in[p.pos+1]
			p.pos += 2
			switch e {
			case '"', '\\', '/':
				b.WriteByte(e)
			case 'b':
				b.WriteByte('\b')
			case 'f':
				b.WriteByte('\f')
			case 'n':
				b.WriteByte('\n')
			case 'r':
				b.WriteByte('\r')
			case 't':
				b.WriteByte('\t')
			case 'u':
				r, err := p.hex4()
				if err != nil {
					return "", err
				}
				if utf16.IsSurrogate(r) {
					if r >= 0xdc00 || !bytes.HasPrefix(p.in[p.pos:], []byte(`\u`)) {
						return "", p.errorf("unpaired surrogate in string")
					}
					p.pos += 2
					r2, err := p.hex4()
					if err != nil {
						return "", err
					}
					r = utf16.DecodeRune(r, r2)
					if r == utf8.RuneError {
						return "", p.errorf("invalid surrogate pair in string")
					}
				}
				b.WriteRune(r)
			default:
				return "", p.errorf("invalid escape \\%c", e)
			}
		default:
			r, size := utf8.DecodeRune(p.in[p.pos:])
			if r == utf8.RuneError && size <= 1 {
				return "", p.errorf("invalid UTF-8 in string")
			}
			b.Write(p.in[p.pos : p.pos+size])
			p.pos += size
		}
	}
}

func (p *canonParser) hex4() (rune, error) {
	if p.pos+4 > len(p.in) {
		return 0, p.errorf("short \\u escape")
	}
	v, err := strconv.ParseUint(string(p.in[p.pos:p.pos+4]), 16, 32)
	if err != nil {
		return 0, p.errorf("invalid \\u escape")
	}
	p.pos += 4
	return rune(v), nil
}

func writeString(out *bytes.Buffer, s string) {
	out.WriteByte('"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch c {
		case '"':
			out.WriteString(`\"`)
		case '\\':
			out.WriteString(`\\`)
		case '\b':
			out.WriteString(`\b`)
		case '\f':
			out.WriteString(`\f`)
		case '\n':
			out.WriteString(`\n`)
		case '\r':
			out.WriteString(`\r`)
		case '\t':
			out.WriteString(`\t`)
		default:
			if c < 0x20 {
				const hexDigits = "0123456789abcdef"
				out.WriteString(`\u00`)
				out.WriteByte(hexDigits[c>>4])
				out.WriteByte(hexDigits[c&0xf])
			} else {
				out.WriteByte(c)
			}
		}
	}
	out.WriteByte('"')
}

// number validates a JSON number's grammar and writes its ECMAScript form.
func (p *canonParser) number(out *bytes.Buffer) error {
	start := p.pos
	if p.in[p.pos] == '-' {
		p.pos++
	}
	digits := func() int {
		n := 0
		for p.pos < len(p.in) && p.in[p.pos] >= '0' && p.in[p.pos] <= '9' {
			p.pos++
			n++
		}
		return n
	}
	intStart := p.pos
	if n := digits(); n == 0 {
		return p.errorf("invalid number")
	} else if n > 1 && p.in[intStart] == '0' {
		return p.errorf("number with a leading zero")
	}
	if p.pos < len(p.in) && p.in[p.pos] == '.' {
		p.pos++
		if digits() == 0 {
			return p.errorf("invalid number fraction")
		}
	}
	if p.pos < len(p.in) && (p.in[p.pos] == 'e' || p.in[p.pos] == 'E') {
		p.pos++
		if p.pos < len(p.in) && (p.in[p.pos] == '+' || p.in[p.pos] == '-') {
			p.pos++
		}
		if digits() == 0 {
			return p.errorf("invalid number exponent")
		}
	}
	f, err := strconv.ParseFloat(string(p.in[start:p.pos]), 64)
	if err != nil || math.IsInf(f, 0) {
		return p.errorf("number %s is not a finite double", p.in[start:p.pos])
	}
	out.WriteString(formatNumber(f))
	return nil
}

// formatNumber prints f as ECMAScript's Number.prototype.toString does.
func formatNumber(f float64) string {
	if f == 0 {
		return "0"
	}
	neg := f < 0
	if neg {
		f = -f
	}
	// Shortest round-trip digits d1.d2...dk and exponent e: f = d1.d2...dk * 10^e.
	es := strconv.FormatFloat(f, 'e', -1, 64)
	mant, expStr, _ := strings.Cut(es, "e")
	digits := strings.Replace(mant, ".", "", 1)
	exp, _ := strconv.Atoi(expStr)
	k := len(digits)
	n := exp + 1 // position of the decimal point relative to the digits
	var s string
	switch {
	case k <= n && n <= 21:
		s = digits + strings.Repeat("0", n-k)
	case 0 < n && n <= 21:
		s = digits[:n] + "." + digits[n:]
	case -6 < n && n <= 0:
		s = "0." + strings.Repeat("0", -n) + digits
	default:
		s = digits[:1]
		if k > 1 {
			s += "." + digits[1:]
		}
		sign := "+"
		if n-1 < 0 {
			sign = "-"
		}
		e := n - 1
		if e < 0 {
			e = -e
		}
		s += "e" + sign + strconv.Itoa(e)
	}
	if neg {
		return "-" + s
	}
	return s
}
