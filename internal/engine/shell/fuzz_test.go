package shell

import (
	"bytes"
	"encoding/json"
	"errors"
	"testing"
)

func mustJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// FuzzParse checks that any line either fails with a parse error or yields commands whose spans
// lie within the line and whose program names are not empty. It never panics, and parsing the
// line again after another line, with the reused buffers that brings, gives the same result.
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
		first, _ := json.Marshal(res)
		if _, err := Parse("git add -A && git commit -m 'x' | tee log; bash -c 'rm -rf ~/tmp'", Options{Dir: testDir, Home: testHome}); err != nil {
			t.Fatal(err)
		}
		again, _ := Parse(line, Options{Dir: testDir, Home: testHome})
		if second, _ := json.Marshal(again); !bytes.Equal(first, second) || string(first) != mustJSON(res) {
			t.Fatalf("Parse(%q) differs on a second parse or changed after one\nfirst  %s\nsecond %s", line, first, second)
		}
	})
}
