package scan

import (
	"bytes"
	"context"
	"encoding/binary"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/cavra-dev/cavra"
)

// overlappingZip lists one local entry twice in the central directory under two names: both
// members share the same compressed bytes, the core of overlapping-entry zip bombs.
func overlappingZip(t *testing.T) []byte {
	t.Helper()
	z := storedZip(t, []zipEntry{{name: "a", data: bytes.Repeat([]byte{'x'}, 1000)}})
	eocd := len(z) - 22
	cdOff := int(binary.LittleEndian.Uint32(z[eocd+16:]))
	cdSize := int(binary.LittleEndian.Uint32(z[eocd+12:]))
	rec := slices.Clone(z[cdOff : cdOff+cdSize])
	rec[46] = 'b' // the name follows the 46-byte fixed part
	out := slices.Clone(z[:cdOff+cdSize])
	out = append(out, rec...)
	tail := slices.Clone(z[eocd:])
	binary.LittleEndian.PutUint16(tail[8:], 2)
	binary.LittleEndian.PutUint16(tail[10:], 2)
	binary.LittleEndian.PutUint32(tail[12:], uint32(2*cdSize))
	return append(out, tail...)
}

func nestedZip(t *testing.T, depth int, inner []byte) []byte {
	t.Helper()
	data := inner
	for range depth {
		data = storedZip(t, []zipEntry{{name: "inner", data: data}})
	}
	return data
}

func TestLimits(t *testing.T) {
	marks := append([]byte{0x80, 0x02}, bytes.Repeat([]byte{'('}, maxPickleStack+1)...)
	for _, tc := range []struct {
		name string
		data []byte
		opts Options
		rule string
	}{
		{name: "overlapping members", data: overlappingZip(t), rule: "zip.overlapping-members"},
		{name: "nesting too deep", data: nestedZip(t, 5, pickleOSSystemProto0), rule: "zip.nesting-too-deep"},
		{name: "nesting within depth", data: nestedZip(t, 2, pickleOSSystemProto0), rule: "pickle.dangerous-import"},
		{name: "inflate budget", data: storedZip(t, []zipEntry{{name: "a.pkl", data: bytes.Repeat([]byte{'N', '0'}, 1<<20), deflate: true}}),
			opts: Options{MaxInflate: 1 << 20, MaxRatio: 1 << 30}, rule: "zip.bomb"},
		{name: "mark flood", data: marks, rule: "pickle.too-complex"},
		{name: "huge declared string", data: []byte{0x80, 0x04, 0x8d, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f, '.'}, rule: "pickle.truncated"},
		{name: "sparse memo", data: []byte("\x80\x02N" + "r\xff\xff\xff\xff" + "j\xff\xff\xff\xff."), rule: ""},
		{name: "unset memo", data: []byte("\x80\x02h\x05."), rule: "pickle.corrupt"},
		{name: "protocol 6 is not a pickle Python loads", data: []byte("\x80\x06N."), rule: ""},
		{name: "protocol 6 after a valid start", data: []byte("\x80\x02N\x80\x06."), rule: "pickle.corrupt"},
		{name: "extension import", data: []byte("\x80\x02\x82\x01)R."), rule: "pickle.extension-import"},
		{name: "gguf huge count", data: ggufFile(nil, 0, nil)[:8], rule: "gguf.corrupt"},
		{name: "safetensors huge header", data: binary.LittleEndian.AppendUint64(nil, 1<<60), rule: ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "sample")
			if err := os.WriteFile(p, tc.data, 0o644); err != nil {
				t.Fatal(err)
			}
			r := New(tc.opts).ScanFile(context.Background(), p)
			if r.Error != "" {
				t.Fatalf("error: %s", r.Error)
			}
			if tc.rule == "" {
				if len(r.Findings) != 0 {
					t.Errorf("unexpected findings %+v", r.Findings)
				}
				return
			}
			if !slices.Contains(ruleIDs(r.Findings), tc.rule) {
				t.Errorf("missing %s in %+v", tc.rule, r.Findings)
			}
			if r.Verdict == cavra.VerdictClean {
				t.Errorf("verdict clean with findings %+v", r.Findings)
			}
		})
	}
}

// TestMemoNumbering checks that MEMOIZE numbers entries like Python's len(memo) even when an
// index was first stored far ahead of the dense part: a mismatch would let a GET resolve to a
// different string than Python's.
func TestMemoNumbering(t *testing.T) {
	var b []byte
	b = append(b, 0x80, 0x04)
	b = append(b, sbu("x")...)
	b = append(b, 'r', 0x00, 0x20, 0x00, 0x00, '0') // LONG_BINPUT 8192 (sparse), POP
	b = append(b, sbu("os")...)
	b = append(b, 0x94, '0') // MEMOIZE -> index 1 (memo holds 8192 and 1... Python: len(memo) == 1)
	b = append(b, sbu("system")...)
	b = append(b, 0x94, '0') // MEMOIZE -> index 2
	b = append(b, 'h', 1, 'h', 2, 0x93, '.')
	c := newCollector()
	walkPickles(context.Background(), bytes.NewReader(b), 0, int64(len(b)), DefaultRules(), scope{c: c})
	got := c.result()
	if len(got) != 1 || got[0].RuleID != "pickle.dangerous-import" || !bytes.Contains([]byte(got[0].Detail), []byte("os.system")) {
		t.Fatalf("findings %+v, want the os.system import resolved through the memo", got)
	}
}
