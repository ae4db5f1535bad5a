package scan

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"io"
	"math/bits"
	"sort"

	"github.com/cavra-dev/cavra"
)

// maxSafetensorsHeader is the safetensors library's own limit.
const maxSafetensorsHeader = 100 << 20

// safetensorsDtypeBits gives each dtype's width; sub-byte types are packed.
var safetensorsDtypeBits = map[string]uint64{
	"BOOL": 8, "U8": 8, "I8": 8, "F8_E5M2": 8, "F8_E4M3": 8, "F8_E8M0": 8, "E8M0": 8,
	"I16": 16, "U16": 16, "F16": 16, "BF16": 16,
	"I32": 32, "U32": 32, "F32": 32, "C64": 64,
	"I64": 64, "U64": 64, "F64": 64,
	"F4": 4, "F6_E2M3": 6, "F6_E3M2": 6,
}

type safetensorsTensor struct {
	Dtype       string   `json:"dtype"`
	Shape       []uint64 `json:"shape"`
	DataOffsets []uint64 `json:"data_offsets"`
}

// scanSafetensors validates the header: bounds, overlaps, dtype and shape against byte length,
// metadata types, duplicate keys.
func (j *job) scanSafetensors(src source, sc scope) {
	rc, err := src.open()
	if err != nil {
		sc.add("scan.read-error", cavra.SeverityMedium, "", "open: %v", err)
		return
	}
	defer rc.Close()
	var lenBuf [8]byte
	if _, err := io.ReadFull(rc, lenBuf[:]); err != nil {
		sc.add("safetensors.corrupt", cavra.SeverityMedium, "offset 0", "cannot read header length: %v", err)
		return
	}
	n := binary.LittleEndian.Uint64(lenBuf[:])
	if n > maxSafetensorsHeader || n > uint64(src.size-8) {
		sc.add("safetensors.header-bounds", cavra.SeverityMedium, "offset 0",
			"header length %d exceeds the file (%d bytes) or the %d-byte limit", n, src.size, maxSafetensorsHeader)
		return
	}
	// ReadAll grows with the bytes actually present, so a header length that lies costs nothing.
	header, err := io.ReadAll(io.LimitReader(rc, int64(n)))
	if err != nil || uint64(len(header)) != n {
		sc.add("safetensors.corrupt", cavra.SeverityMedium, "offset 8", "cannot read the %d-byte header (got %d bytes): %v", n, len(header), err)
		return
	}
	dataLen := uint64(src.size) - 8 - n
	checkSafetensorsHeader(header, dataLen, sc)
}

func checkSafetensorsHeader(header []byte, dataLen uint64, sc scope) {
	if dups := duplicateTopKeys(header); len(dups) > 0 {
		sc.add("safetensors.duplicate-key", cavra.SeverityMedium, "header",
			"header repeats key %q: parsers disagree on which entry wins", dups[0])
	}
	var entries map[string]json.RawMessage
	if err := json.Unmarshal(header, &entries); err != nil {
		sc.add("safetensors.corrupt", cavra.SeverityMedium, "header", "header is not a JSON object: %v", err)
		return
	}
	type span struct {
		name       string
		begin, end uint64
	}
	var spans []span
	names := make([]string, 0, len(entries))
	for k := range entries {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, name := range names {
		raw := entries[name]
		loc := "tensor " + printableName(name)
		if name == "__metadata__" {
			var meta map[string]any
			if err := json.Unmarshal(raw, &meta); err != nil {
				sc.add("safetensors.metadata-type", cavra.SeverityMedium, "header __metadata__", "__metadata__ is not an object of strings")
				continue
			}
			keys := make([]string, 0, len(meta))
			for k := range meta {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			for _, k := range keys {
				if _, ok := meta[k].(string); !ok {
					sc.add("safetensors.metadata-type", cavra.SeverityMedium, "header __metadata__",
						"metadata value %q is %T, not a string", k, meta[k])
				}
			}
			continue
		}
		var t safetensorsTensor
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&t); err != nil {
			sc.add("safetensors.bad-entry", cavra.SeverityMedium, loc, "tensor entry does not match {dtype, shape, data_offsets}: %v", err)
			continue
		}
		width, ok := safetensorsDtypeBits[t.Dtype]
		if !ok {
			sc.add("safetensors.dtype", cavra.SeverityMedium, loc, "unknown dtype %q", t.Dtype)
		}
		if len(t.DataOffsets) != 2 {
			sc.add("safetensors.bad-entry", cavra.SeverityMedium, loc, "data_offsets has %d values, want 2", len(t.DataOffsets))
			continue
		}
		begin, end := t.DataOffsets[0], t.DataOffsets[1]
		if begin > end || end > dataLen {
			sc.add("safetensors.offset-bounds", cavra.SeverityMedium, loc,
				"data_offsets [%d, %d] fall outside the %d-byte data section", begin, end, dataLen)
			continue
		}
		if ok {
			want, overflow := width, false
			for _, d := range t.Shape {
				hi, lo := bits.Mul64(want, d)
				if hi != 0 {
					overflow = true
					break
				}
				want = lo
			}
			wantBytes := (want + 7) / 8
			if overflow || wantBytes != end-begin {
				sc.add("safetensors.size-mismatch", cavra.SeverityMedium, loc,
					"dtype %s and shape %v need %s bytes but data_offsets span %d", t.Dtype, t.Shape, sizeText(wantBytes, overflow), end-begin)
			}
		}
		spans = append(spans, span{name, begin, end})
	}
	sort.Slice(spans, func(a, b int) bool {
		if spans[a].begin != spans[b].begin {
			return spans[a].begin < spans[b].begin
		}
		return spans[a].end < spans[b].end
	})
	var covered uint64
	for i, s := range spans {
		if i > 0 && s.begin < spans[i-1].end {
			sc.add("safetensors.overlap", cavra.SeverityMedium, "tensor "+printableName(s.name),
				"data overlaps tensor %s", printableName(spans[i-1].name))
		} else if s.begin > covered {
			sc.add("safetensors.gap", cavra.SeverityLow, "tensor "+printableName(s.name),
				"%d unreferenced bytes before this tensor's data", s.begin-covered)
		}
		covered = max(covered, s.end)
	}
	if covered < dataLen && len(spans) > 0 {
		sc.add("safetensors.trailing-data", cavra.SeverityLow, "data section",
			"%d bytes after the last tensor are not referenced by the header", dataLen-covered)
	}
}

// duplicateTopKeys lists keys that appear more than once at the top level of a JSON object.
func duplicateTopKeys(data []byte) []string {
	dec := json.NewDecoder(bytes.NewReader(data))
	tok, err := dec.Token()
	if err != nil || tok != json.Delim('{') {
		return nil
	}
	seen := map[string]bool{}
	var dups []string
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return dups
		}
		key, _ := tok.(string)
		if seen[key] {
			dups = append(dups, key)
		}
		seen[key] = true
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			return dups
		}
	}
	return dups
}
