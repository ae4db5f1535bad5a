package patch

import (
	"errors"
	"strings"
	"testing"

	"github.com/cavra-dev/cavra"
)

// checkResult holds for any input: an error is a located *SyntaxError with code invalid, and
// success yields well-formed operations.
func checkResult(t *testing.T, text string, ops []cavra.FileOp, err error) {
	t.Helper()
	if err != nil {
		var se *SyntaxError
		if !errors.As(err, &se) || cavra.Code(err) != cavra.ErrInvalid {
			t.Fatalf("error %v is not an invalid-input *SyntaxError", err)
		}
		if lines := strings.Count(text, "\n") + 2; se.Line < 0 || se.Line > lines {
			t.Fatalf("error line %d outside a text of %d lines", se.Line, lines)
		}
		if ops != nil {
			t.Fatalf("ops %+v returned with an error", ops)
		}
		return
	}
	if ops == nil {
		t.Fatal("nil ops without an error")
	}
	for _, op := range ops {
		switch op.Op {
		case cavra.FileWrite, cavra.FileDelete:
			if op.To != "" {
				t.Fatalf("%s op with a destination: %+v", op.Op, op)
			}
		case cavra.FileMove:
			if op.To == "" {
				t.Fatalf("move without a destination: %+v", op)
			}
		default:
			t.Fatalf("unexpected op %+v", op)
		}
		if op.Path == "" || op.Raw == "" {
			t.Fatalf("op without a path: %+v", op)
		}
		// Git may quote a name with escapes; otherwise the name is copied from the input.
		if !strings.Contains(text, `"`) && !strings.Contains(text, op.Raw) {
			t.Fatalf("raw path %q does not occur in the input", op.Raw)
		}
	}
}

func FuzzParseApplyPatch(f *testing.F) {
	f.Add("*** Begin Patch\n*** Add File: a\n+x\n*** End Patch")
	f.Fuzz(func(t *testing.T, text string) {
		ops, err := ParseApplyPatch(text)
		checkResult(t, text, ops, err)
		if err == nil {
			// Whatever the apply_patch parser accepts, Parse routes to it.
			if detect(text) != formatApplyPatch {
				t.Fatalf("accepted envelope not detected as apply_patch")
			}
			for _, op := range ops {
				if op.Op == cavra.FileWrite && strings.Count(op.Content, "\n") > strings.Count(text, "\n") {
					t.Fatalf("content has more lines than the input")
				}
			}
		}
	})
}

func FuzzParseUnified(f *testing.F) {
	f.Add("--- a/x\n+++ b/x\n@@ -1 +1 @@\n-a\n+b\n")
	f.Fuzz(func(t *testing.T, text string) {
		ops, err := ParseUnified(text)
		checkResult(t, text, ops, err)
		if err == nil && len(ops) == 0 {
			t.Fatal("a diff without operations was accepted")
		}
	})
}
