// Package home is CAVRA's data home: the directory that holds the local database, the signing
// keys and the configuration of a single-user install.
//
// The data home is $CAVRA_HOME when set; otherwise cavra under the user's data directory:
// $XDG_DATA_HOME/cavra or ~/.local/share/cavra on Linux and other Unix systems,
// ~/Library/Application Support/cavra on macOS, %LocalAppData%\cavra on Windows. Data (an
// evidence database, private keys) belongs in the data directory rather than the config
// directory, which users sync and share more freely.
package home

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/cavra-dev/cavra"
	"github.com/cavra-dev/cavra/internal/home/homedir"
	"github.com/cavra-dev/cavra/internal/keys"
	"github.com/cavra-dev/cavra/internal/store/sqlstore"
)

// EnvVar names the environment variable that overrides the data home.
const EnvVar = homedir.EnvVar

// File and directory names inside the data home.
const (
	DBFile     = "cavra.db"
	KeysDir    = "keys"
	ConfigFile = "config.yaml"
)

// Dir resolves the data home from the environment (getenv) for the running OS.
func Dir(getenv func(string) string) (string, error) { return homedir.Dir(getenv) }

// Layout names the files of a data home.
type Layout struct{ Root string }

// DBPath is the SQLite database.
func (l Layout) DBPath() string { return filepath.Join(l.Root, DBFile) }

// KeysDir is the keyring directory.
func (l Layout) KeysDir() string { return filepath.Join(l.Root, KeysDir) }

// ConfigPath is the configuration file.
func (l Layout) ConfigPath() string { return filepath.Join(l.Root, ConfigFile) }

// Config is the part of config.yaml the local store and audit log read.
type Config struct {
	Store struct {
		// Synchronous is SQLite's durability: FULL (survives power loss) or NORMAL (survives
		// a killed process only). The data home defaults to NORMAL: the hook runs once per agent
		// tool call with a few milliseconds to spare, and an fsync per call would take most of
		// them.
		Synchronous string `yaml:"synchronous"`
	} `yaml:"store"`
	Audit struct {
		CheckpointEvery    uint64        `yaml:"checkpoint_every"`
		CheckpointInterval time.Duration `yaml:"checkpoint_interval"`
	} `yaml:"audit"`
}

const defaultConfig = `# CAVRA configuration for this data home.
store:
  # NORMAL: a decision acknowledged to the agent survives a killed or crashed process (the WAL
  # is in the OS page cache), but the last few may be lost if the machine loses power.
  # FULL fsyncs every commit and survives power loss too, at about a millisecond per decision
  # on the hook's path.
  synchronous: NORMAL
audit:
  # A signed checkpoint is cut once this many entries are unsigned...
  checkpoint_every: 1000
  # ...or on the first append this long after the last checkpoint.
  checkpoint_interval: 5m
`

// LoadConfig reads config.yaml; a missing file yields the defaults.
func LoadConfig(l Layout) (Config, error) {
	var c Config
	data, err := os.ReadFile(l.ConfigPath())
	if errors.Is(err, fs.ErrNotExist) {
		data = []byte(defaultConfig)
	} else if err != nil {
		return c, fmt.Errorf("read config: %w", err)
	}
	if err := yaml.Unmarshal(data, &c); err != nil {
		return c, cavra.Errorf(cavra.ErrInvalid, "parse %s: %w", l.ConfigPath(), err)
	}
	switch c.Store.Synchronous {
	case "", "FULL", "NORMAL":
	default:
		return c, cavra.Errorf(cavra.ErrInvalid, "%s: store.synchronous must be FULL or NORMAL, not %q", l.ConfigPath(), c.Store.Synchronous)
	}
	if c.Audit.CheckpointInterval < 0 {
		return c, cavra.Errorf(cavra.ErrInvalid, "%s: audit.checkpoint_interval is negative", l.ConfigPath())
	}
	return c, nil
}

// InitResult says what Init made and what it found.
type InitResult struct {
	Root          string
	CreatedConfig bool
	ActiveKey     cavra.KeyInfo
	SchemaVersion int
}

// Init creates the data home at root: the directory (mode 0700), config.yaml, the keyring
// with a first Ed25519 key, and the migrated database. It is idempotent: existing files and
// keys are kept as they are, never overwritten.
func Init(ctx context.Context, root string, clock func() time.Time, logger *slog.Logger) (InitResult, error) {
	res := InitResult{Root: root}
	if root == "" {
		return res, cavra.Errorf(cavra.ErrInvalid, "init data home: empty path")
	}
	if err := os.MkdirAll(root, 0o700); err != nil {
		return res, fmt.Errorf("init data home: %w", err)
	}
	l := Layout{Root: root}
	f, err := os.OpenFile(l.ConfigPath(), os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	switch {
	case err == nil:
		_, werr := f.WriteString(defaultConfig)
		if cerr := f.Close(); werr == nil {
			werr = cerr
		}
		if werr != nil {
			return res, fmt.Errorf("init data home: write config: %w", werr)
		}
		res.CreatedConfig = true
	case errors.Is(err, fs.ErrExist):
	default:
		return res, fmt.Errorf("init data home: create config: %w", err)
	}
	cfg, err := LoadConfig(l)
	if err != nil {
		return res, fmt.Errorf("init data home: %w", err)
	}
	kr, err := keys.Init(ctx, l.KeysDir(), clock, keys.WithLogger(logger))
	if err != nil {
		return res, fmt.Errorf("init data home: %w", err)
	}
	if res.ActiveKey, err = kr.ActiveInfo(); err != nil {
		return res, fmt.Errorf("init data home: %w", err)
	}
	st, err := sqlstore.OpenSQLite(ctx, l.DBPath(), sqlstore.Options{Logger: logger, Synchronous: cfg.Store.Synchronous})
	if err != nil {
		return res, fmt.Errorf("init data home: %w", err)
	}
	defer st.Close()
	if res.SchemaVersion, err = st.SchemaVersion(); err != nil {
		return res, fmt.Errorf("init data home: %w", err)
	}
	return res, nil
}
