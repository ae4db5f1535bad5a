// Package homedir resolves CAVRA's data home from the environment. It is apart from package
// home, which opens what the home holds, so that the lean cavra-hook can find the home without
// linking the database and key packages.
package homedir

import (
	"path/filepath"
	"runtime"

	"github.com/cavra-dev/cavra"
)

// EnvVar names the environment variable that overrides the data home.
const EnvVar = "CAVRA_HOME"

// Dir resolves the data home from the environment (getenv) for the running OS.
func Dir(getenv func(string) string) (string, error) { return DirFor(getenv, runtime.GOOS) }

// DirFor is Dir for the operating system goos.
func DirFor(getenv func(string) string, goos string) (string, error) {
	if h := getenv(EnvVar); h != "" {
		return filepath.Clean(h), nil
	}
	switch goos {
	case "windows":
		if d := getenv("LocalAppData"); d != "" {
			return filepath.Join(d, "cavra"), nil
		}
		return "", cavra.Errorf(cavra.ErrInvalid, "find the data home: set %s (LocalAppData is not set)", EnvVar)
	case "darwin":
		if h := getenv("HOME"); h != "" {
			return filepath.Join(h, "Library", "Application Support", "cavra"), nil
		}
	default:
		if x := getenv("XDG_DATA_HOME"); x != "" && filepath.IsAbs(x) {
			return filepath.Join(x, "cavra"), nil
		}
		if h := getenv("HOME"); h != "" {
			return filepath.Join(h, ".local", "share", "cavra"), nil
		}
	}
	return "", cavra.Errorf(cavra.ErrInvalid, "find the data home: set %s or HOME", EnvVar)
}
