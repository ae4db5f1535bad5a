package mcpgw

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"
)

// Tool is the part of an MCP tool definition the gateway pins and inspects.
type Tool struct {
	Name         string `json:"name"`
	Title        string `json:"title,omitempty"`
	Description  string `json:"description,omitempty"`
	InputSchema  any    `json:"inputSchema,omitempty"`
	OutputSchema any    `json:"outputSchema,omitempty"`
}

// parseTool decodes a tool definition, keeping numbers exact so that the hash is stable.
func parseTool(raw json.RawMessage) (Tool, error) {
	var t Tool
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(&t); err != nil {
		return Tool{}, fmt.Errorf("decode tool definition: %w", err)
	}
	if t.Name == "" {
		return Tool{}, errors.New("tool definition has no name")
	}
	return t, nil
}

// DefinitionHash is the content address of what the model reads about a tool: name, title,
// description and schemas. Annotations are not pinned: they are hints the spec calls untrusted.
func DefinitionHash(t Tool) (string, error) {
	// encoding/json writes map keys sorted, so equal definitions hash equally whatever their
	// key order on the wire.
	b, err := json.Marshal(map[string]any{"name": t.Name, "title": t.Title, "description": t.Description,
		"inputSchema": t.InputSchema, "outputSchema": t.OutputSchema})
	if err != nil {
		return "", fmt.Errorf("hash tool definition: %w", err)
	}
	sum := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(sum[:]), nil
}

// Pin is the definition of one tool as first seen (or last approved).
type Pin struct {
	Tool       string    `json:"tool"`
	Hash       string    `json:"hash"`
	Definition Tool      `json:"definition"`
	PinnedAt   time.Time `json:"pinned_at"`
	// Findings are the poisoning detector's findings on the pinned definition; a tool with
	// findings is blocked until a human approves it.
	Findings []Finding `json:"findings,omitempty"`
	Approved bool      `json:"approved,omitempty"`
	// Pending is a different definition the server later presented: a rug pull until approved.
	Pending *Candidate `json:"pending,omitempty"`
}

// Candidate is a changed tool definition awaiting approval.
type Candidate struct {
	Hash       string    `json:"hash"`
	Definition Tool      `json:"definition"`
	SeenAt     time.Time `json:"seen_at"`
	Findings   []Finding `json:"findings,omitempty"`
}

// Blocked says whether calls to the tool are refused, and why.
func (p *Pin) Blocked() (bool, string) {
	switch {
	case p.Pending != nil:
		return true, fmt.Sprintf("the definition of tool %q changed since it was pinned on %s (pinned %s, now %s)",
			p.Tool, p.PinnedAt.Format(time.RFC3339), short(p.Hash), short(p.Pending.Hash))
	case len(p.Findings) > 0 && !p.Approved:
		return true, fmt.Sprintf("the description of tool %q looks poisoned: %s", p.Tool, p.Findings[0])
	}
	return false, ""
}

func short(h string) string {
	h = strings.TrimPrefix(h, "sha256:")
	if len(h) > 12 {
		return h[:12]
	}
	return h
}

// Observation is what the store made of a tool definition.
type Observation int

// Observations.
const (
	// FirstSeen: the definition is now pinned.
	FirstSeen Observation = iota
	// Unchanged: it matches the pin.
	Unchanged
	// Changed: it differs from the pin (a rug pull); it is recorded as pending.
	Changed
)

// PinStore keeps pinned tool definitions per server, one JSON file per server under a
// directory. It is safe for concurrent use, and it re-reads a server's file when another process
// (`cavra mcp pins approve`) changed it.
type PinStore struct {
	dir string
	now func() time.Time

	mu      sync.Mutex
	servers map[string]*serverPins
}

type serverPins struct {
	modTime time.Time
	size    int64
	tools   map[string]*Pin
}

type pinFile struct {
	Server string `json:"server"`
	Tools  []*Pin `json:"tools"`
}

// NewPinStore keeps pins under dir; now is the clock (time.Now when nil).
func NewPinStore(dir string, now func() time.Time) *PinStore {
	if now == nil {
		now = time.Now
	}
	return &PinStore{dir: dir, now: now, servers: map[string]*serverPins{}}
}

func (s *PinStore) path(server string) string {
	safe := strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.' {
			return r
		}
		return '_'
	}, server)
	if strings.Trim(safe, ".") == "" {
		safe = "_" + safe
	}
	sum := sha256.Sum256([]byte(server))
	// The hash suffix keeps "a/b" and "a_b" apart after sanitising.
	return filepath.Join(s.dir, safe+"-"+hex.EncodeToString(sum[:4])+".json")
}

// load returns the server's pins, re-reading the file when it changed on disk. Callers hold mu.
func (s *PinStore) load(server string) (*serverPins, error) {
	cur := s.servers[server]
	info, err := os.Stat(s.path(server))
	switch {
	case errors.Is(err, fs.ErrNotExist):
		if cur == nil {
			cur = &serverPins{tools: map[string]*Pin{}}
			s.servers[server] = cur
		}
		return cur, nil
	case err != nil:
		return nil, fmt.Errorf("stat pins of %s: %w", server, err)
	}
	if cur != nil && info.ModTime().Equal(cur.modTime) && info.Size() == cur.size {
		return cur, nil
	}
	data, err := os.ReadFile(s.path(server))
	if err != nil {
		return nil, fmt.Errorf("read pins of %s: %w", server, err)
	}
	var f pinFile
	if err := json.Unmarshal(data, &f); err != nil {
		return nil, fmt.Errorf("parse pins of %s (%s): %w", server, s.path(server), err)
	}
	sp := &serverPins{modTime: info.ModTime(), size: info.Size(), tools: map[string]*Pin{}}
	for _, p := range f.Tools {
		if p != nil && p.Tool != "" {
			sp.tools[p.Tool] = p
		}
	}
	s.servers[server] = sp
	return sp, nil
}

// save writes the server's pins atomically. Callers hold mu.
func (s *PinStore) save(server string, sp *serverPins) error {
	f := pinFile{Server: server}
	for _, p := range sp.tools {
		f.Tools = append(f.Tools, p)
	}
	sort.Slice(f.Tools, func(i, j int) bool { return f.Tools[i].Tool < f.Tools[j].Tool })
	data, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return fmt.Errorf("encode pins of %s: %w", server, err)
	}
	if err := os.MkdirAll(s.dir, 0o700); err != nil {
		return fmt.Errorf("create pin directory: %w", err)
	}
	tmp, err := os.CreateTemp(s.dir, ".pins-*")
	if err != nil {
		return fmt.Errorf("write pins of %s: %w", server, err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(append(data, '\n')); err != nil {
		tmp.Close()
		return fmt.Errorf("write pins of %s: %w", server, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write pins of %s: %w", server, err)
	}
	if err := os.Rename(tmp.Name(), s.path(server)); err != nil {
		return fmt.Errorf("replace pins of %s: %w", server, err)
	}
	if info, err := os.Stat(s.path(server)); err == nil {
		sp.modTime, sp.size = info.ModTime(), info.Size()
	}
	return nil
}

// Observe compares a listed tool definition with the pin and records what is new: a first
// definition is pinned (with the poisoning findings), a different one is kept as pending.
func (s *PinStore) Observe(server string, t Tool, findings []Finding) (Observation, *Pin, error) {
	hash, err := DefinitionHash(t)
	if err != nil {
		return 0, nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	sp, err := s.load(server)
	if err != nil {
		return 0, nil, err
	}
	p := sp.tools[t.Name]
	switch {
	case p == nil:
		p = &Pin{Tool: t.Name, Hash: hash, Definition: t, PinnedAt: s.now().UTC(), Findings: findings}
		sp.tools[t.Name] = p
		if err := s.save(server, sp); err != nil {
			return 0, nil, err
		}
		return FirstSeen, clonePin(p), nil
	case p.Hash == hash:
		if p.Pending != nil {
			// The server went back to the pinned definition; the pending change is moot.
			p.Pending = nil
			if err := s.save(server, sp); err != nil {
				return 0, nil, err
			}
		}
		return Unchanged, clonePin(p), nil
	default:
		if p.Pending == nil || p.Pending.Hash != hash {
			p.Pending = &Candidate{Hash: hash, Definition: t, SeenAt: s.now().UTC(), Findings: findings}
			if err := s.save(server, sp); err != nil {
				return 0, nil, err
			}
		}
		return Changed, clonePin(p), nil
	}
}

// Lookup returns the pin of a tool, or nil when the tool was never listed.
func (s *PinStore) Lookup(server, tool string) (*Pin, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sp, err := s.load(server)
	if err != nil {
		return nil, err
	}
	return clonePin(sp.tools[tool]), nil
}

// List returns the server's pins ordered by tool name.
func (s *PinStore) List(server string) ([]Pin, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sp, err := s.load(server)
	if err != nil {
		return nil, err
	}
	out := make([]Pin, 0, len(sp.tools))
	for _, p := range sp.tools {
		out = append(out, *clonePin(p))
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Tool < out[j].Tool })
	return out, nil
}

// ErrNoPin is returned when approving a tool that has no pin.
var ErrNoPin = errors.New("no pinned tool of that name")

// Approve accepts a tool: a pending definition replaces the pin, and poisoning findings are
// acknowledged. It returns the approved pin.
func (s *PinStore) Approve(server, tool string) (*Pin, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sp, err := s.load(server)
	if err != nil {
		return nil, err
	}
	p := sp.tools[tool]
	if p == nil {
		return nil, fmt.Errorf("approve %s/%s: %w", server, tool, ErrNoPin)
	}
	if p.Pending != nil {
		p.Hash, p.Definition, p.Findings = p.Pending.Hash, p.Pending.Definition, p.Pending.Findings
		p.PinnedAt, p.Pending = s.now().UTC(), nil
	}
	p.Approved = true
	if err := s.save(server, sp); err != nil {
		return nil, err
	}
	return clonePin(p), nil
}

func clonePin(p *Pin) *Pin {
	if p == nil {
		return nil
	}
	c := *p
	c.Findings = append([]Finding(nil), p.Findings...)
	if p.Pending != nil {
		pc := *p.Pending
		c.Pending = &pc
	}
	return &c
}
