package scan

import (
	"bytes"
	"context"
	"testing"
)

// Every parser runs on arbitrary bytes here: no panic, no unbounded allocation, no hang.

func fuzzScope() scope { return scope{c: newCollector()} }

// fuzzScanner is shared so each fuzz execution does not recompile the rules.
var fuzzScanner = New(Options{MaxInflate: 64 << 20})

func fuzzJob() *job {
	s := fuzzScanner
	return &job{ctx: context.Background(), s: s, c: newCollector(), inflate: s.opts.MaxInflate}
}

func bytesSource(name string, data []byte) source {
	return fileSource(bytes.NewReader(data), name, int64(len(data)))
}

func FuzzPickle(f *testing.F) {
	for _, s := range [][]byte{pickleOSSystemProto0, pickleStackGlobalMemo(), pickleUnicodeEscape,
		pickleStringEscape, pickleComputedGlobal(), pickleBenignTorch(), pickleBenignData()} {
		f.Add(s)
	}
	rules := DefaultRules()
	f.Fuzz(func(t *testing.T, data []byte) {
		sc := fuzzScope()
		r := walkPickles(context.Background(), bytes.NewReader(data), 0, int64(len(data)), rules, sc)
		if r.consumed > int64(len(data)) {
			t.Fatalf("consumed %d of %d bytes", r.consumed, len(data))
		}
		_ = sc.c.result()
	})
}

func FuzzNPY(f *testing.F) {
	f.Add(npy("|O", "(1,)", pickleOSSystemProto0))
	f.Add(npy("<f4", "(2, 2)", make([]byte, 16)))
	f.Add(npy("[('a', '<i4'), ('b', '|O')]", "(3,)", nil))
	f.Fuzz(func(t *testing.T, data []byte) {
		fuzzJob().scanNPY(bytesSource("x.npy", data), fuzzScope())
		_, _ = parsePyLiteral(string(data))
	})
}

func FuzzSafetensors(f *testing.F) {
	f.Add(safetensorsFile(f, map[string]any{"w": map[string]any{"dtype": "F32", "shape": []int{2}, "data_offsets": []int{0, 8}}}, make([]byte, 8)))
	f.Add(safetensorsFile(f, map[string]any{"__metadata__": map[string]any{"a": 1}, "w": map[string]any{"dtype": "BF16", "shape": []int{1 << 62, 8}, "data_offsets": []int{4, 2}}}, nil))
	f.Fuzz(func(t *testing.T, data []byte) {
		fuzzJob().scanSafetensors(bytesSource("x.safetensors", data), fuzzScope())
	})
}

func FuzzGGUF(f *testing.F) {
	f.Add(ggufFile([]ggufKV{{"general.architecture", 8, ggufStr("llama")}, {"tokenizer.chat_template", 8, ggufStr("{{ x.__class__ }}")}}, 1, make([]byte, 32)))
	f.Add(ggufFile([]ggufKV{{"tokenizer.ggml.tokens", 9, append(append([]byte{8, 0, 0, 0}, 2, 0, 0, 0, 0, 0, 0, 0), append(ggufStr("a"), ggufStr("b")...)...)}}, 0, nil))
	f.Fuzz(func(t *testing.T, data []byte) {
		fuzzJob().scanGGUF(bytesSource("x.gguf", data), fuzzScope())
	})
}

func FuzzONNX(f *testing.F) {
	f.Add(onnxModel([][]byte{onnxNode("Relu", ""), onnxNode("EvilOp", "com.evil")}, [][]byte{onnxExternalTensor("w", "../x")}, "com.evil"))
	f.Add(savedModel("ReadFile", "Const"))
	f.Fuzz(func(t *testing.T, data []byte) {
		j := fuzzJob()
		j.scanONNX(bytesSource("x.onnx", data), fuzzScope(), true)
		j.scanONNX(bytesSource("x.bin", data), fuzzScope(), false)
		j.scanSavedModel(bytesSource("saved_model.pb", data), fuzzScope())
	})
}

func FuzzContainer(f *testing.F) {
	f.Add(torchZip(f, pickleStackGlobalMemo(), make([]byte, 16)))
	f.Add(kerasZip(f, kerasModel(kerasLayer("Lambda", "keras.layers", "l", map[string]any{"function": []any{b64(marshalledLambda)}}))))
	f.Add(storedZip(f, []zipEntry{{name: "a.npy", data: npy("|O", "(1,)", pickleOSSystemProto0), deflate: true}}))
	f.Add(cat([]byte("\x89HDF\r\n\x1a\n"), []byte(`{"class_name": "Lambda", "config": {}}`)))
	f.Fuzz(func(t *testing.T, data []byte) {
		j := fuzzJob()
		src := bytesSource("x.bin", data)
		kind := detect(src.head(), src.name, src.size)
		j.scanContent(src, kind, fuzzScope(), 0)
		j.scanZip(src, fuzzScope(), 0)
		j.scanH5(src, fuzzScope())
	})
}
