// Package decisionlog appends decisions as JSON lines to a local file: the evidence of a hook
// that has no data home to write a signed audit log into.
package decisionlog

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	"github.com/cavra-dev/cavra"
)

// Log is a JSON-lines decision log.
type Log struct {
	path string
}

// New returns a log that appends to path, creating it and its directory on first write.
func New(path string) *Log { return &Log{path: path} }

// Record is one line of the log.
type Record struct {
	Decision cavra.Decision `json:"decision"`
	Action   cavra.Action   `json:"action"`
}

// RecordDecision appends one line. A line is written with a single write to a file opened for
// appending, so concurrent hooks never interleave their lines.
func (l *Log) RecordDecision(_ context.Context, a cavra.Action, d cavra.Decision) error {
	line, err := json.Marshal(Record{Decision: d, Action: a})
	if err != nil {
		return fmt.Errorf("encode decision: %w", err)
	}
	line = append(line, '\n')
	if err := os.MkdirAll(filepath.Dir(l.path), 0o700); err != nil {
		return fmt.Errorf("create decision log directory: %w", err)
	}
	f, err := os.OpenFile(l.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("open decision log: %w", err)
	}
	if _, err := f.Write(line); err != nil {
		f.Close()
		return fmt.Errorf("append decision: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("close decision log: %w", err)
	}
	return nil
}
