package home

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"
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
			got, err := dirFor(func(k string) string { return tc.env[k] }, tc.goos)
			if (err != nil) != tc.wantErr || got != tc.want {
				t.Fatalf("got %q, %v; want %q (error %v)", got, err, tc.want, tc.wantErr)
			}
		})
	}
}

func TestInitCreatesAndKeeps(t *testing.T) {
	ctx := context.Background()
	root := filepath.Join(t.TempDir(), "a", "home")
	first, err := Init(ctx, root, time.Now, nil)
	if err != nil {
		t.Fatalf("init: %v", err)
	}
	if !first.CreatedConfig || first.ActiveKey.ID == "" || first.SchemaVersion < 1 {
		t.Fatalf("first init = %+v", first)
	}
	info, err := os.Stat(root)
	if err != nil || info.Mode().Perm() != 0o700 {
		t.Fatalf("data home mode = %v, %v; want 0700", info.Mode().Perm(), err)
	}
	second, err := Init(ctx, root, time.Now, nil)
	if err != nil {
		t.Fatalf("second init: %v", err)
	}
	if second.CreatedConfig || second.ActiveKey.ID != first.ActiveKey.ID {
		t.Fatalf("second init changed things: %+v then %+v", first, second)
	}
}

func TestLoadConfig(t *testing.T) {
	tests := []struct {
		name    string
		content string // empty: no file
		want    Config
		wantErr bool
	}{
		{"defaults without a file", "", func() Config {
			var c Config
			c.Store.Synchronous, c.Audit.CheckpointEvery, c.Audit.CheckpointInterval = "NORMAL", 1000, 5*time.Minute
			return c
		}(), false},
		{"full", "store:\n  synchronous: FULL\n", func() Config { var c Config; c.Store.Synchronous = "FULL"; return c }(), false},
		{"bad synchronous", "store:\n  synchronous: OFF\n", Config{}, true},
		{"negative interval", "audit:\n  checkpoint_interval: -1s\n", Config{}, true},
		{"not yaml", "store: [\n", Config{}, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			l := Layout{Root: t.TempDir()}
			if tc.content != "" {
				if err := os.WriteFile(l.ConfigPath(), []byte(tc.content), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			got, err := LoadConfig(l)
			if (err != nil) != tc.wantErr {
				t.Fatalf("error = %v, want error %v", err, tc.wantErr)
			}
			if err == nil && got != tc.want {
				t.Fatalf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}
