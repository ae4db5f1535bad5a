package audit

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/cavra-dev/cavra"
	"github.com/cavra-dev/cavra/internal/home"
	"github.com/cavra-dev/cavra/internal/keys"
	"github.com/cavra-dev/cavra/internal/store/sqlstore"
)

// OpenLocal opens the audit log in the data home at root, over its SQLite database, creating
// the directory and database on first use. It is built for a process per agent tool call:
// with a current schema it costs one version check, and the signing key is loaded only when a
// checkpoint trigger fires. keyOpts reach the keyring (a PKCS#11 PIN, custody openers). The
// returned close function closes the database.
func OpenLocal(ctx context.Context, root string, logger *slog.Logger, keyOpts ...keys.Option) (*Log, func() error, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	layout := home.Layout{Root: root}
	cfg, err := home.LoadConfig(layout)
	if err != nil {
		return nil, nil, fmt.Errorf("open local audit log: %w", err)
	}
	if err := os.MkdirAll(root, 0o700); err != nil {
		return nil, nil, fmt.Errorf("open local audit log: %w", err)
	}
	st, err := sqlstore.OpenSQLite(ctx, layout.DBPath(), sqlstore.Options{Logger: logger, Synchronous: cfg.Store.Synchronous})
	if err != nil {
		return nil, nil, fmt.Errorf("open local audit log: %w", err)
	}
	l := New(st, Options{
		Logger:             logger,
		Signer:             KeyringSigner(layout.KeysDir(), logger, keyOpts...),
		CheckpointEvery:    cfg.Audit.CheckpointEvery,
		CheckpointInterval: cfg.Audit.CheckpointInterval,
	})
	return l, st.Close, nil
}

// KeyringSigner returns an Options.Signer that opens the active key of the keyring in dir on
// first use, creating the keyring if the data home has none yet, and reuses it afterwards.
func KeyringSigner(dir string, logger *slog.Logger, keyOpts ...keys.Option) func(ctx context.Context) (cavra.Signer, error) {
	var (
		mu     sync.Mutex
		signer cavra.Signer
	)
	return func(ctx context.Context) (cavra.Signer, error) {
		mu.Lock()
		defer mu.Unlock()
		if signer != nil {
			return signer, nil
		}
		opts := append([]keys.Option{keys.WithLogger(logger)}, keyOpts...)
		kr, err := keys.Load(ctx, dir, opts...)
		if cavra.Code(err) == cavra.ErrNotFound || errors.Is(err, os.ErrNotExist) {
			kr, err = keys.Init(ctx, dir, time.Now, opts...)
		}
		if err != nil {
			return nil, err
		}
		s, err := kr.Active(ctx)
		if err != nil {
			return nil, err
		}
		signer = s
		return s, nil
	}
}
