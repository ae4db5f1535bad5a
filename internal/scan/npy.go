package scan

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/bits"
	"strconv"
	"strings"

	"github.com/cavra-dev/cavra"
)

// maxNPYHeader bounds the header dict numpy writes (it pads to 64 bytes; real headers are tiny).
const maxNPYHeader = 1 << 20

// npyHeader is the parsed header of a .npy file.
type npyHeader struct {
	descr   any
	shape   []int64
	dataOff int64
}

// scanNPY checks a .npy array: object dtypes mean the body is a pickle, which is walked.
func (j *job) scanNPY(src source, sc scope) {
	rc, err := src.open()
	if err != nil {
		sc.add("scan.read-error", cavra.SeverityMedium, "", "open: %v", err)
		return
	}
	defer rc.Close()
	br := bufio.NewReaderSize(rc, pickleBufSize)
	h, err := readNPYHeader(br, src.size)
	if err != nil {
		sc.add("npy.corrupt", cavra.SeverityMedium, "offset 0", "unreadable .npy header: %v", err)
		return
	}
	if hasObjectDtype(h.descr) {
		sc.add("npy.object-array", cavra.SeverityMedium, offset(h.dataOff),
			"array holds Python objects: numpy.load(allow_pickle=True) unpickles the body")
		walkPickles(j.ctx, br, h.dataOff, src.size-h.dataOff, j.s.rules, sc)
		return
	}
	itemsize, ok := dtypeItemSize(h.descr)
	if !ok {
		return
	}
	want, overflow := uint64(itemsize), false
	for _, d := range h.shape {
		hi, lo := bits.Mul64(want, uint64(d))
		if hi != 0 {
			overflow = true
			break
		}
		want = lo
	}
	have := uint64(src.size - h.dataOff)
	if overflow || want != have {
		sc.add("npy.size-mismatch", cavra.SeverityLow, offset(h.dataOff),
			"header describes %s bytes of data but the file holds %d", sizeText(want, overflow), have)
	}
}

func sizeText(n uint64, overflow bool) string {
	if overflow {
		return "more than 2^64"
	}
	return strconv.FormatUint(n, 10)
}

func readNPYHeader(r io.Reader, size int64) (npyHeader, error) {
	var pre [8]byte
	if _, err := io.ReadFull(r, pre[:]); err != nil {
		return npyHeader{}, fmt.Errorf("read preamble: %w", err)
	}
	if string(pre[:6]) != "\x93NUMPY" {
		return npyHeader{}, errors.New("bad magic")
	}
	var hlen uint64
	dataOff := int64(10)
	switch pre[6] {
	case 1:
		var b [2]byte
		if _, err := io.ReadFull(r, b[:]); err != nil {
			return npyHeader{}, fmt.Errorf("read header length: %w", err)
		}
		hlen = uint64(binary.LittleEndian.Uint16(b[:]))
	case 2, 3:
		var b [4]byte
		if _, err := io.ReadFull(r, b[:]); err != nil {
			return npyHeader{}, fmt.Errorf("read header length: %w", err)
		}
		hlen = uint64(binary.LittleEndian.Uint32(b[:]))
		dataOff = 12
	default:
		return npyHeader{}, fmt.Errorf("unsupported format version %d.%d", pre[6], pre[7])
	}
	if hlen > maxNPYHeader || int64(hlen) > size-dataOff {
		return npyHeader{}, fmt.Errorf("header length %d exceeds the file or the %d-byte limit", hlen, maxNPYHeader)
	}
	buf := make([]byte, hlen)
	if _, err := io.ReadFull(r, buf); err != nil {
		return npyHeader{}, fmt.Errorf("read header: %w", err)
	}
	v, err := parsePyLiteral(string(buf))
	if err != nil {
		return npyHeader{}, fmt.Errorf("header: %w", err)
	}
	d, ok := v.(map[string]any)
	if !ok {
		return npyHeader{}, errors.New("header is not a dict")
	}
	h := npyHeader{descr: d["descr"], dataOff: dataOff + int64(hlen)}
	if h.descr == nil {
		return npyHeader{}, errors.New("header has no descr")
	}
	shape, ok := d["shape"].([]any)
	if !ok {
		return npyHeader{}, errors.New("header shape is not a tuple")
	}
	for _, s := range shape {
		n, ok := s.(int64)
		if !ok || n < 0 {
			return npyHeader{}, errors.New("header shape holds a non-dimension")
		}
		h.shape = append(h.shape, n)
	}
	return h, nil
}

// hasObjectDtype reports whether a numpy descr (a type string, or a structured list of fields)
// includes the object type.
func hasObjectDtype(descr any) bool {
	switch d := descr.(type) {
	case string:
		t := strings.TrimLeft(d, "<>|=")
		return strings.HasPrefix(t, "O")
	case []any:
		for _, f := range d {
			if hasObjectDtype(f) {
				return true
			}
		}
	}
	return false
}

// dtypeItemSize returns the byte size of a simple descr like "<f4", "|S10", "<U8".
func dtypeItemSize(descr any) (int64, bool) {
	s, ok := descr.(string)
	if !ok || len(s) < 2 {
		return 0, false
	}
	t := strings.TrimLeft(s, "<>|=")
	if t == "" {
		return 0, false
	}
	kind, digits := t[0], t[1:]
	if i := strings.IndexByte(digits, '['); i >= 0 { // datetime units: <M8[ns]
		digits = digits[:i]
	}
	n, err := strconv.ParseInt(digits, 10, 64)
	if err != nil || n <= 0 {
		return 0, false
	}
	switch kind {
	case 'b', 'i', 'u', 'f', 'c', 'S', 'V', 'M', 'm', 'a':
		return n, true
	case 'U':
		return 4 * n, true
	}
	return 0, false
}

// parsePyLiteral parses the Python literal subset numpy headers use: dicts, tuples, lists,
// strings, integers, True/False/None.
func parsePyLiteral(s string) (any, error) {
	p := &pyParser{s: s}
	v, err := p.value(0)
	if err != nil {
		return nil, err
	}
	p.skipSpace()
	if p.i != len(p.s) {
		return nil, fmt.Errorf("trailing text at %d", p.i)
	}
	return v, nil
}

type pyParser struct {
	s string
	i int
}

func (p *pyParser) skipSpace() {
	for p.i < len(p.s) && strings.IndexByte(" \t\r\n", p.s[p.i]) >= 0 {
		p.i++
	}
}

func (p *pyParser) value(depth int) (any, error) {
	if depth > 32 {
		return nil, errors.New("nesting too deep")
	}
	p.skipSpace()
	if p.i >= len(p.s) {
		return nil, errors.New("unexpected end")
	}
	switch c := p.s[p.i]; {
	case c == '{':
		p.i++
		m := map[string]any{}
		for {
			p.skipSpace()
			if p.i < len(p.s) && p.s[p.i] == '}' {
				p.i++
				return m, nil
			}
			k, err := p.value(depth + 1)
			if err != nil {
				return nil, err
			}
			ks, ok := k.(string)
			if !ok {
				return nil, fmt.Errorf("dict key at %d is not a string", p.i)
			}
			p.skipSpace()
			if p.i >= len(p.s) || p.s[p.i] != ':' {
				return nil, fmt.Errorf("expected ':' at %d", p.i)
			}
			p.i++
			v, err := p.value(depth + 1)
			if err != nil {
				return nil, err
			}
			m[ks] = v
			if err := p.sep('}'); err != nil {
				return nil, err
			}
		}
	case c == '(' || c == '[':
		closer := byte(')')
		if c == '[' {
			closer = ']'
		}
		p.i++
		var out []any
		for {
			p.skipSpace()
			if p.i < len(p.s) && p.s[p.i] == closer {
				p.i++
				if out == nil {
					out = []any{}
				}
				return out, nil
			}
			v, err := p.value(depth + 1)
			if err != nil {
				return nil, err
			}
			out = append(out, v)
			if err := p.sep(closer); err != nil {
				return nil, err
			}
		}
	case c == '\'' || c == '"':
		end := strings.IndexByte(p.s[p.i+1:], c)
		if end < 0 {
			return nil, errors.New("unterminated string")
		}
		v := p.s[p.i+1 : p.i+1+end]
		p.i += end + 2
		return v, nil
	case c == '-' || c >= '0' && c <= '9':
		start := p.i
		p.i++
		for p.i < len(p.s) && p.s[p.i] >= '0' && p.s[p.i] <= '9' {
			p.i++
		}
		if p.i < len(p.s) && p.s[p.i] == 'L' { // Python 2 long suffix
			p.i++
			return strconv.ParseInt(p.s[start:p.i-1], 10, 64)
		}
		return strconv.ParseInt(p.s[start:p.i], 10, 64)
	default:
		for _, kw := range []struct {
			word string
			val  any
		}{{"True", true}, {"False", false}, {"None", nil}} {
			if strings.HasPrefix(p.s[p.i:], kw.word) {
				p.i += len(kw.word)
				return kw.val, nil
			}
		}
		return nil, fmt.Errorf("unexpected %q at %d", c, p.i)
	}
}

// sep consumes a ',' or leaves the closer for the caller.
func (p *pyParser) sep(closer byte) error {
	p.skipSpace()
	if p.i < len(p.s) && p.s[p.i] == ',' {
		p.i++
		return nil
	}
	if p.i < len(p.s) && p.s[p.i] == closer {
		return nil
	}
	return fmt.Errorf("expected ',' or %q at %d", closer, p.i)
}
