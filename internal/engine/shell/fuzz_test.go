package shell

import (
	"errors"
	"testing"
)

// FuzzParse checks that any line either fails with a parse error or yields commands whose spans
// lie within the line and whose program names are not empty. It never panics.
func FuzzParse(f *testing.F) {
	f.Add("rm -rf /")
	f.Fuzz(func(t *testing.T, line string) {
		res, err := Parse(line, Options{Dir: testDir, Home: testHome})
		if errors.Is(err, errPanic) {
			t.Fatalf("Parse(%q) panicked: %v", line, err)
		}
		if err != nil {
			if len(res.Commands) != 0 || len(res.Files) != 0 {
				t.Fatalf("Parse(%q) returned an error and a result", line)
			}
			return
		}
		for i, c := range res.Commands {
			if c.Span.Start < 0 || c.Span.End < c.Span.Start || c.Span.End > len(line) {
				t.Fatalf("Parse(%q): command %d span %+v out of bounds", line, i, c.Span)
			}
			if c.Program == "" {
				t.Fatalf("Parse(%q): command %d %q has an empty program", line, i, c.Argv)
			}
			if len(c.Argv) == 0 {
				t.Fatalf("Parse(%q): command %d has an empty argv", line, i)
			}
		}
	})
}
