package mcpgw

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sync"
)

// ResultLog appends result records as JSON lines to a file, next to the decision log that holds
// the decisions they refer to (by DecisionID). The file stays open between records: a gateway
// writes one per tool call, and reopening it each time cost a tenth of the gateway's time.
type ResultLog struct {
	path string
	mu   sync.Mutex
	f    *os.File
}

// NewResultLog appends to path, creating it and its directory on first write.
func NewResultLog(path string) *ResultLog { return &ResultLog{path: path} }

// RecordResult appends one line with a single write to a file opened for appending, so that
// several gateways sharing the file never interleave their lines.
func (l *ResultLog) RecordResult(_ context.Context, r ResultRecord) error {
	line, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("encode result record: %w", err)
	}
	line = append(line, '\n')
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.f == nil {
		if err := os.MkdirAll(filepath.Dir(l.path), 0o700); err != nil {
			return fmt.Errorf("create result log directory: %w", err)
		}
		f, err := os.OpenFile(l.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
		if err != nil {
			return fmt.Errorf("open result log: %w", err)
		}
		l.f = f
	}
	if _, err := l.f.Write(line); err != nil {
		// Reopen on the next record: the file may have been moved or its disk remounted.
		l.f.Close()
		l.f = nil
		return fmt.Errorf("append result record: %w", err)
	}
	return nil
}

// Close closes the file; a later record reopens it.
func (l *ResultLog) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.f == nil {
		return nil
	}
	err := l.f.Close()
	l.f = nil
	if err != nil {
		return fmt.Errorf("close result log: %w", err)
	}
	return nil
}
