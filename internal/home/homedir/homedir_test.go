package homedir

import (
	"path/filepath"
	"testing"
)

func TestDirFor(t *testing.T) {
	tests := []struct {
		name    string
		env     map[string]string
		goos    string
		want    string
		wantErr bool
	}{
		{"explicit home wins", map[string]string{"CAVRA_HOME": "/srv/cavra/", "XDG_DATA_HOME": "/x", "HOME": "/h"}, "linux", "/srv/cavra", false},
		{"xdg data home", map[string]string{"XDG_DATA_HOME": "/x", "HOME": "/h"}, "linux", "/x/cavra", false},
		{"relative xdg ignored", map[string]string{"XDG_DATA_HOME": "rel", "HOME": "/h"}, "linux", "/h/.local/share/cavra", false},
		{"linux default", map[string]string{"HOME": "/h"}, "linux", "/h/.local/share/cavra", false},
		{"macos", map[string]string{"HOME": "/Users/u", "XDG_DATA_HOME": "/x"}, "darwin", "/Users/u/Library/Application Support/cavra", false},
		{"windows", map[string]string{"LocalAppData": `C:\Users\u\AppData\Local`}, "windows", filepath.Join(`C:\Users\u\AppData\Local`, "cavra"), false},
		{"nothing set", map[string]string{}, "linux", "", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := DirFor(func(k string) string { return tc.env[k] }, tc.goos)
			if (err != nil) != tc.wantErr || got != tc.want {
				t.Fatalf("got %q, %v; want %q (error %v)", got, err, tc.want, tc.wantErr)
			}
		})
	}
}
