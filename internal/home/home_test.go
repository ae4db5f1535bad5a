package home

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"
)

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
