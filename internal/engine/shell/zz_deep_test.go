package shell

import (
	"os"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestZZDeep(t *testing.T) {
	n, _ := strconv.Atoi(os.Getenv("DEEP"))
	if n == 0 {
		t.Skip()
	}
	for _, l := range []string{
		strings.Repeat("(", n) + "x" + strings.Repeat(")", n),
		strings.Repeat("{ ", n) + "x" + strings.Repeat("; }", n),
		strings.Repeat("$(", n) + "x" + strings.Repeat(")", n),
		strings.Repeat("if a; then ", n) + "x" + strings.Repeat("; fi", n),
		strings.Repeat("a | ", n) + "x",
		strings.Repeat("a && ", n) + "x",
		"echo " + strings.Repeat("\"$(", n) + "x" + strings.Repeat(")\"", n),
		"echo $((" + strings.Repeat("(", n) + "1" + strings.Repeat(")", n) + "))",
	} {
		start := time.Now()
		res, err := Parse(l, Options{})
		t.Logf("%q... %d cmds err=%v in %v", l[:10], len(res.Commands), err, time.Since(start))
	}
}
