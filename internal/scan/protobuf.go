package scan

import (
	"errors"
	"fmt"
	"io"
)

// Protocol buffer wire types.
const (
	wireVarint  = 0
	wireFixed64 = 1
	wireBytes   = 2
	wireFixed32 = 5
)

const (
	maxProtoDepth  = 64
	maxProtoString = 64 << 10
	pbWindow       = 64 << 10
)

var errProtoTruncated = errors.New("field runs past the end of its message")

// pbReader decodes protocol buffer messages straight from an io.ReaderAt, so multi-gigabyte
// ONNX files with inline weights are walked without loading them: only tags, lengths and the
// few strings the checks need are read.
type pbReader struct {
	ra     io.ReaderAt
	size   int64
	win    []byte
	winOff int64
}

func newPBReader(ra io.ReaderAt, size int64) *pbReader {
	return &pbReader{ra: ra, size: size, winOff: -1}
}

func (p *pbReader) byteAt(off int64) (byte, error) {
	if off < 0 || off >= p.size {
		return 0, errProtoTruncated
	}
	if p.winOff < 0 || off < p.winOff || off >= p.winOff+int64(len(p.win)) {
		n := min(int64(pbWindow), p.size-off)
		if cap(p.win) < int(n) {
			p.win = make([]byte, pbWindow)
		}
		p.win = p.win[:n]
		if _, err := p.ra.ReadAt(p.win, off); err != nil && !errors.Is(err, io.EOF) {
			return 0, fmt.Errorf("read at %d: %w", off, err)
		}
		p.winOff = off
	}
	return p.win[off-p.winOff], nil
}

func (p *pbReader) varint(off, end int64) (uint64, int64, error) {
	var v uint64
	for shift := uint(0); shift < 64; shift += 7 {
		if off >= end {
			return 0, off, errProtoTruncated
		}
		b, err := p.byteAt(off)
		if err != nil {
			return 0, off, err
		}
		off++
		v |= uint64(b&0x7f) << shift
		if b < 0x80 {
			return v, off, nil
		}
	}
	return 0, off, errors.New("varint longer than 10 bytes")
}

// pbField is one decoded field: for bytes fields [start, end) is the payload.
type pbField struct {
	num        uint64
	typ        int
	val        uint64
	start, end int64
}

// fields calls fn for each field of the message in [start, end).
func (p *pbReader) fields(start, end int64, fn func(f pbField) error) error {
	off := start
	for off < end {
		tag, next, err := p.varint(off, end)
		if err != nil {
			return err
		}
		off = next
		f := pbField{num: tag >> 3, typ: int(tag & 7)}
		if f.num == 0 {
			return errors.New("field number 0")
		}
		switch f.typ {
		case wireVarint:
			f.val, off, err = p.varint(off, end)
			if err != nil {
				return err
			}
		case wireFixed64:
			if end-off < 8 {
				return errProtoTruncated
			}
			off += 8
		case wireFixed32:
			if end-off < 4 {
				return errProtoTruncated
			}
			off += 4
		case wireBytes:
			n, next, err := p.varint(off, end)
			if err != nil {
				return err
			}
			if n > uint64(end-next) {
				return errProtoTruncated
			}
			f.start, f.end = next, next+int64(n)
			off = f.end
		default:
			return fmt.Errorf("unsupported wire type %d", f.typ)
		}
		if err := fn(f); err != nil {
			return err
		}
	}
	return nil
}

// str reads a bytes field as a string, keeping at most maxProtoString bytes.
func (p *pbReader) str(f pbField) (string, error) {
	if f.typ != wireBytes {
		return "", fmt.Errorf("field %d is not a string", f.num)
	}
	n := min(f.end-f.start, maxProtoString)
	buf := make([]byte, n)
	if _, err := p.ra.ReadAt(buf, f.start); err != nil && !errors.Is(err, io.EOF) {
		return "", fmt.Errorf("read string: %w", err)
	}
	return string(buf), nil
}
