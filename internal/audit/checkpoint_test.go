package audit

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

func TestCheckpointBodyRoundTrip(t *testing.T) {
	b := CheckpointBody{Origin: "cavra.local/audit/acme", Size: 12345, RootHash: bytes.Repeat([]byte{0xab}, 32),
		Time: time.Date(2026, 11, 25, 12, 0, 0, 5, time.UTC), Extensions: []string{"other ext"}}
	text := b.Text()
	want := "cavra.local/audit/acme\n12345\nq6urq6urq6urq6urq6urq6urq6urq6urq6urq6urq6s=\ncavra-time 2026-11-25T12:00:00.000000005Z\nother ext\n"
	if text != want {
		t.Fatalf("text:\n%q\nwant\n%q", text, want)
	}
	got, err := ParseCheckpointBody(text)
	if err != nil {
		t.Fatal(err)
	}
	if got.Origin != b.Origin || got.Size != b.Size || !bytes.Equal(got.RootHash, b.RootHash) || !got.Time.Equal(b.Time) ||
		len(got.Extensions) != 1 || got.Extensions[0] != "other ext" {
		t.Fatalf("round trip = %+v", got)
	}
}

func TestParseCheckpointBodyRejects(t *testing.T) {
	root := "q6urq6urq6urq6urq6urq6urq6urq6urq6urq6urq6s="
	tests := []struct {
		name string
		text string
		want string
	}{
		{"no final newline", "o\n1\n" + root, "newline"},
		{"too few lines", "o\n1\n", "want origin"},
		{"negative size", "o\n-1\n" + root + "\n", "tree size"},
		{"size with plus", "o\n+1\n" + root + "\n", "tree size"},
		{"size with leading zero", "o\n01\n" + root + "\n", "tree size"},
		{"short root", "o\n1\nq6ur\n", "root hash has"},
		{"bad base64", "o\n1\n!!!!\n", "root hash"},
		{"empty origin", "\n1\n" + root + "\n", "empty"},
		{"blank extension", "o\n1\n" + root + "\n\n", "empty"},
		{"control char", "o\x01\n1\n" + root + "\n", "control"},
		{"bad time", "o\n1\n" + root + "\ncavra-time yesterday\n", "time line"},
		{"two times", "o\n1\n" + root + "\ncavra-time 2026-11-25T12:00:00Z\ncavra-time 2026-11-25T12:00:00Z\n", "more than one"},
		{"invalid utf8", "o\xff\n1\n" + root + "\n", "UTF-8"},
		{"too many lines", "o\n1\n" + root + "\n" + strings.Repeat("x\n", maxCheckpointLines+1), "extension lines"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseCheckpointBody(tc.text)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want an error mentioning %q", err, tc.want)
			}
		})
	}
}

// FuzzParseCheckpointBody checks that whatever parses re-renders to the same text.
func FuzzParseCheckpointBody(f *testing.F) {
	f.Add("cavra.local/audit/acme\n3\nq6urq6urq6urq6urq6urq6urq6urq6urq6urq6urq6s=\ncavra-time 2026-11-25T12:00:00Z\n")
	f.Add("o\n0\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n")
	f.Fuzz(func(t *testing.T, text string) {
		b, err := ParseCheckpointBody(text)
		if err != nil {
			return
		}
		// Times re-render in canonical RFC 3339 form, so compare after one more round.
		again, err := ParseCheckpointBody(b.Text())
		if err != nil {
			t.Fatalf("rendered body does not parse: %v\n%q", err, b.Text())
		}
		if again.Text() != b.Text() || again.Size != b.Size || again.Origin != b.Origin || !bytes.Equal(again.RootHash, b.RootHash) {
			t.Fatalf("round trip changed the body:\n%q\n%q", b.Text(), again.Text())
		}
		if b.Time.IsZero() && text != b.Text() {
			t.Fatalf("body without time did not re-render exactly:\n%q\n%q", text, b.Text())
		}
	})
}
