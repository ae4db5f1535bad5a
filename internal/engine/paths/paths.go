// Package paths resolves the paths an agent writes into clean absolute paths, purely lexically,
// so that policy globs match "./.env", "config/../.env" and "~/.ssh/id_rsa" alike.
package paths

import (
	"path/filepath"
	"strings"
)

// Resolve returns p as a clean absolute path: "~" and "~/x" expand to home, relative paths join
// dir. It never touches the filesystem (no symlink resolution): the file may not exist yet, and
// the decision must not depend on the deciding machine's disk. Empty p returns "".
//
// "~user/x" is kept (cleaned, not expanded) because another user's home cannot be known without
// a lookup. When the path stays relative (dir is empty, or home is empty for "~"), the result is
// filepath.Clean of it.
func Resolve(p, dir, home string) string {
	if p == "" {
		return ""
	}
	if p == "~" || strings.HasPrefix(p, "~/") {
		if home == "" {
			return filepath.Clean(p)
		}
		return filepath.Join(home, p[1:])
	}
	if filepath.IsAbs(p) || strings.HasPrefix(p, "~") || dir == "" {
		return filepath.Clean(p)
	}
	return filepath.Join(dir, p)
}
