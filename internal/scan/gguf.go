package scan

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"math/bits"
	"strings"

	"github.com/cavra-dev/cavra"
)

// GGUF metadata value types.
const (
	ggufUint8 = iota
	ggufInt8
	ggufUint16
	ggufInt16
	ggufUint32
	ggufInt32
	ggufFloat32
	ggufBool
	ggufString
	ggufArray
	ggufUint64
	ggufInt64
	ggufFloat64
)

const (
	maxGGUFKey      = 64 << 10
	maxGGUFTemplate = 4 << 20
	maxGGUFDims     = 8
	maxGGUFNesting  = 4
)

// ggmlTypeSize gives bytes per block and elements per block for the tensor types whose layout
// is fixed; other types are only bounds-checked.
var ggmlTypeSize = map[uint32][2]uint64{
	0: {4, 1}, 1: {2, 1}, 2: {18, 32}, 3: {20, 32}, 6: {22, 32}, 7: {24, 32}, 8: {34, 32}, 9: {36, 32},
	10: {84, 256}, 11: {110, 256}, 12: {144, 256}, 13: {176, 256}, 14: {210, 256}, 15: {292, 256},
	24: {1, 1}, 25: {2, 1}, 26: {4, 1}, 27: {8, 1}, 28: {8, 1}, 30: {2, 1},
}

// templateInjectionMarkers are the building blocks of Jinja sandbox escapes and server-side
// template injection; legitimate chat templates use none of them.
var templateInjectionMarkers = []string{
	"__class__", "__mro__", "__subclasses__", "__globals__", "__builtins__", "__import__",
	"__init__", "__base__", "__getattribute__", "__dict__", "__code__", "__reduce__",
	"popen", "subprocess", "os.system", ".system(", "eval(", "exec(", "import os",
	"lipsum", "cycler", "joiner", "_templatereference", "request.application", "url_for.",
	"get_flashed_messages", "|attr(", "| attr(", "\\x5f\\x5f", "\\u005f", "\\137\\137",
}

type ggufReader struct {
	br    *bufio.Reader
	pos   int64
	size  int64
	wide  bool // v2+: 64-bit counts and lengths
	order binary.ByteOrder
}

var errGGUFBounds = errors.New("length exceeds the remaining file")

func (r *ggufReader) read(n int) ([]byte, error) {
	if int64(n) > r.size-r.pos {
		return nil, errGGUFBounds
	}
	b, err := r.br.Peek(n)
	if err != nil {
		return nil, err
	}
	r.br.Discard(n) //nolint:errcheck // Peek guaranteed n bytes
	r.pos += int64(n)
	return b, nil
}

func (r *ggufReader) skip(n uint64) error {
	if n > uint64(r.size-r.pos) {
		return errGGUFBounds
	}
	d, err := r.br.Discard(int(n))
	r.pos += int64(d)
	return err
}

func (r *ggufReader) u32() (uint32, error) {
	b, err := r.read(4)
	if err != nil {
		return 0, err
	}
	return r.order.Uint32(b), nil
}

func (r *ggufReader) u64() (uint64, error) {
	b, err := r.read(8)
	if err != nil {
		return 0, err
	}
	return r.order.Uint64(b), nil
}

func (r *ggufReader) count() (uint64, error) {
	if r.wide {
		return r.u64()
	}
	v, err := r.u32()
	return uint64(v), err
}

// str reads a string, keeping at most keep bytes (the rest is skipped).
func (r *ggufReader) str(keep int) (string, uint64, error) {
	n, err := r.count()
	if err != nil {
		return "", 0, err
	}
	if n > uint64(r.size-r.pos) {
		return "", n, errGGUFBounds
	}
	if n > uint64(keep) {
		return "", n, r.skip(n)
	}
	var sb strings.Builder
	for remaining := int(n); remaining > 0; {
		chunk := min(remaining, pickleBufSize)
		b, err := r.read(chunk)
		if err != nil {
			return "", n, err
		}
		sb.Write(b)
		remaining -= chunk
	}
	return sb.String(), n, nil
}

func ggufScalarSize(t uint32) (uint64, bool) {
	switch t {
	case ggufUint8, ggufInt8, ggufBool:
		return 1, true
	case ggufUint16, ggufInt16:
		return 2, true
	case ggufUint32, ggufInt32, ggufFloat32:
		return 4, true
	case ggufUint64, ggufInt64, ggufFloat64:
		return 8, true
	}
	return 0, false
}

// scanGGUF walks GGUF metadata and tensor infos: bounds, and chat templates for injection.
func (j *job) scanGGUF(src source, sc scope) {
	rc, err := src.open()
	if err != nil {
		sc.add("scan.read-error", cavra.SeverityMedium, "", "open: %v", err)
		return
	}
	defer rc.Close()
	r := &ggufReader{br: bufio.NewReaderSize(rc, pickleBufSize), size: src.size, order: binary.LittleEndian}
	if err := j.walkGGUF(r, sc); err != nil {
		sc.add("gguf.corrupt", cavra.SeverityMedium, offset(r.pos), "GGUF structure is damaged: %v", err)
	}
}

func (j *job) walkGGUF(r *ggufReader, sc scope) error {
	if _, err := r.read(4); err != nil {
		return fmt.Errorf("magic: %w", err)
	}
	version, err := r.u32()
	if err != nil {
		return fmt.Errorf("version: %w", err)
	}
	if version == 0 || version > 3 {
		if bits.ReverseBytes32(version) >= 1 && bits.ReverseBytes32(version) <= 3 {
			r.order = binary.BigEndian // big-endian GGUF exists for s390x
			version = bits.ReverseBytes32(version)
		} else {
			return fmt.Errorf("unsupported version %d", version)
		}
	}
	r.wide = version >= 2
	tensors, err := r.count()
	if err != nil {
		return fmt.Errorf("tensor count: %w", err)
	}
	kvs, err := r.count()
	if err != nil {
		return fmt.Errorf("metadata count: %w", err)
	}
	remaining := uint64(r.size - r.pos)
	if kvs > remaining/9 || tensors > remaining/16 {
		return fmt.Errorf("header declares %d metadata entries and %d tensors, more than %d bytes can hold", kvs, tensors, remaining)
	}
	alignment := uint64(32)
	for i := uint64(0); i < kvs; i++ {
		if i&0xfff == 0 {
			if err := j.ctx.Err(); err != nil {
				return err
			}
		}
		key, _, err := r.str(maxGGUFKey)
		if err != nil {
			return fmt.Errorf("metadata key %d: %w", i, err)
		}
		vt, err := r.u32()
		if err != nil {
			return fmt.Errorf("metadata %s type: %w", key, err)
		}
		isTemplate := strings.HasPrefix(key, "tokenizer.chat_template")
		if vt == ggufString && isTemplate {
			tmpl, n, err := r.str(maxGGUFTemplate)
			if err != nil {
				return fmt.Errorf("metadata %s: %w", key, err)
			}
			if n > maxGGUFTemplate {
				sc.add("gguf.chat-template-size", cavra.SeverityLow, "metadata "+printableName(key),
					"chat template of %d bytes is larger than the %d bytes the scanner inspects", n, maxGGUFTemplate)
			}
			checkChatTemplate(tmpl, "metadata "+printableName(key), sc)
			continue
		}
		if key == "general.alignment" && vt == ggufUint32 {
			a, err := r.u32()
			if err != nil {
				return fmt.Errorf("metadata %s: %w", key, err)
			}
			if a == 0 || a&(a-1) != 0 {
				sc.add("gguf.bad-alignment", cavra.SeverityMedium, "metadata general.alignment", "alignment %d is not a power of two", a)
			} else {
				alignment = uint64(a)
			}
			continue
		}
		if err := r.skipValue(vt, 0); err != nil {
			return fmt.Errorf("metadata %s: %w", printableName(key), err)
		}
	}

	type tinfo struct {
		name     string
		off, len uint64
		sized    bool
	}
	infos := make([]tinfo, 0, min(tensors, 1<<16))
	for i := uint64(0); i < tensors; i++ {
		name, _, err := r.str(maxGGUFKey)
		if err != nil {
			return fmt.Errorf("tensor %d name: %w", i, err)
		}
		nd, err := r.u32()
		if err != nil {
			return fmt.Errorf("tensor %s dims: %w", name, err)
		}
		if nd > maxGGUFDims {
			return fmt.Errorf("tensor %s has %d dimensions", printableName(name), nd)
		}
		elems, overflow := uint64(1), false
		for range nd {
			d, err := r.count()
			if err != nil {
				return fmt.Errorf("tensor %s dims: %w", name, err)
			}
			hi, lo := bits.Mul64(elems, d)
			overflow = overflow || hi != 0
			elems = lo
		}
		typ, err := r.u32()
		if err != nil {
			return fmt.Errorf("tensor %s type: %w", name, err)
		}
		off, err := r.u64()
		if err != nil {
			return fmt.Errorf("tensor %s offset: %w", name, err)
		}
		ti := tinfo{name: name, off: off}
		if ts, ok := ggmlTypeSize[typ]; ok && !overflow && elems%ts[1] == 0 {
			hi, lo := bits.Mul64(elems/ts[1], ts[0])
			ti.len, ti.sized = lo, hi == 0
		}
		if off%alignment != 0 {
			sc.add("gguf.misaligned-tensor", cavra.SeverityLow, "tensor "+printableName(name), "offset %d is not a multiple of the alignment %d", off, alignment)
		}
		if len(infos) < cap(infos) {
			infos = append(infos, ti)
		}
	}
	dataStart := (uint64(r.pos) + alignment - 1) / alignment * alignment
	var dataLen uint64
	if uint64(r.size) > dataStart {
		dataLen = uint64(r.size) - dataStart
	}
	for _, ti := range infos {
		end := ti.off + ti.len
		if ti.off > dataLen || (ti.sized && (end < ti.off || end > dataLen)) {
			sc.add("gguf.tensor-bounds", cavra.SeverityMedium, "tensor "+printableName(ti.name),
				"tensor data [%d, +%d) falls outside the %d-byte data section", ti.off, ti.len, dataLen)
		}
	}
	return nil
}

func (r *ggufReader) skipValue(vt uint32, depth int) error {
	if n, ok := ggufScalarSize(vt); ok {
		return r.skip(n)
	}
	switch vt {
	case ggufString:
		_, _, err := r.str(0)
		return err
	case ggufArray:
		if depth >= maxGGUFNesting {
			return errors.New("arrays nested too deep")
		}
		et, err := r.u32()
		if err != nil {
			return err
		}
		n, err := r.count()
		if err != nil {
			return err
		}
		if es, ok := ggufScalarSize(et); ok {
			hi, total := bits.Mul64(es, n)
			if hi != 0 {
				return errGGUFBounds
			}
			return r.skip(total)
		}
		if n > uint64(r.size-r.pos)/8 { // every string or array element takes at least 8 bytes
			return errGGUFBounds
		}
		for i := uint64(0); i < n; i++ {
			if err := r.skipValue(et, depth+1); err != nil {
				return err
			}
		}
		return nil
	}
	return fmt.Errorf("unknown value type %d", vt)
}

// checkChatTemplate looks for template-injection building blocks in a Jinja chat template.
func checkChatTemplate(tmpl, loc string, sc scope) {
	lower := strings.ToLower(tmpl)
	var hits []string
	for _, m := range templateInjectionMarkers {
		if strings.Contains(lower, m) {
			hits = append(hits, m)
		}
	}
	if len(hits) > 0 {
		sc.add("gguf.chat-template-injection", cavra.SeverityHigh, loc,
			"chat template contains template-injection constructs (%s): rendering it can run code", strings.Join(hits, ", "))
	}
}
