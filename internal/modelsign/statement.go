package modelsign

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
)

// Type names of the signed payload.
const (
	PayloadType         = "application/vnd.in-toto+json"
	StatementType       = "https://in-toto.io/Statement/v1"
	PredicateType       = "https://model_signing/signature/v1.0"
	PredicateTypeCompat = "https://model_signing/Digests/v0.1" // model_signing v0.2: one subject per file
)

// Statement is the in-toto v1 Statement that an OpenSSF model signature signs.
type Statement struct {
	Type          string          `json:"_type"`
	Subject       []Subject       `json:"subject"`
	PredicateType string          `json:"predicateType"`
	Predicate     json.RawMessage `json:"predicate"`
}

// Subject names the model and carries its root digest.
type Subject struct {
	Name   string            `json:"name"`
	Digest map[string]string `json:"digest"`
}

// Predicate is the body of a v1.0 model signature.
type Predicate struct {
	Serialization Serialization `json:"serialization"`
	Resources     []Resource    `json:"resources"`
}

// UnmarshalJSON reads a serialization record. Protobuf's Struct stores numbers as doubles, so
// the OpenSSF tool writes shard_size as 1000000000.0; any integral value is accepted.
func (s *Serialization) UnmarshalJSON(b []byte) error {
	var raw struct {
		Method        *string      `json:"method"`
		HashType      *string      `json:"hash_type"`
		AllowSymlinks *bool        `json:"allow_symlinks"`
		ShardSize     *json.Number `json:"shard_size"`
		IgnorePaths   []string     `json:"ignore_paths"`
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		return err
	}
	if raw.Method == nil || raw.HashType == nil || raw.AllowSymlinks == nil {
		return errors.New("serialization needs method, hash_type and allow_symlinks")
	}
	*s = Serialization{Method: *raw.Method, HashType: *raw.HashType, AllowSymlinks: *raw.AllowSymlinks,
		IgnorePaths: raw.IgnorePaths}
	if raw.ShardSize != nil {
		f, err := strconv.ParseFloat(raw.ShardSize.String(), 64)
		if err != nil || f != math.Trunc(f) || f <= 0 || f > 1<<53 {
			return fmt.Errorf("shard_size %s is not a positive integer", raw.ShardSize.String())
		}
		s.ShardSize = int64(f)
	}
	return nil
}

var hexDigest = regexp.MustCompile(`^[0-9a-f]{64}$`)

// NewStatement builds the v1.0 statement for m, computing the subject digest over its
// resources in their listed order.
func NewStatement(m *Manifest) (*Statement, error) {
	root, err := m.RootDigest()
	if err != nil {
		return nil, err
	}
	resources := m.Resources
	if resources == nil {
		resources = []Resource{}
	}
	pred, err := marshalJSON(Predicate{Serialization: m.Serialization, Resources: resources}, "")
	if err != nil {
		return nil, fmt.Errorf("encode predicate: %w", err)
	}
	return &Statement{
		Type:          StatementType,
		Subject:       []Subject{{Name: m.ModelName, Digest: map[string]string{"sha256": root}}},
		PredicateType: PredicateType,
		Predicate:     pred,
	}, nil
}

// Marshal encodes the statement as the DSSE payload: indented JSON, like the OpenSSF tool's
// protobuf JSON output (the bytes need not match theirs: the signature covers whatever is sent).
func (st *Statement) Marshal() ([]byte, error) {
	return marshalJSON(st, "  ")
}

func marshalJSON(v any, indent string) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if indent != "" {
		enc.SetIndent("", indent)
	}
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimRight(buf.Bytes(), "\n"), nil
}

// ParseStatement decodes a DSSE payload into a manifest, checking everything the OpenSSF
// verifier checks: statement and predicate types, a single subject, a known serialization, and
// that the subject digest is the digest of the listed resource digests.
func ParseStatement(payload []byte) (*Manifest, error) {
	var st Statement
	if err := json.Unmarshal(payload, &st); err != nil {
		return nil, fmt.Errorf("decode statement: %w", err)
	}
	if st.Type != StatementType {
		return nil, fmt.Errorf("statement type is %q, want %q", st.Type, StatementType)
	}
	switch st.PredicateType {
	case PredicateType:
	case PredicateTypeCompat:
		return parseCompatStatement(&st)
	default:
		return nil, fmt.Errorf("predicate type is %q, want %q", st.PredicateType, PredicateType)
	}
	if len(st.Subject) != 1 {
		return nil, fmt.Errorf("statement has %d subjects, want exactly one", len(st.Subject))
	}
	want := st.Subject[0].Digest["sha256"]
	if !hexDigest.MatchString(want) {
		return nil, errors.New("subject has no sha256 digest in lower-case hex")
	}
	if len(st.Predicate) == 0 {
		return nil, errors.New("statement has no predicate")
	}
	var pred struct {
		Serialization *Serialization `json:"serialization"`
		Resources     []Resource     `json:"resources"`
	}
	if err := json.Unmarshal(st.Predicate, &pred); err != nil {
		return nil, fmt.Errorf("decode predicate: %w", err)
	}
	if pred.Serialization == nil {
		return nil, errors.New("predicate has no serialization")
	}
	m := &Manifest{ModelName: st.Subject[0].Name, Serialization: *pred.Serialization, Resources: pred.Resources}
	if err := checkManifest(m); err != nil {
		return nil, err
	}
	got, err := m.RootDigest()
	if err != nil {
		return nil, err
	}
	if got != want {
		return nil, fmt.Errorf("manifest is inconsistent: subject digest is %s but the resources hash to %s", want, got)
	}
	return m, nil
}

func checkManifest(m *Manifest) error {
	s := m.Serialization
	if s.HashType != HashSHA256 {
		return fmt.Errorf("hash type %q is not supported (only %q)", s.HashType, HashSHA256)
	}
	if s.AllowSymlinks {
		// Verifying such a bundle would mean following links: refuse rather than weaken.
		return errors.New("signature allows symbolic links, which this verifier does not follow")
	}
	wantAlg := HashSHA256
	switch s.Method {
	case MethodFiles:
		if s.ShardSize != 0 {
			return errors.New("files serialization must not carry shard_size")
		}
	case MethodShards:
		if s.ShardSize <= 0 {
			return errors.New("shards serialization needs a positive shard_size")
		}
		wantAlg = shardAlgorithm(s.ShardSize)
	default:
		return fmt.Errorf("unknown serialization method %q", s.Method)
	}
	seen := make(map[string]bool, len(m.Resources))
	for _, r := range m.Resources {
		if err := checkResourceName(r.Name, s); err != nil {
			return err
		}
		if seen[r.Name] {
			return fmt.Errorf("resource %q is listed twice", r.Name)
		}
		seen[r.Name] = true
		if r.Algorithm != wantAlg {
			return fmt.Errorf("resource %q: algorithm %q, want %q", r.Name, r.Algorithm, wantAlg)
		}
		if !hexDigest.MatchString(r.Digest) {
			return fmt.Errorf("resource %q: digest is not 64 lower-case hex digits", r.Name)
		}
	}
	return nil
}

func checkResourceName(name string, s Serialization) error {
	p := name
	if s.Method == MethodShards {
		var start, end int64
		p, start, end = splitShard(name)
		if p == name || start < 0 || end <= start || end-start > s.ShardSize || start%s.ShardSize != 0 {
			return fmt.Errorf("resource %q is not a valid path:start:end shard", name)
		}
	}
	if p == "" || strings.HasPrefix(p, "/") || strings.Contains(p, "\x00") {
		return fmt.Errorf("resource name %q is not a relative path", name)
	}
	for _, part := range strings.Split(p, "/") {
		if part == "" || part == "." || part == ".." {
			return fmt.Errorf("resource name %q is not a clean relative path", name)
		}
	}
	return nil
}

// parseCompatStatement reads the pre-1.0 format (one subject per file, no serialization record),
// which the OpenSSF verifier still accepts.
func parseCompatStatement(st *Statement) (*Manifest, error) {
	m := &Manifest{
		ModelName:     "compat-undefined-not-present",
		Serialization: Serialization{Method: MethodFiles, HashType: HashSHA256},
	}
	for _, s := range st.Subject {
		m.Resources = append(m.Resources, Resource{Name: s.Name, Algorithm: HashSHA256, Digest: s.Digest["sha256"]})
	}
	if err := checkManifest(m); err != nil {
		return nil, err
	}
	return m, nil
}
