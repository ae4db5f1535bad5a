package audit

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
)

// Checking that bytes are canonical JSON without building the canonical form: Verify reads
// every record of the log, and allocating a second copy of each would dominate its time.

// span is a [start, end) range of the input.
type span struct{ start, end int }

// checkCanonical reports whether in is canonical JSON (see Canonicalize) and, for a top-level
// object, returns the spans of its member names (without quotes) and values.
func checkCanonical(in []byte) (keys, vals []span, err error) {
	c := &canonChecker{in: in}
	if len(in) > 0 && in[0] == '{' {
		keys, vals = make([]span, 0, 8), make([]span, 0, 8)
		keys, vals, err = c.objectInto(0, keys, vals)
	} else {
		err = c.value(0)
	}
	if err == nil && c.pos != len(in) {
		err = c.errorf("unexpected data after the top-level value")
	}
	return keys, vals, err
}

type canonChecker struct {
	in  []byte
	pos int
}

func (c *canonChecker) errorf(format string, args ...any) error {
	return fmt.Errorf("not canonical json: offset %d: %s", c.pos, fmt.Sprintf(format, args...))
}

func (c *canonChecker) value(depth int) error {
	if depth > maxDepth {
		return c.errorf("nesting deeper than %d", maxDepth)
	}
	if c.pos >= len(c.in) {
		return c.errorf("unexpected end of input")
	}
	switch ch := c.in[c.pos]; {
	case ch == '{':
		_, _, err := c.objectInto(depth, nil, nil)
		return err
	case ch == '[':
		return c.array(depth)
	case ch == '"':
		_, _, err := c.str()
		return err
	case ch == 't':
		return c.literal("true")
	case ch == 'f':
		return c.literal("false")
	case ch == 'n':
		return c.literal("null")
	case ch == '-' || (ch >= '0' && ch <= '9'):
		return c.number()
	default:
		return c.errorf("unexpected character %q", ch)
	}
}

func (c *canonChecker) literal(word string) error {
	if !bytes.HasPrefix(c.in[c.pos:], []byte(word)) {
		return c.errorf("invalid literal")
	}
	c.pos += len(word)
	return nil
}

// objectInto checks an object; when keys is non-nil it appends the member spans to keys and
// vals (the top-level record's members).
func (c *canonChecker) objectInto(depth int, keys, vals []span) ([]span, []span, error) {
	top := keys != nil
	c.pos++ // {
	if c.pos < len(c.in) && c.in[c.pos] == '}' {
		c.pos++
		return nil, nil, nil
	}
	var prev span
	prevEscaped := false
	for i := 0; ; i++ {
		if c.pos >= len(c.in) || c.in[c.pos] != '"' {
			return nil, nil, c.errorf("expected a member name")
		}
		key, escaped, err := c.str()
		if err != nil {
			return nil, nil, err
		}
		key = span{key.start + 1, key.end - 1}
		if i > 0 {
			if cmp := c.compareKeys(prev, prevEscaped, key, escaped); cmp >= 0 {
				if cmp == 0 {
					return nil, nil, c.errorf("duplicate member name")
				}
				return nil, nil, c.errorf("member names out of order")
			}
		}
		prev, prevEscaped = key, escaped
		if c.pos >= len(c.in) || c.in[c.pos] != ':' {
			return nil, nil, c.errorf("expected ':' right after a member name")
		}
		c.pos++
		start := c.pos
		if err := c.value(depth + 1); err != nil {
			return nil, nil, err
		}
		if top {
			keys = append(keys, key)
			vals = append(vals, span{start, c.pos})
		}
		if c.pos >= len(c.in) {
			return nil, nil, c.errorf("unterminated object")
		}
		switch c.in[c.pos] {
		case ',':
			c.pos++
		case '}':
			c.pos++
			return keys, vals, nil
		default:
			return nil, nil, c.errorf("expected ',' or '}' right after a member")
		}
	}
}

// compareKeys orders member names by UTF-16 code units. Unescaped ASCII names compare as
// bytes; anything else is decoded first.
func (c *canonChecker) compareKeys(a span, aEsc bool, b span, bEsc bool) int {
	ab, bb := c.in[a.start:a.end], c.in[b.start:b.end]
	if !aEsc && !bEsc && isASCIIBytes(ab) && isASCIIBytes(bb) {
		return bytes.Compare(ab, bb)
	}
	return slices.Compare(utf16Of(ab, aEsc), utf16Of(bb, bEsc))
}

func isASCIIBytes(b []byte) bool {
	for _, c := range b {
		if c >= 0x80 {
			return false
		}
	}
	return true
}

func utf16Of(raw []byte, escaped bool) []uint16 {
	s := string(raw)
	if escaped {
		var v string
		if err := json.Unmarshal(append(append([]byte{'"'}, raw...), '"'), &v); err == nil {
			s = v
		}
	}
	return utf16.Encode([]rune(s))
}

func (c *canonChecker) array(depth int) error {
	c.pos++ // [
	if c.pos < len(c.in) && c.in[c.pos] == ']' {
		c.pos++
		return nil
	}
	for {
		if err := c.value(depth + 1); err != nil {
			return err
		}
		if c.pos >= len(c.in) {
			return c.errorf("unterminated array")
		}
		switch c.in[c.pos] {
		case ',':
			c.pos++
		case ']':
			c.pos++
			return nil
		default:
			return c.errorf("expected ',' or ']' right after an element")
		}
	}
}

// str checks a string is written the canonical way and returns its span with the quotes and
// whether it holds an escape.
func (c *canonChecker) str() (span, bool, error) {
	start := c.pos
	c.pos++
	escaped := false
	for c.pos < len(c.in) {
		ch := c.in[c.pos]
		switch {
		case ch == '"':
			c.pos++
			return span{start, c.pos}, escaped, nil
		case ch < 0x20:
			return span{}, false, c.errorf("unescaped control character")
		case ch == '\\':
			escaped = true
			if c.pos+1 >= len(c.in) {
				return span{}, false, c.errorf("unterminated escape")
			}
			switch c.in[c.pos+1] {
			case '"', '\\', 'b', 'f', 'n', 'r', 't':
				c.pos += 2
			case 'u':
				// Only control characters without a short escape are written as \u00xx.
				if c.pos+6 > len(c.in) || c.in[c.pos+2] != '0' || c.in[c.pos+3] != '0' {
					return span{}, false, c.errorf("\\u escape of a character that is written as itself")
				}
				v, err := strconv.ParseUint(string(c.in[c.pos+4:c.pos+6]), 16, 8)
				hex := c.in[c.pos+4 : c.pos+6]
				if err != nil || v >= 0x20 || bytes.ContainsAny(hex, "ABCDEF") ||
					v == '\b' || v == '\f' || v == '\n' || v == '\r' || v == '\t' {
					return span{}, false, c.errorf("non-canonical \\u escape")
				}
				c.pos += 6
			default:
				return span{}, false, c.errorf("non-canonical escape")
			}
		case ch < utf8.RuneSelf:
			c.pos++
		default:
			r, size := utf8.DecodeRune(c.in[c.pos:])
			if r == utf8.RuneError && size <= 1 {
				return span{}, false, c.errorf("invalid UTF-8")
			}
			c.pos += size
		}
	}
	return span{}, false, c.errorf("unterminated string")
}

// isSmallCanonicalInt reports whether raw is an integer of at most 15 digits written
// canonically: such integers are exact doubles and print as themselves, so the common case
// (indexes, counts) skips float parsing.
func isSmallCanonicalInt(raw []byte) bool {
	digits := raw
	if len(digits) > 0 && digits[0] == '-' {
		digits = digits[1:]
		if len(digits) == 1 && digits[0] == '0' {
			return false // -0 prints as 0
		}
	}
	if len(digits) == 0 || len(digits) > 15 || (digits[0] == '0' && len(digits) > 1) {
		return false
	}
	for _, d := range digits {
		if d < '0' || d > '9' {
			return false
		}
	}
	return true
}

func (c *canonChecker) number() error {
	start := c.pos
	for c.pos < len(c.in) {
		ch := c.in[c.pos]
		if (ch >= '0' && ch <= '9') || ch == '-' || ch == '+' || ch == '.' || ch == 'e' {
			c.pos++
			continue
		}
		break
	}
	raw := c.in[start:c.pos]
	if isSmallCanonicalInt(raw) {
		return nil
	}
	text := string(raw)
	f, err := strconv.ParseFloat(text, 64)
	if err != nil || math.IsInf(f, 0) || formatNumber(f) != text {
		return c.errorf("number %q is not in canonical form", text)
	}
	return nil
}
