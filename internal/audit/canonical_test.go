package audit

import (
	"bytes"
	"encoding/json"
	"math"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/cavra-dev/cavra"
)

func TestCanonicalize(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want string
	}{
		{"whitespace removed", " { \"b\" : [ 1 , 2 ] ,\n\t\"a\" : null } ", `{"a":null,"b":[1,2]}`},
		{"nested keys sorted", `{"z":{"y":1,"x":2},"a":[{"d":1,"c":2}]}`, `{"a":[{"c":2,"d":1}],"z":{"x":2,"y":1}}`},
		// RFC 8785 sorts by UTF-16 code units: U+1F600 (D83D DE00) sorts before U+FB01 (FB01)
		// although its UTF-8 bytes sort after.
		{"utf16 key order", `{"ﬁ":1,"😀":2,"a":3}`, `{"a":3,"😀":2,"ﬁ":1}`},
		{"escapes", `"\u0041\/\"\\\b\f\n\r\t\u001f\u00e9"`, `"A/\"\\\b\f\n\r\t\u001fé"`},
		{"surrogate pair escape", `"\ud83d\ude00"`, `"😀"`},
		{"u2028 literal", `"\u2028"`, "\"\u2028\""},
		{"integers", `[0,-0,1,-1,100,9007199254740991]`, `[0,0,1,-1,100,9007199254740991]`},
		{"fractions", `[1.5,0.1,-2.25,1.0,1e0]`, `[1.5,0.1,-2.25,1,1]`},
		{"big and small", `[1e21,1e20,123456789012345680000,1e-6,1e-7,0.000001234,5e-324]`,
			`[1e+21,100000000000000000000,123456789012345680000,0.000001,1e-7,0.000001234,5e-324]`},
		{"exponents", `[1E3,2.5e+25,-3e-10]`, `[1000,2.5e+25,-3e-10]`},
		{"literals", `[true,false,null]`, `[true,false,null]`},
		{"empty containers", `{"a":{},"b":[]}`, `{"a":{},"b":[]}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Canonicalize([]byte(tc.in))
			if err != nil {
				t.Fatalf("canonicalize: %v", err)
			}
			if string(got) != tc.want {
				t.Fatalf("got  %s\nwant %s", got, tc.want)
			}
		})
	}
}

func TestCanonicalizeRejects(t *testing.T) {
	tests := []struct {
		name string
		in   string
	}{
		{"empty", ``},
		{"duplicate key", `{"a":1,"a":2}`},
		{"trailing data", `{} {}`},
		{"trailing comma", `[1,]`},
		{"invalid utf8", "\"\xff\""},
		{"lone high surrogate", `"\ud83d"`},
		{"lone low surrogate", `"\ude00"`},
		{"leading zero", `01`},
		{"bare minus", `-`},
		{"huge number", `1e400`},
		{"control character", "\"a\x01\""},
		{"bad escape", `"\x"`},
		{"single quotes", `{'a':1}`},
		{"unterminated", `{"a":[1,2`},
		{"too deep", strings.Repeat("[", maxDepth+2) + strings.Repeat("]", maxDepth+2)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got, err := Canonicalize([]byte(tc.in)); err == nil {
				t.Fatalf("accepted %q as %q", tc.in, got)
			}
		})
	}
}

func TestFormatNumberMatchesECMAScript(t *testing.T) {
	// Expected strings are what Number.prototype.toString prints.
	tenth, fifth := 0.1, 0.2 // variables: constant arithmetic would be exact
	tests := []struct {
		in   float64
		want string
	}{
		{1, "1"}, {-1.5, "-1.5"}, {1e21, "1e+21"}, {1e-7, "1e-7"}, {123e-20, "1.23e-18"},
		{tenth + fifth, "0.30000000000000004"}, {math.MaxFloat64, "1.7976931348623157e+308"},
		{4.35, "4.35"}, {1234567.125, "1234567.125"}, {999999999999999900000, "999999999999999900000"},
	}
	for _, tc := range tests {
		if got := formatNumber(tc.in); got != tc.want {
			t.Errorf("formatNumber(%v) = %s, want %s", tc.in, got, tc.want)
		}
	}
}

func TestCheckCanonical(t *testing.T) {
	tests := []struct {
		name string
		in   string
		ok   bool
	}{
		{"canonical object", `{"a":[1,"x",{"b":null}],"c":true}`, true},
		{"control escape", `"\u001f\n"`, true},
		{"space", `{"a": 1}`, false},
		{"unsorted", `{"b":1,"a":2}`, false},
		{"duplicate", `{"a":1,"a":1}`, false},
		{"escaped slash", `"\/"`, false},
		{"unicode escape of printable", `"\u0041"`, false},
		{"long form of newline", `"\u000a"`, false},
		{"upper-case hex", `"\u001F"`, false},
		{"non-canonical number", `1.0`, false},
		{"exponent form", `1e+21`, true},
		{"negative zero", `-0`, false},
		{"utf16 order", `{"😀":1,"ﬁ":2}`, true},
		{"utf8 order is wrong", `{"ﬁ":1,"😀":2}`, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := checkCanonical([]byte(tc.in))
			if (err == nil) != tc.ok {
				t.Fatalf("checkCanonical(%s) = %v, want ok=%v", tc.in, err, tc.ok)
			}
		})
	}
}

func TestParseRecordRejects(t *testing.T) {
	good := `{"body":{},"id":"x","index":3,"tenant":"t","time":"2026-11-25T12:00:00Z","type":"decision","v":1,"workspace":"w"}`
	if _, err := ParseRecord([]byte(good)); err != nil {
		t.Fatalf("good record: %v", err)
	}
	tests := []struct {
		name string
		in   string
	}{
		{"not canonical", strings.Replace(good, `"id":"x"`, `"id": "x"`, 1)},
		{"missing member", strings.Replace(good, `"id":"x",`, ``, 1)},
		{"unknown member", strings.Replace(good, `"v":1,`, `"v":1,"vv":2,`, 1)},
		{"body not object", strings.Replace(good, `"body":{}`, `"body":[]`, 1)},
		{"index not integer", strings.Replace(good, `"index":3`, `"index":3.5`, 1)},
		{"negative index", strings.Replace(good, `"index":3`, `"index":-3`, 1)},
		{"wrong version", strings.Replace(good, `"v":1`, `"v":2`, 1)},
		{"bad time", strings.Replace(good, `2026-11-25T12:00:00Z`, `yesterday`, 1)},
		{"empty id", strings.Replace(good, `"id":"x"`, `"id":""`, 1)},
		{"id not string", strings.Replace(good, `"id":"x"`, `"id":7`, 1)},
		{"array", `[1]`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := ParseRecord([]byte(tc.in)); err == nil {
				t.Fatalf("accepted %s", tc.in)
			}
		})
	}
}

func TestEncodeRecordIsCanonical(t *testing.T) {
	body, err := MarshalCanonical(map[string]any{"z": 1, "a": "x\ny"})
	if err != nil {
		t.Fatal(err)
	}
	rec := encodeRecord(Record{Body: body, ID: "id-\"1\"", Index: 42, Tenant: "t", Time: "2026-11-25T12:00:00Z",
		Type: "decision", V: 1, Workspace: "w<>&"})
	canon, err := Canonicalize(rec)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(canon, rec) {
		t.Fatalf("encodeRecord is not canonical:\n got %s\nwant %s", rec, canon)
	}
	if _, err := ParseRecord(rec); err != nil {
		t.Fatalf("parse: %v", err)
	}
}

// FuzzCanonicalize checks that canonical output is valid JSON with the same meaning as the
// input, and that canonicalising is idempotent.
func FuzzCanonicalize(f *testing.F) {
	for _, s := range []string{`{"b":1,"a":[true,null,"x"]}`, `"\ud83d\ude00"`, `[1e21,1e-7,-0,0.5]`, `{"ﬁ":1,"😀":2}`, `{}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		out, err := Canonicalize(in)
		// The allocation-free checker must agree with canonicalising and comparing.
		_, _, checkErr := checkCanonical(in)
		if isCanonical := err == nil && bytes.Equal(out, in); isCanonical != (checkErr == nil) {
			t.Fatalf("checkCanonical(%q) = %v, but canonical form is %q (%v)", in, checkErr, out, err)
		}
		if err != nil {
			return
		}
		if !json.Valid(out) {
			t.Fatalf("canonical output is not valid JSON: %q", out)
		}
		again, err := Canonicalize(out)
		if err != nil || !bytes.Equal(again, out) {
			t.Fatalf("not idempotent: %q -> %q (%v)", out, again, err)
		}
		var a, b any
		if err := json.Unmarshal(in, &a); err != nil {
			// encoding/json accepts some inputs we reject, never the reverse for valid JSON;
			// we accepted in, so it must be valid.
			t.Fatalf("accepted input that encoding/json rejects: %q: %v", in, err)
		}
		if err := json.Unmarshal(out, &b); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(a, b) {
			t.Fatalf("meaning changed:\n in  %q\n out %q", in, out)
		}
	})
}

// FuzzParseRecord checks that a record that parses re-encodes to exactly its bytes: the
// verifier and the writer agree on one byte form.
func FuzzParseRecord(f *testing.F) {
	f.Add([]byte(`{"body":{},"id":"x","index":3,"tenant":"t","time":"2026-11-25T12:00:00Z","type":"decision","v":1,"workspace":"w"}`))
	f.Add([]byte(`{"body":{"a":[1,2]},"id":"\u001f","index":0,"tenant":"😀","time":"2026-11-25T12:00:00.5Z","type":"scan","v":1,"workspace":"w"}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := ParseRecord(data)
		if err != nil {
			return
		}
		if again := encodeRecord(r); !bytes.Equal(again, data) {
			t.Fatalf("re-encoded record differs:\n in  %q\n out %q", data, again)
		}
	})
}

func BenchmarkMarshalCanonicalDecision(b *testing.B) {
	a := cavra.Action{Kind: cavra.KindCommandExec, Principal: "alice", Tenant: "default", Workspace: "default", Cwd: "/repo/app",
		Source: cavra.Source{Host: "claude-code", Tool: "Bash", Event: "PreToolUse", SessionID: "8c35", ToolUseID: "toolu_01ABC"},
		Command: &cavra.Command{Line: "npm run build && npm test -- --coverage | tee out.log", Commands: []cavra.SimpleCommand{
			{Argv: []string{"npm", "run", "build"}, Program: "npm", Dir: "/repo/app", Span: cavra.Span{End: 13}},
			{Argv: []string{"npm", "test", "--", "--coverage"}, Program: "npm", Dir: "/repo/app", Span: cavra.Span{Start: 17, End: 39}},
			{Argv: []string{"tee", "out.log"}, Program: "tee", Via: "pipeline", Dir: "/repo/app", Span: cavra.Span{Start: 42, End: 53}},
		}},
		Files: []cavra.FileOp{{Op: cavra.FileWrite, Path: "/repo/app/out.log", Raw: "out.log"}},
	}
	d := cavra.Decision{ID: "019ab0c0c0c0c0c0c0c0c0c0c0c0c0c0", Outcome: cavra.Allow, RuleID: "default", Reason: "no rule of policy baseline matched",
		Policy: "baseline", PolicyRevision: "sha256:41b11db2fc7b8148036726bdfb9932697a8fcac220b9c869d3bc4baff8a97e18",
		Fingerprint: "sha256:271a928afb34c0fe15920cba6ff897347b9d1664946dba58e653fafb33bdaee6", DecidedAt: time.Date(2026, 11, 25, 0, 0, 0, 0, time.UTC)}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := MarshalCanonical(cavra.DecisionEvidence{Action: a, Decision: d}); err != nil {
			b.Fatal(err)
		}
	}
}
