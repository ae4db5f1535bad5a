package mcpgw

import (
	"errors"
	"io"
	"strings"
	"testing"
)

func TestParseMessage(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		kind    string // request, notification, response
		wantErr string
	}{
		{name: "request", in: `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"x"}}`, kind: "request"},
		{name: "string id", in: `{"jsonrpc":"2.0","id":"a-1","method":"ping"}`, kind: "request"},
		{name: "notification", in: `{"jsonrpc":"2.0","method":"notifications/initialized"}`, kind: "notification"},
		{name: "result", in: `{"jsonrpc":"2.0","id":1,"result":{}}`, kind: "response"},
		{name: "error", in: `{"jsonrpc":"2.0","id":1,"error":{"code":-32601,"message":"no"}}`, kind: "response"},
		{name: "error with null id", in: `{"jsonrpc":"2.0","id":null,"error":{"code":-32700,"message":"parse"}}`, kind: "response"},
		{name: "batch", in: `[{"jsonrpc":"2.0","id":1,"method":"ping"}]`, wantErr: "batches"},
		{name: "not json", in: `hello`, wantErr: "not a JSON object"},
		{name: "truncated", in: `{"jsonrpc":"2.0","id":1,"method":"pi`, wantErr: "decode"},
		{name: "wrong version", in: `{"jsonrpc":"1.0","id":1,"method":"ping"}`, wantErr: "jsonrpc"},
		{name: "object id", in: `{"jsonrpc":"2.0","id":{},"method":"ping"}`, wantErr: "id must be"},
		{name: "request with result", in: `{"jsonrpc":"2.0","id":1,"method":"ping","result":{}}`, wantErr: "carries result"},
		{name: "response with both", in: `{"jsonrpc":"2.0","id":1,"result":{},"error":{"code":1,"message":"x"}}`, wantErr: "exactly one"},
		{name: "response with neither", in: `{"jsonrpc":"2.0","id":1}`, wantErr: "exactly one"},
		{name: "scalar params", in: `{"jsonrpc":"2.0","id":1,"method":"x","params":3}`, wantErr: "params"},
		{name: "trailing data", in: `{"jsonrpc":"2.0","method":"x"} {"jsonrpc":"2.0","method":"y"}`, wantErr: "trailing"},
		{name: "empty", in: `  `, wantErr: "empty"},
		{name: "nothing", in: `{"jsonrpc":"2.0"}`, wantErr: "neither"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m, err := ParseMessage([]byte(tc.in))
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got := map[bool]string{true: "request"}[m.IsRequest()] + map[bool]string{true: "notification"}[m.IsNotification()] + map[bool]string{true: "response"}[m.IsResponse()]
			if got != tc.kind {
				t.Errorf("kind = %q, want %q", got, tc.kind)
			}
		})
	}
}

func TestLineReader(t *testing.T) {
	in := "{\"a\":1}\r\n\n   \n" + strings.Repeat("x", 40) + "\n{\"b\":2}"
	lr := NewLineReader(strings.NewReader(in), 32)
	var got []string
	for {
		line, err := lr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if errors.Is(err, ErrTooLarge) {
			got = append(got, "<too large>")
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, string(line))
	}
	want := []string{`{"a":1}`, "<too large>", `{"b":2}`}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("lines = %q, want %q", got, want)
	}
}
