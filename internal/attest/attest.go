// Package attest produces and checks CAVRA action attestations: DSSE envelopes over in-toto v1
// statements that say "this act was decided allow_with_attestation by this policy, and here is
// what it touched". They are signed with the data home's evidence key, so the same keyring (its
// validity windows and revocations) decides whether an attestation is still trustworthy.
//
// The subjects are digests, never content: commits by their git commit id, file writes by the
// SHA-256 of the text written, commands by the SHA-256 of the command line, and always the
// action's fingerprint, which binds every fact the policy judged.
package attest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	intoto "github.com/in-toto/attestation/go/v1"
	"github.com/secure-systems-lab/go-securesystemslib/dsse"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/cavra-dev/cavra"
	"github.com/cavra-dev/cavra/internal/keys"
)

const (
	// PayloadType is the DSSE payload type of an in-toto statement.
	PayloadType = "application/vnd.in-toto+json"
	// PredicateType names CAVRA's action attestation predicate.
	PredicateType = "https://cavra.dev/attestation/action/v1"
	// RecordType is the audit record that binds an attestation (its SHA-256) to the log.
	RecordType cavra.RecordType = "attestation"
	// ActionSubject names the subject that carries the action's fingerprint.
	ActionSubject = "cavra:action"
	// CommandSubject names the subject that carries the SHA-256 of the command line.
	CommandSubject = "cavra:command"
	// CommitSubjectPrefix prefixes the name of a commit subject; the commit id follows.
	CommitSubjectPrefix = "git:commit:"

	// MaxEnvelopeBytes bounds the envelope Verify accepts, so a hostile file cannot exhaust
	// memory through base64 and JSON decoding.
	MaxEnvelopeBytes = 16 << 20
)

// Subject is one thing the attested act touched, named and identified by digest.
type Subject struct {
	Name   string            `json:"name"`
	Digest map[string]string `json:"digest"`
}

// Statement is what Build signs.
type Statement struct {
	// Action is the normalised action that was decided.
	Action cavra.Action
	// Decision is the decision; its ID must be set (the id of its audit record).
	Decision cavra.Decision
	// AuditIndex is the leaf index of the decision's record in the audit log.
	AuditIndex uint64
	// Subjects lists what the act touched; nil means SubjectsOf(Action). The action's
	// fingerprint subject is added when missing.
	Subjects []Subject
	// SignedAt is the signing time the statement claims; zero means now.
	SignedAt time.Time
}

// PredicateDecision is the decision part of the predicate.
type PredicateDecision struct {
	ID             string        `json:"id"`
	RuleID         string        `json:"rule_id,omitempty"`
	Policy         string        `json:"policy"`
	PolicyRevision string        `json:"policy_revision"`
	Outcome        cavra.Outcome `json:"outcome"`
	Severity       string        `json:"severity,omitempty"`
}

// Predicate is the signed body of a CAVRA action attestation.
type Predicate struct {
	Decision    PredicateDecision `json:"decision"`
	Fingerprint string            `json:"fingerprint"`
	Kind        cavra.Kind        `json:"kind"`
	// Actor is the principal the agent acted for, when known.
	Actor     string `json:"actor,omitempty"`
	Tenant    string `json:"tenant,omitempty"`
	Workspace string `json:"workspace,omitempty"`
	// Host is the agent host or entry point (claude-code, codex, git, ci...), Tool its tool.
	Host      string `json:"host,omitempty"`
	Tool      string `json:"tool,omitempty"`
	Event     string `json:"event,omitempty"`
	Agent     string `json:"agent,omitempty"`
	SessionID string `json:"session_id,omitempty"`
	// AuditIndex is decimal text: protobuf Struct numbers are doubles and would lose precision.
	AuditIndex string `json:"audit_index"`
	SignedAt   string `json:"signed_at"`
}

// Verified is what Verify establishes about an envelope.
type Verified struct {
	KeyID     string
	SignedAt  time.Time
	Subjects  []Subject
	Predicate Predicate
}

// Errors Verify wraps, so callers can tell a broken file from a failed check.
var (
	ErrMalformed    = errors.New("malformed attestation")
	ErrUntrustedKey = errors.New("untrusted signer")
	ErrSignature    = errors.New("bad signature")
	ErrKeyValidity  = errors.New("signing key not valid at the signing time")
)

// SubjectsOf derives the subjects of an action: the SHA-256 of each file write's text, the
// SHA-256 of the command line, and the fingerprint of the whole action.
func SubjectsOf(a cavra.Action) []Subject {
	var out []Subject
	if a.Command != nil && a.Command.Line != "" {
		out = append(out, Subject{Name: CommandSubject, Digest: map[string]string{"sha256": sha256Hex([]byte(a.Command.Line))}})
	}
	for _, f := range a.Files {
		if f.Op != cavra.FileWrite {
			continue
		}
		out = append(out, Subject{Name: f.Path, Digest: map[string]string{"sha256": sha256Hex([]byte(f.Content))}})
	}
	return append(out, fingerprintSubject(a))
}

// CommitSubjects names git commits by id: "gitCommit" for SHA-1 repositories; the in-toto
// bindings know gitCommit only as SHA-1, so a SHA-256 repository's ids go under "sha256".
func CommitSubjects(ids []string) ([]Subject, error) {
	out := make([]Subject, 0, len(ids))
	for _, id := range ids {
		id = strings.ToLower(strings.TrimSpace(id))
		if _, err := hex.DecodeString(id); err != nil {
			return nil, cavra.Errorf(cavra.ErrInvalid, "commit id %q is not hex", id)
		}
		var alg string
		switch len(id) {
		case 40:
			alg = "gitCommit"
		case 64:
			alg = "sha256"
		default:
			return nil, cavra.Errorf(cavra.ErrInvalid, "commit id %q has %d hex digits, want 40 or 64", id, len(id))
		}
		out = append(out, Subject{Name: CommitSubjectPrefix + id, Digest: map[string]string{alg: id}})
	}
	return out, nil
}

func fingerprintSubject(a cavra.Action) Subject {
	return Subject{Name: ActionSubject, Digest: map[string]string{"sha256": strings.TrimPrefix(a.Fingerprint(), "sha256:")}}
}

func sha256Hex(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// Build signs st and returns the DSSE envelope's JSON.
func Build(ctx context.Context, signer cavra.Signer, st Statement) ([]byte, error) {
	if signer == nil {
		return nil, cavra.Errorf(cavra.ErrInvalid, "build attestation: no signer")
	}
	d := st.Decision
	if d.ID == "" {
		return nil, cavra.Errorf(cavra.ErrInvalid, "build attestation: the decision has no id")
	}
	if !d.Outcome.Valid() {
		return nil, cavra.Errorf(cavra.ErrInvalid, "build attestation: invalid outcome %q", d.Outcome)
	}
	signedAt := st.SignedAt
	if signedAt.IsZero() {
		signedAt = time.Now()
	}
	subjects := st.Subjects
	if subjects == nil {
		subjects = SubjectsOf(st.Action)
	}
	fp := fingerprintSubject(st.Action)
	hasFingerprint := false
	for _, s := range subjects {
		hasFingerprint = hasFingerprint || s.Name == ActionSubject
	}
	if !hasFingerprint {
		subjects = append(append([]Subject(nil), subjects...), fp)
	}
	a := st.Action
	pred := Predicate{
		Decision: PredicateDecision{ID: d.ID, RuleID: d.RuleID, Policy: d.Policy, PolicyRevision: d.PolicyRevision,
			Outcome: d.Outcome, Severity: string(d.Severity)},
		Fingerprint: a.Fingerprint(), Kind: a.Kind, Actor: a.Principal, Tenant: a.Tenant, Workspace: a.Workspace,
		Host: a.Source.Host, Tool: a.Source.Tool, Event: a.Source.Event, Agent: a.Source.Agent, SessionID: a.Source.SessionID,
		AuditIndex: strconv.FormatUint(st.AuditIndex, 10),
		SignedAt:   signedAt.UTC().Format(time.RFC3339Nano),
	}
	payload, err := statementJSON(pred, subjects)
	if err != nil {
		return nil, fmt.Errorf("build attestation: %w", err)
	}
	es, err := dsse.NewEnvelopeSigner(dsseSigner{s: signer})
	if err != nil {
		return nil, fmt.Errorf("build attestation: %w", err)
	}
	env, err := es.SignPayload(ctx, PayloadType, payload)
	if err != nil {
		return nil, fmt.Errorf("build attestation: sign: %w", err)
	}
	out, err := json.MarshalIndent(env, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("build attestation: encode: %w", err)
	}
	return append(out, '\n'), nil
}

func statementJSON(pred Predicate, subjects []Subject) ([]byte, error) {
	raw, err := json.Marshal(pred)
	if err != nil {
		return nil, fmt.Errorf("predicate: %w", err)
	}
	var fields map[string]any
	if err := json.Unmarshal(raw, &fields); err != nil {
		return nil, fmt.Errorf("predicate: %w", err)
	}
	ps, err := structpb.NewStruct(fields)
	if err != nil {
		return nil, fmt.Errorf("predicate: %w", err)
	}
	st := &intoto.Statement{
		Type:          intoto.StatementTypeUri,
		PredicateType: PredicateType,
		Predicate:     ps,
		Subject:       make([]*intoto.ResourceDescriptor, len(subjects)),
	}
	for i, s := range subjects {
		st.Subject[i] = &intoto.ResourceDescriptor{Name: s.Name, Digest: s.Digest}
	}
	if err := st.Validate(); err != nil {
		return nil, cavra.Errorf(cavra.ErrInvalid, "statement: %w", err)
	}
	payload, err := protojson.Marshal(st)
	if err != nil {
		return nil, fmt.Errorf("statement: %w", err)
	}
	// protojson varies its whitespace from build to build on purpose; compacting makes the
	// signed bytes depend on the statement alone.
	var compact bytes.Buffer
	if err := json.Compact(&compact, payload); err != nil {
		return nil, fmt.Errorf("statement: %w", err)
	}
	return compact.Bytes(), nil
}

// dsseSigner adapts a cavra.Signer to DSSE, which signs the pre-authentication encoding.
type dsseSigner struct{ s cavra.Signer }

func (d dsseSigner) Sign(ctx context.Context, data []byte) ([]byte, error) {
	return d.s.Sign(ctx, data)
}

func (d dsseSigner) KeyID() (string, error) { return d.s.KeyID(), nil }

// envelope is the DSSE envelope as read: strict, so a field this verifier does not know is
// an error rather than silently ignored.
type envelope struct {
	PayloadType string      `json:"payloadType"`
	Payload     string      `json:"payload"`
	Signatures  []signature `json:"signatures"`
}

type signature struct {
	KeyID string `json:"keyid"`
	Sig   string `json:"sig"`
}

// parseEnvelope reads a DSSE envelope strictly: known fields only, standard base64, an
// in-toto payload type, at least one signature. It checks no signature.
func parseEnvelope(data []byte) (payload []byte, sigs []signature, err error) {
	if len(data) > MaxEnvelopeBytes {
		return nil, nil, fmt.Errorf("%w: envelope larger than %d bytes", ErrMalformed, MaxEnvelopeBytes)
	}
	var env envelope
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&env); err != nil {
		return nil, nil, fmt.Errorf("%w: envelope: %w", ErrMalformed, err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, nil, fmt.Errorf("%w: trailing data after the envelope", ErrMalformed)
	}
	if env.PayloadType != PayloadType {
		return nil, nil, fmt.Errorf("%w: payload type %q, want %q", ErrMalformed, env.PayloadType, PayloadType)
	}
	payload, err = base64.StdEncoding.Strict().DecodeString(env.Payload)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: payload is not base64: %w", ErrMalformed, err)
	}
	if len(env.Signatures) == 0 {
		return nil, nil, fmt.Errorf("%w: envelope has no signatures", ErrUntrustedKey)
	}
	return payload, env.Signatures, nil
}

// Verify checks an envelope against trustedKeys: every signature by a trusted key must verify,
// at least one must exist, and each such key must have been valid (inside its window, before
// its revocation) at the signing time the statement claims. A statement claiming to be signed
// after at (normally now) is refused: no honest signer dates the future, and a key without an
// end date would otherwise vouch for any time. The statement must be a CAVRA action
// attestation whose fingerprint subject matches its predicate.
func Verify(data []byte, trustedKeys []cavra.KeyInfo, at time.Time) (*Verified, error) {
	payload, sigs, err := parseEnvelope(data)
	if err != nil {
		return nil, err
	}
	trusted := make(map[string]cavra.KeyInfo, len(trustedKeys))
	for _, k := range trustedKeys {
		trusted[k.ID] = k
	}
	pae := dsse.PAE(PayloadType, payload)
	var signers []cavra.KeyInfo
	var unknown []string
	for i, s := range sigs {
		k, ok := trusted[s.KeyID]
		if !ok {
			unknown = append(unknown, strconv.Quote(s.KeyID))
			continue
		}
		sig, err := base64.StdEncoding.Strict().DecodeString(s.Sig)
		if err != nil {
			return nil, fmt.Errorf("%w: signature %d is not base64", ErrMalformed, i)
		}
		pub, alg, err := keys.ParsePublicKey(k.PublicKey)
		if err != nil {
			return nil, fmt.Errorf("%w: trusted key %s: %w", ErrUntrustedKey, k.ID, err)
		}
		if k.Algorithm != "" && k.Algorithm != alg {
			return nil, fmt.Errorf("%w: trusted key %s says %s but holds an %s key", ErrUntrustedKey, k.ID, k.Algorithm, alg)
		}
		if !keys.VerifySignature(alg, pub, pae, sig) {
			return nil, fmt.Errorf("%w: signature by key %s does not verify: the attestation was altered or forged", ErrSignature, k.ID)
		}
		signers = append(signers, k)
	}
	if len(signers) == 0 {
		return nil, fmt.Errorf("%w: signed only by keys not trusted here [%s]", ErrUntrustedKey, strings.Join(unknown, ", "))
	}
	v, err := parseStatement(payload)
	if err != nil {
		return nil, err
	}
	if !at.IsZero() && v.SignedAt.After(at) {
		return nil, fmt.Errorf("%w: signed at %s, after the verification time %s", ErrKeyValidity,
			v.SignedAt.UTC().Format(time.RFC3339Nano), at.UTC().Format(time.RFC3339Nano))
	}
	for _, k := range signers {
		if err := keys.Valid(k, v.SignedAt); err != nil {
			return nil, fmt.Errorf("%w: %w", ErrKeyValidity, err)
		}
	}
	v.KeyID = signers[0].ID
	return v, nil
}

// parseStatement decodes and checks the signed statement and its predicate.
func parseStatement(payload []byte) (*Verified, error) {
	var st intoto.Statement
	if err := protojson.Unmarshal(payload, &st); err != nil {
		return nil, fmt.Errorf("%w: statement: %w", ErrMalformed, err)
	}
	if err := st.Validate(); err != nil {
		return nil, fmt.Errorf("%w: statement: %w", ErrMalformed, err)
	}
	if st.GetType() != intoto.StatementTypeUri {
		return nil, fmt.Errorf("%w: statement type %q, want %q", ErrMalformed, st.GetType(), intoto.StatementTypeUri)
	}
	if st.GetPredicateType() != PredicateType {
		return nil, fmt.Errorf("%w: predicate type %q, want %q", ErrMalformed, st.GetPredicateType(), PredicateType)
	}
	raw, err := protojson.Marshal(st.GetPredicate())
	if err != nil {
		return nil, fmt.Errorf("%w: predicate: %w", ErrMalformed, err)
	}
	var pred Predicate
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&pred); err != nil {
		return nil, fmt.Errorf("%w: predicate: %w", ErrMalformed, err)
	}
	signedAt, err := time.Parse(time.RFC3339Nano, pred.SignedAt)
	if err != nil {
		return nil, fmt.Errorf("%w: predicate signed_at: %w", ErrMalformed, err)
	}
	if _, err := strconv.ParseUint(pred.AuditIndex, 10, 64); err != nil {
		return nil, fmt.Errorf("%w: predicate audit_index: %w", ErrMalformed, err)
	}
	if pred.Decision.ID == "" || !pred.Decision.Outcome.Valid() || !strings.HasPrefix(pred.Fingerprint, "sha256:") {
		return nil, fmt.Errorf("%w: predicate lacks a decision id, a valid outcome or the action fingerprint", ErrMalformed)
	}
	v := &Verified{SignedAt: signedAt, Predicate: pred, Subjects: make([]Subject, len(st.GetSubject()))}
	fingerprintBound := false
	for i, s := range st.GetSubject() {
		v.Subjects[i] = Subject{Name: s.GetName(), Digest: s.GetDigest()}
		if s.GetName() == ActionSubject && "sha256:"+s.GetDigest()["sha256"] == pred.Fingerprint {
			fingerprintBound = true
		}
	}
	if !fingerprintBound {
		return nil, fmt.Errorf("%w: no %s subject matches the predicate's fingerprint", ErrMalformed, ActionSubject)
	}
	return v, nil
}

// AuditIndex is the predicate's audit index as a number; Verify has checked it parses.
func (v *Verified) AuditIndex() uint64 {
	n, _ := strconv.ParseUint(v.Predicate.AuditIndex, 10, 64)
	return n
}
