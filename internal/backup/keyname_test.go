package backup

import (
	"strings"
	"testing"
)

func TestIsKeyFileName(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want bool
	}{
		{"keyring.json", true}, {"ed25519-01.key", true}, {"A_b-c.9", true}, {strings.Repeat("a", 128), true},
		{"", false}, {".hidden", false}, {"-x", false}, {"a/b", false}, {"..", false}, {"a b", false},
		{strings.Repeat("a", 129), false}, {"ключ", false},
	} {
		if got := isKeyFileName(tc.in); got != tc.want {
			t.Errorf("isKeyFileName(%q) = %v, want %v", tc.in, got, tc.want)
		}
	}
}
