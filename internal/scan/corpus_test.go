package scan

import (
	"archive/zip"
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

// This file builds the hostile and benign samples the tests scan. Everything is written at test
// time; nothing here is ever loaded by Python.

func sbu(s string) []byte { return append([]byte{0x8c, byte(len(s))}, s...) } // SHORT_BINUNICODE

// pickleOSSystemProto0 is what pickle.dumps of a __reduce__ returning (os.system, ("echo",))
// looks like at protocol 0.
var pickleOSSystemProto0 = []byte("cos\nsystem\n(S'echo pwned'\ntR.")

// pickleStackGlobalMemo resolves STACK_GLOBAL through the memo (protocol 4 style).
func pickleStackGlobalMemo() []byte {
	var b []byte
	b = append(b, 0x80, 0x04)
	b = append(b, sbu("posix")...)
	b = append(b, 0x94) // MEMOIZE -> 0
	b = append(b, sbu("system")...)
	b = append(b, 0x94)       // MEMOIZE -> 1
	b = append(b, '0', '0')   // POP, POP: the strings now live only in the memo
	b = append(b, 'h', 0)     // BINGET 0
	b = append(b, 'h', 1)     // BINGET 1
	b = append(b, 0x93, 0x94) // STACK_GLOBAL, MEMOIZE
	b = append(b, sbu("id")...)
	b = append(b, 0x85, 'R', '.')
	return b
}

// pickleUnicodeEscape hides "os" behind a raw-unicode-escape UNICODE operand.
var pickleUnicodeEscape = []byte("V\\u006fs\nVsystem\n\x93Vid\n\x85R.")

// pickleStringEscape hides "subprocess" behind STRING hex escapes.
var pickleStringEscape = []byte("S'\\x73ubprocess'\nS'check_output'\n\x93(S'id'\ntR.")

// pickleComputedGlobal builds the module name at load time: getattr result fed to STACK_GLOBAL.
func pickleComputedGlobal() []byte {
	var b []byte
	b = append(b, 0x80, 0x04)
	b = append(b, sbu("builtins")...)
	b = append(b, sbu("str")...)
	b = append(b, 0x93) // builtins.str (allowlisted)
	b = append(b, sbu("so")...)
	b = append(b, 0x85, 'R') // str("so") -> a computed value
	b = append(b, sbu("system")...)
	b = append(b, 0x93)
	b = append(b, sbu("id")...)
	b = append(b, 0x85, 'R', '.')
	return b
}

// pickleBenignTorch is a state-dict pickle as torch.save writes it (protocol 2).
func pickleBenignTorch() []byte {
	var b []byte
	b = append(b, 0x80, 0x02)
	b = append(b, "ccollections\nOrderedDict\nq\x00)Rq\x01"...)
	b = append(b, 'X', 6, 0, 0, 0)
	b = append(b, "weight"...)
	b = append(b, "ctorch._utils\n_rebuild_tensor_v2\nq\x02("...)
	// persistent id ('storage', torch.FloatStorage, '0', 'cpu', 4)
	b = append(b, '(', 'X', 7, 0, 0, 0)
	b = append(b, "storage"...)
	b = append(b, "ctorch\nFloatStorage\nq\x03"...)
	b = append(b, 'X', 1, 0, 0, 0, '0', 'X', 3, 0, 0, 0)
	b = append(b, "cpu"...)
	b = append(b, 'K', 4, 't', 'Q')
	b = append(b, 'K', 0, 'K', 4, 0x85, 'K', 1, 0x85, 0x89)
	b = append(b, "ccollections\nOrderedDict\n)R"...)
	b = append(b, 't', 'R', 's', '.')
	return b
}

// pickleBenignData is a plain dict of lists: no imports at all.
func pickleBenignData() []byte {
	b := []byte{0x80, 0x05, '}', 0x94, '('}
	b = append(b, sbu("layers")...)
	b = append(b, ']', 0x94, '(', 'K', 1, 'K', 2, 'G')
	b = binary.BigEndian.AppendUint64(b, 0x3ff0000000000000)
	b = append(b, 'e', 'u', '.')
	return b
}

func storedZip(t testing.TB, members []zipEntry) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, m := range members {
		method := zip.Store
		if m.deflate {
			method = zip.Deflate
		}
		w, err := zw.CreateHeader(&zip.FileHeader{Name: m.name, Method: method})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write(m.data); err != nil {
			t.Fatal(err)
		}
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

type zipEntry struct {
	name    string
	data    []byte
	deflate bool
}

func torchZip(t testing.TB, dataPkl []byte, tensorBytes []byte) []byte {
	t.Helper()
	return storedZip(t, []zipEntry{
		{name: "model/data.pkl", data: dataPkl},
		{name: "model/byteorder", data: []byte("little")},
		{name: "model/data/0", data: tensorBytes},
		{name: "model/version", data: []byte("3\n")},
		{name: "model/.data/serialization_id", data: []byte("1234567890")},
	})
}

func npy(descr, shape string, body []byte) []byte {
	header := "{'descr': '" + descr + "', 'fortran_order': False, 'shape': " + shape + ", }"
	for (10+len(header)+1)%64 != 0 {
		header += " "
	}
	header += "\n"
	b := []byte("\x93NUMPY\x01\x00")
	b = binary.LittleEndian.AppendUint16(b, uint16(len(header)))
	b = append(b, header...)
	return append(b, body...)
}

func safetensorsFile(t testing.TB, header map[string]any, data []byte) []byte {
	t.Helper()
	h, err := json.Marshal(header)
	if err != nil {
		t.Fatal(err)
	}
	b := binary.LittleEndian.AppendUint64(nil, uint64(len(h)))
	b = append(b, h...)
	return append(b, data...)
}

type ggufKV struct {
	key string
	typ uint32
	val []byte
}

func ggufStr(s string) []byte {
	return append(binary.LittleEndian.AppendUint64(nil, uint64(len(s))), s...)
}

func ggufFile(kvs []ggufKV, tensors int, data []byte) []byte {
	b := []byte("GGUF")
	b = binary.LittleEndian.AppendUint32(b, 3)
	b = binary.LittleEndian.AppendUint64(b, uint64(tensors))
	b = binary.LittleEndian.AppendUint64(b, uint64(len(kvs)))
	for _, kv := range kvs {
		b = append(b, ggufStr(kv.key)...)
		b = binary.LittleEndian.AppendUint32(b, kv.typ)
		b = append(b, kv.val...)
	}
	for i := range tensors {
		b = append(b, ggufStr("blk."+string(rune('0'+i))+".weight")...)
		b = binary.LittleEndian.AppendUint32(b, 1)
		b = binary.LittleEndian.AppendUint64(b, 8)
		b = binary.LittleEndian.AppendUint32(b, 0) // F32
		b = binary.LittleEndian.AppendUint64(b, uint64(i*32))
	}
	for len(b)%32 != 0 {
		b = append(b, 0)
	}
	return append(b, data...)
}

// Protocol buffer encoding for the ONNX and SavedModel samples.
func pbVarint(b []byte, v uint64) []byte {
	for v >= 0x80 {
		b = append(b, byte(v)|0x80)
		v >>= 7
	}
	return append(b, byte(v))
}

func pbBytes(num int, payload []byte) []byte {
	b := pbVarint(nil, uint64(num)<<3|2)
	b = pbVarint(b, uint64(len(payload)))
	return append(b, payload...)
}

func pbUint(num int, v uint64) []byte {
	return pbVarint(pbVarint(nil, uint64(num)<<3), v)
}

func cat(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

func onnxNode(op, domain string) []byte {
	return cat(pbBytes(1, []byte("x")), pbBytes(2, []byte("y")), pbBytes(4, []byte(op)), pbBytes(7, []byte(domain)))
}

func onnxModel(nodes [][]byte, initializers [][]byte, opsetDomains ...string) []byte {
	var graph []byte
	for _, n := range nodes {
		graph = append(graph, pbBytes(1, n)...)
	}
	graph = append(graph, pbBytes(2, []byte("g"))...)
	for _, in := range initializers {
		graph = append(graph, pbBytes(5, in)...)
	}
	model := pbUint(1, 8)
	model = append(model, pbBytes(2, []byte("cavra-test"))...)
	model = append(model, pbBytes(7, graph)...)
	for _, d := range opsetDomains {
		model = append(model, pbBytes(8, cat(pbBytes(1, []byte(d)), pbUint(2, 1)))...)
	}
	return model
}

func onnxExternalTensor(name, location string) []byte {
	return cat(pbUint(1, 4), pbUint(2, 1), pbBytes(8, []byte(name)),
		pbBytes(13, cat(pbBytes(1, []byte("location")), pbBytes(2, []byte(location)))), pbUint(14, 1))
}

func savedModel(ops ...string) []byte {
	var graph []byte
	for i, op := range ops {
		graph = append(graph, pbBytes(1, cat(pbBytes(1, []byte{'n', byte('0' + i)}), pbBytes(2, []byte(op))))...)
	}
	meta := pbBytes(2, graph)
	return cat(pbUint(1, 1), pbBytes(2, meta))
}

func kerasZip(t testing.TB, config any) []byte {
	t.Helper()
	cfg, err := json.Marshal(config)
	if err != nil {
		t.Fatal(err)
	}
	return storedZip(t, []zipEntry{
		{name: "metadata.json", data: []byte(`{"keras_version": "3.6.0"}`), deflate: true},
		{name: "config.json", data: cfg, deflate: true},
		{name: "model.weights.h5", data: []byte("\x89HDF\r\n\x1a\n\x00\x00\x00\x00\x00\x08\x08\x00")},
	})
}

func kerasLayer(class, module, name string, extra map[string]any) map[string]any {
	cfg := map[string]any{"name": name}
	for k, v := range extra {
		cfg[k] = v
	}
	return map[string]any{"module": module, "class_name": class, "config": cfg, "registered_name": nil}
}

func kerasModel(layers ...map[string]any) map[string]any {
	ls := make([]any, len(layers))
	for i, l := range layers {
		ls[i] = l
	}
	return map[string]any{"module": "keras", "class_name": "Sequential",
		"config": map[string]any{"name": "seq", "layers": ls}, "registered_name": nil}
}

// marshalledLambda is a fake marshalled code object whose name table holds os and system, as
// marshal.dumps(compile(...)) writes them (short ASCII interned strings, flagged as refs).
var marshalledLambda = cat([]byte{0xe3, 0, 0, 0, 0}, []byte{0xda, 2}, []byte("os"), []byte{0xda, 6}, []byte("system"))

type sample struct {
	name    string
	data    []byte
	verdict string
	rules   []string // rule ids that must be reported
}

// corpus returns the Go-built samples: every format, evasion and container trick.
func corpus(t testing.TB) []sample {
	t.Helper()
	tensor := make([]byte, 16)
	bombData := make([]byte, 8<<20)
	evilTemplate := "{% for m in messages %}{{ m.content }}{% endfor %}{{ cycler.__init__.__globals__.os.popen('id').read() }}"
	goodTemplate := "{% for m in messages %}<|{{ m.role }}|>{{ m.content }}{% endfor %}"
	return []sample{
		{name: "pickle/os_system_p0.pkl", data: pickleOSSystemProto0, verdict: "malicious", rules: []string{"pickle.dangerous-import"}},
		{name: "pickle/stack_global_memo.pkl", data: pickleStackGlobalMemo(), verdict: "malicious", rules: []string{"pickle.dangerous-import"}},
		{name: "pickle/unicode_escape.pkl", data: pickleUnicodeEscape, verdict: "malicious", rules: []string{"pickle.dangerous-import"}},
		{name: "pickle/string_escape.pkl", data: pickleStringEscape, verdict: "malicious", rules: []string{"pickle.dangerous-import"}},
		{name: "pickle/computed_global.pkl", data: pickleComputedGlobal(), verdict: "malicious", rules: []string{"pickle.unresolved-global"}},
		{name: "pickle/stacked.pkl", data: cat(pickleBenignData(), pickleStackGlobalMemo()), verdict: "malicious", rules: []string{"pickle.dangerous-import"}},
		{name: "pickle/truncated.pkl", data: pickleStackGlobalMemo()[:30], verdict: "malicious", rules: []string{"pickle.dangerous-import", "pickle.truncated"}},
		{name: "pickle/corrupt.pkl", data: cat(pickleBenignData()[:5], []byte{0xff, 0xfe}), verdict: "suspicious", rules: []string{"pickle.corrupt"}},
		{name: "pickle/unknown_import.pkl", data: []byte("\x80\x02cmy_pkg.layers\nCustomLayer\n)R."), verdict: "suspicious", rules: []string{"pickle.unknown-import"}},
		{name: "pickle/dotted_name.pkl", data: cat([]byte{0x80, 0x04}, sbu("posixpath"), sbu("os.system"), []byte{0x93, '.'}), verdict: "malicious", rules: []string{"pickle.dangerous-import"}},
		{name: "pickle/benign.pkl", data: pickleBenignData(), verdict: "clean"},
		{name: "pickle/no_extension_p0", data: pickleOSSystemProto0, verdict: "malicious", rules: []string{"pickle.dangerous-import"}},
		{name: "torch/benign.pt", data: torchZip(t, pickleBenignTorch(), tensor), verdict: "clean"},
		{name: "torch/evil.pt", data: torchZip(t, pickleStackGlobalMemo(), tensor), verdict: "malicious", rules: []string{"pickle.dangerous-import"}},
		{name: "torch/renamed.zip.txt", data: torchZip(t, pickleOSSystemProto0, tensor), verdict: "malicious", rules: []string{"pickle.dangerous-import"}},
		{name: "torch/legacy.pt", data: cat([]byte{0x80, 0x02, 0x8a, 0x0a}, legacyTorchMagic, []byte{'.'},
			[]byte{0x80, 0x02, 'M', 0xe9, 0x03, '.'}, []byte{0x80, 0x02, '}', '.'}, pickleBenignTorch(),
			[]byte{0x80, 0x02, ']', 'X', 1, 0, 0, 0, '0', 'a', '.'}, []byte{4, 0, 0, 0, 0, 0, 0, 0, 0x80, 0xff, 0xff, 0x00}),
			verdict: "clean"},
		{name: "numpy/object.npy", data: npy("|O", "(1,)", pickleOSSystemProto0), verdict: "malicious", rules: []string{"npy.object-array", "pickle.dangerous-import"}},
		{name: "numpy/floats.npy", data: npy("<f4", "(2, 2)", make([]byte, 16)), verdict: "clean"},
		{name: "numpy/short.npy", data: npy("<f8", "(4,)", make([]byte, 16)), verdict: "suspicious", rules: []string{"npy.size-mismatch"}},
		{name: "numpy/arrays.npz", data: storedZip(t, []zipEntry{{name: "a.npy", data: npy("<f4", "(2, 2)", make([]byte, 16))}, {name: "b.npy", data: npy("|O", "(1,)", pickleOSSystemProto0), deflate: true}}), verdict: "malicious", rules: []string{"pickle.dangerous-import"}},
		{name: "keras/lambda.keras", data: kerasZip(t, kerasModel(kerasLayer("Dense", "keras.layers", "d", nil),
			kerasLayer("Lambda", "keras.layers", "lam", map[string]any{"function": map[string]any{"class_name": "__lambda__", "config": map[string]any{"code": b64(marshalledLambda)}}}))),
			verdict: "malicious", rules: []string{"keras.lambda-layer", "keras.lambda-dangerous-code"}},
		{name: "keras/custom.keras", data: kerasZip(t, kerasModel(kerasLayer("MyLayer", "my_pkg.layers", "m", nil))), verdict: "suspicious", rules: []string{"keras.custom-object"}},
		{name: "keras/plain.keras", data: kerasZip(t, kerasModel(kerasLayer("Dense", "keras.layers", "d", nil))), verdict: "clean"},
		{name: "keras/model.h5", data: cat([]byte("\x89HDF\r\n\x1a\n\x00\x00\x00\x00model_config\x00"), mustJSON(t, kerasModel(kerasLayer("Lambda", "keras.layers", "lam", nil))), make([]byte, 32)), verdict: "suspicious", rules: []string{"keras.lambda-layer"}},
		{name: "tf/saved_model.pb", data: savedModel("Const", "ReadFile", "Identity"), verdict: "malicious", rules: []string{"savedmodel.dangerous-op"}},
		{name: "tf/keras_metadata.pb", data: cat(pbBytes(1, cat(pbUint(1, 1), pbBytes(5, mustJSON(t, kerasLayer("Lambda", "keras.layers", "lam", nil)))))), verdict: "suspicious", rules: []string{"keras.lambda-layer"}},
		{name: "tf2/saved_model.pb", data: savedModel("Const", "MatMul"), verdict: "clean"},
		{name: "safetensors/good.safetensors", data: safetensorsFile(t, map[string]any{"__metadata__": map[string]any{"format": "pt"}, "w": map[string]any{"dtype": "F32", "shape": []int{2, 2}, "data_offsets": []int{0, 16}}}, make([]byte, 16)), verdict: "clean"},
		{name: "safetensors/bad_offsets.safetensors", data: safetensorsFile(t, map[string]any{
			"a":            map[string]any{"dtype": "F32", "shape": []int{2}, "data_offsets": []int{0, 8}},
			"b":            map[string]any{"dtype": "F32", "shape": []int{2}, "data_offsets": []int{4, 12}},
			"c":            map[string]any{"dtype": "F16", "shape": []int{100}, "data_offsets": []int{12, 1 << 40}},
			"d":            map[string]any{"dtype": "F64", "shape": []int{3}, "data_offsets": []int{12, 16}},
			"__metadata__": map[string]any{"n": 3}}, make([]byte, 16)),
			verdict: "suspicious", rules: []string{"safetensors.overlap", "safetensors.offset-bounds", "safetensors.size-mismatch", "safetensors.metadata-type"}},
		{name: "gguf/evil_template.gguf", data: ggufFile([]ggufKV{{"general.architecture", 8, ggufStr("llama")}, {"tokenizer.chat_template", 8, ggufStr(evilTemplate)}}, 1, make([]byte, 32)), verdict: "malicious", rules: []string{"gguf.chat-template-injection"}},
		{name: "gguf/good.gguf", data: ggufFile([]ggufKV{{"general.architecture", 8, ggufStr("llama")}, {"general.alignment", 4, binary.LittleEndian.AppendUint32(nil, 32)}, {"tokenizer.chat_template", 8, ggufStr(goodTemplate)}}, 2, make([]byte, 64)), verdict: "clean"},
		{name: "gguf/bad_tensor.gguf", data: ggufFile([]ggufKV{{"general.architecture", 8, ggufStr("llama")}}, 2, make([]byte, 8)), verdict: "suspicious", rules: []string{"gguf.tensor-bounds"}},
		{name: "onnx/custom.onnx", data: onnxModel([][]byte{onnxNode("Relu", ""), onnxNode("EvilOp", "com.evil.ops")}, nil, "", "com.evil.ops"), verdict: "suspicious", rules: []string{"onnx.custom-domain"}},
		{name: "onnx/traversal.onnx", data: onnxModel([][]byte{onnxNode("Relu", "")}, [][]byte{onnxExternalTensor("w", "../../../../etc/passwd")}, ""), verdict: "malicious", rules: []string{"onnx.external-data-traversal"}},
		{name: "onnx/good.onnx", data: onnxModel([][]byte{onnxNode("Relu", ""), onnxNode("FusedConv", "com.microsoft")}, [][]byte{onnxExternalTensor("w", "weights/w.bin")}, ""), verdict: "clean"},
		{name: "zip/bomb.zip", data: storedZip(t, []zipEntry{{name: "zeros.bin", data: bombData, deflate: true}}), verdict: "malicious", rules: []string{"zip.bomb"}},
		{name: "zip/traversal.zip", data: storedZip(t, []zipEntry{{name: "../../evil.txt", data: []byte("x")}}), verdict: "malicious", rules: []string{"zip.path-traversal"}},
		{name: "zip/nested.zip", data: storedZip(t, []zipEntry{{name: "inner.bin", data: torchZip(t, pickleOSSystemProto0, tensor), deflate: true}}), verdict: "malicious", rules: []string{"pickle.dangerous-import"}},
		{name: "joblib/arrays.joblib", data: joblibLike(bytes.Repeat([]byte{0xff, 0x01}, 64), nil), verdict: "clean", rules: []string{"pickle.inline-array-data"}},
		{name: "joblib/hidden.joblib", data: joblibLike([]byte{0xff, 0xfe, 0xfd}, pickleStackGlobalMemo()[2:]), verdict: "malicious", rules: []string{"pickle.import-in-unwalked-data"}},
		{name: "other/notes.dat", data: []byte("Not a pickle, just text.\n"), verdict: "clean"},
		{name: "other/blob.bin", data: []byte("\x08\x05\x12\xff\xff\xff"), verdict: "clean"},
		{name: "other/readme.md", data: []byte("# a model card\n"), verdict: "clean"},
	}
}

func b64(b []byte) string {
	return base64Std(b)
}

func mustJSON(t testing.TB, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// writeCorpus writes samples under dir.
func writeCorpus(t testing.TB, dir string, samples []sample) {
	t.Helper()
	for _, s := range samples {
		p := filepath.Join(dir, filepath.FromSlash(s.name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, s.data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func base64Std(b []byte) string { return base64.StdEncoding.EncodeToString(b) }

func sha256Hex(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// joblibLike is what joblib.dump writes for an array: a NumpyArrayWrapper built from a state dict,
// then the raw array bytes inline, then the rest of the pickle.
func joblibLike(array, rest []byte) []byte {
	b := []byte{0x80, 0x04}
	b = append(b, sbu("joblib.numpy_pickle")...)
	b = append(b, sbu("NumpyArrayWrapper")...)
	b = append(b, 0x93, ')', 0x81, '}')
	b = append(b, sbu("shape")...)
	b = append(b, 'K', byte(len(array)), 0x85, 's', 'b')
	b = append(b, array...)
	if rest == nil {
		rest = []byte{'.'}
	}
	return append(b, rest...)
}
