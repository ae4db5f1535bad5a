package sqlstore

import (
	"strings"
	"testing"
)

func TestIsSchemaName(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want bool
	}{
		{"cavra", true}, {"_x9", true}, {"cavra_test_123", true}, {strings.Repeat("a", 63), true},
		{"", false}, {"9abc", false}, {"Cavra", false}, {"a-b", false}, {"a;drop", false}, {"a b", false},
		{strings.Repeat("a", 64), false}, {"é", false},
	} {
		if got := isSchemaName(tc.in); got != tc.want {
			t.Errorf("isSchemaName(%q) = %v, want %v", tc.in, got, tc.want)
		}
	}
}
