package verify

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	intoto "github.com/in-toto/attestation/go/v1"
	"github.com/secure-systems-lab/go-securesystemslib/dsse"
	"github.com/transparency-dev/merkle/proof"
	"github.com/transparency-dev/merkle/rfc6962"
	"golang.org/x/mod/sumdb/note"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/types/known/structpb"
)

// What failed, for errors.Is. Every error Check returns wraps exactly one of these, and its
// message names the entry, key or field at fault.
var (
	ErrMalformed    = errors.New("malformed bundle")
	ErrUntrustedKey = errors.New("not signed by a trusted key")
	ErrSignature    = errors.New("bad signature")
	ErrKeyNotValid  = errors.New("key not valid at signing time")
	ErrCheckpoint   = errors.New("checkpoint mismatch")
	ErrAttestation  = errors.New("attestation mismatch")
	ErrInclusion    = errors.New("inclusion proof failed")
)

// Options adjusts Check.
type Options struct {
	// TrustedKeys are the keys to trust. Nil means the keys inside the bundle, which proves
	// integrity but not origin: anyone can make a self-consistent bundle with their own key.
	TrustedKeys []Key
}

// Result describes a bundle that verified.
type Result struct {
	Origin         string
	TreeSize       uint64
	RootHash       []byte
	Entries        int
	CheckpointKeys []string  // ids of the trusted keys whose checkpoint signatures verified
	CheckpointTime time.Time // zero if the checkpoint carries none
	AttestationKey string
	SignedAt       time.Time // the attestation's signing time
	SelfAsserted   bool      // trust came from the bundle's own keys
}

// Check verifies a bundle (see the package doc for what that proves).
func Check(data []byte, opts Options) (*Result, error) {
	b, err := Parse(data)
	if err != nil {
		return nil, err
	}
	return CheckBundle(b, opts)
}

// CheckBundle verifies a parsed bundle.
func CheckBundle(b *Bundle, opts Options) (*Result, error) {
	res := &Result{SelfAsserted: opts.TrustedKeys == nil}
	keyList := opts.TrustedKeys
	if keyList == nil {
		keyList = b.Keys
	}
	trusted, err := trustKeys(keyList)
	if err != nil {
		return nil, err
	}

	cp, err := checkCheckpoint([]byte(b.Checkpoint), trusted)
	if err != nil {
		return nil, err
	}
	res.Origin, res.TreeSize, res.RootHash = cp.origin, cp.size, cp.root
	res.CheckpointKeys, res.CheckpointTime = cp.signers, cp.time
	if b.TreeSize != cp.size {
		return nil, fmt.Errorf("%w: bundle tree_size %d but the checkpoint commits to size %d", ErrCheckpoint, b.TreeSize, cp.size)
	}

	st, err := checkAttestation(&b.Attestation, trusted, res)
	if err != nil {
		return nil, err
	}
	if err := checkPredicate(st, b, cp); err != nil {
		return nil, err
	}
	if err := checkEntries(b.Entries, st, cp); err != nil {
		return nil, err
	}
	res.Entries = len(b.Entries)
	return res, nil
}

type checkpoint struct {
	origin  string
	size    uint64
	root    []byte
	time    time.Time
	signers []string
}

// checkCheckpoint opens the signed note against the trusted keys and parses its body.
func checkCheckpoint(text []byte, trusted map[string]*trustedKey) (*checkpoint, error) {
	verifiers := make([]note.Verifier, 0, len(trusted))
	for _, k := range trusted {
		verifiers = append(verifiers, noteVerifier{k})
	}
	n, err := note.Open(text, note.VerifierList(verifiers...))
	if err != nil {
		var unverified *note.UnverifiedNoteError
		var invalid *note.InvalidSignatureError
		switch {
		case errors.As(err, &unverified):
			names := make([]string, 0, len(unverified.Note.UnverifiedSigs))
			for _, s := range unverified.Note.UnverifiedSigs {
				names = append(names, fmt.Sprintf("%s+%08x", s.Name, s.Hash))
			}
			return nil, fmt.Errorf("%w: checkpoint is signed only by unknown keys [%s]", ErrUntrustedKey, strings.Join(names, ", "))
		case errors.As(err, &invalid):
			return nil, fmt.Errorf("%w: checkpoint signature by trusted key %s+%08x does not verify: the checkpoint was altered or forged", ErrSignature, invalid.Name, invalid.Hash)
		default:
			return nil, fmt.Errorf("%w: checkpoint: %w", ErrMalformed, err)
		}
	}
	cp, err := parseCheckpointBody(n.Text)
	if err != nil {
		return nil, err
	}
	for _, sig := range n.Sigs {
		id := fmt.Sprintf("%s+%08x", sig.Name, sig.Hash)
		k := trusted[id]
		if k == nil {
			return nil, fmt.Errorf("%w: checkpoint signature by %s verified against no listed key", ErrUntrustedKey, id)
		}
		if cp.time.IsZero() {
			if k.revoked() {
				return nil, fmt.Errorf("%w: checkpoint carries no signing time and its key %s is revoked", ErrKeyNotValid, id)
			}
		} else if err := k.validAt(cp.time); err != nil {
			return nil, fmt.Errorf("checkpoint: %w", err)
		}
		cp.signers = append(cp.signers, id)
	}
	return cp, nil
}

// parseCheckpointBody reads origin, size, root hash and CAVRA's time extension.
func parseCheckpointBody(text string) (*checkpoint, error) {
	lines := strings.Split(strings.TrimSuffix(text, "\n"), "\n")
	if len(lines) < 3 {
		return nil, fmt.Errorf("%w: checkpoint body has %d lines, want origin, size and root hash", ErrMalformed, len(lines))
	}
	cp := &checkpoint{origin: lines[0]}
	if cp.origin == "" {
		return nil, fmt.Errorf("%w: checkpoint origin is empty", ErrMalformed)
	}
	size, err := strconv.ParseUint(lines[1], 10, 64)
	if err != nil || (lines[1] != "0" && strings.HasPrefix(lines[1], "0")) {
		return nil, fmt.Errorf("%w: checkpoint size %q is not a decimal number", ErrMalformed, lines[1])
	}
	cp.size = size
	root, err := base64.StdEncoding.Strict().DecodeString(lines[2])
	if err != nil || len(root) != sha256.Size {
		return nil, fmt.Errorf("%w: checkpoint root hash %q is not 32 base64 bytes", ErrMalformed, lines[2])
	}
	cp.root = root
	for _, ext := range lines[3:] {
		v, ok := strings.CutPrefix(ext, TimeExtensionPrefix)
		if !ok {
			continue
		}
		if !cp.time.IsZero() {
			return nil, fmt.Errorf("%w: checkpoint has two %q lines", ErrMalformed, strings.TrimSpace(TimeExtensionPrefix))
		}
		t, err := time.Parse(time.RFC3339Nano, v)
		if err != nil {
			return nil, fmt.Errorf("%w: checkpoint time %q: %w", ErrMalformed, v, err)
		}
		cp.time = t
	}
	return cp, nil
}

// checkAttestation verifies the DSSE envelope: every signature by a trusted key must verify and
// at least one must, by a key valid at the statement's signing time.
func checkAttestation(env *dsse.Envelope, trusted map[string]*trustedKey, res *Result) (*intoto.Statement, error) {
	if env.PayloadType != PayloadType {
		return nil, fmt.Errorf("%w: attestation payload type %q, want %q", ErrMalformed, env.PayloadType, PayloadType)
	}
	payload, err := base64.StdEncoding.Strict().DecodeString(env.Payload)
	if err != nil {
		return nil, fmt.Errorf("%w: attestation payload is not base64: %w", ErrMalformed, err)
	}
	if len(env.Signatures) == 0 {
		return nil, fmt.Errorf("%w: attestation has no signatures", ErrUntrustedKey)
	}
	pae := dsse.PAE(env.PayloadType, payload)
	var signers []*trustedKey
	var unknown []string
	for i, s := range env.Signatures {
		k := trusted[s.KeyID]
		if k == nil {
			unknown = append(unknown, strconv.Quote(s.KeyID))
			continue
		}
		sig, err := base64.StdEncoding.Strict().DecodeString(s.Sig)
		if err != nil {
			return nil, fmt.Errorf("%w: attestation signature %d is not base64", ErrMalformed, i)
		}
		if !k.verify(pae, sig) {
			return nil, fmt.Errorf("%w: attestation signature by key %s does not verify: the attestation was altered or forged", ErrSignature, k.ID)
		}
		signers = append(signers, k)
	}
	if len(signers) == 0 {
		return nil, fmt.Errorf("%w: attestation is signed only by unknown keys [%s]", ErrUntrustedKey, strings.Join(unknown, ", "))
	}

	var st intoto.Statement
	if err := protojson.Unmarshal(payload, &st); err != nil {
		return nil, fmt.Errorf("%w: attestation statement: %w", ErrMalformed, err)
	}
	if err := st.Validate(); err != nil {
		return nil, fmt.Errorf("%w: attestation statement: %w", ErrMalformed, err)
	}
	if st.GetType() != intoto.StatementTypeUri {
		return nil, fmt.Errorf("%w: statement type %q, want %q", ErrMalformed, st.GetType(), intoto.StatementTypeUri)
	}
	if st.GetPredicateType() != PredicateType {
		return nil, fmt.Errorf("%w: predicate type %q, want %q", ErrMalformed, st.GetPredicateType(), PredicateType)
	}
	signedAt, err := predicateTime(&st)
	if err != nil {
		return nil, err
	}
	for _, k := range signers {
		if err := k.validAt(signedAt); err != nil {
			return nil, fmt.Errorf("attestation: %w", err)
		}
	}
	res.AttestationKey = signers[0].ID
	res.SignedAt = signedAt
	return &st, nil
}

func predicateString(st *intoto.Statement, field string) (string, error) {
	v, ok := st.GetPredicate().GetFields()[field]
	if !ok {
		return "", fmt.Errorf("%w: predicate has no %q", ErrMalformed, field)
	}
	str, ok := v.GetKind().(*structpb.Value_StringValue)
	if !ok || str.StringValue == "" {
		return "", fmt.Errorf("%w: predicate %q is not a non-empty string", ErrMalformed, field)
	}
	return str.StringValue, nil
}

func predicateTime(st *intoto.Statement) (time.Time, error) {
	v, err := predicateString(st, "signed_at")
	if err != nil {
		return time.Time{}, err
	}
	t, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		return time.Time{}, fmt.Errorf("%w: predicate signed_at %q: %w", ErrMalformed, v, err)
	}
	return t, nil
}

// checkPredicate binds the attestation to this checkpoint and tree size.
func checkPredicate(st *intoto.Statement, b *Bundle, cp *checkpoint) error {
	size, err := predicateString(st, "tree_size")
	if err != nil {
		return err
	}
	if size != strconv.FormatUint(cp.size, 10) {
		return fmt.Errorf("%w: attestation is for tree size %s, the checkpoint for %d", ErrAttestation, size, cp.size)
	}
	if err := checkPredicateKeys(st, b.Keys); err != nil {
		return err
	}
	digest, err := predicateString(st, "checkpoint_sha256")
	if err != nil {
		return err
	}
	sum := sha256.Sum256([]byte(b.Checkpoint))
	if digest != hex.EncodeToString(sum[:]) {
		return fmt.Errorf("%w: attestation names checkpoint sha256 %s, the bundle's is %x", ErrAttestation, digest, sum)
	}
	return nil
}

// checkPredicateKeys requires the bundle's key list to be the one the attestation signed, so the
// keys, windows and revocations shipped with the evidence cannot be edited afterwards.
func checkPredicateKeys(st *intoto.Statement, bundleKeys []Key) error {
	v, ok := st.GetPredicate().GetFields()["keys"]
	if !ok {
		return fmt.Errorf("%w: predicate has no \"keys\"", ErrMalformed)
	}
	raw, err := protojson.Marshal(v)
	if err != nil {
		return fmt.Errorf("%w: predicate keys: %w", ErrMalformed, err)
	}
	var signed []Key
	if err := json.Unmarshal(raw, &signed); err != nil {
		return fmt.Errorf("%w: predicate keys: %w", ErrMalformed, err)
	}
	if len(signed) != len(bundleKeys) {
		return fmt.Errorf("%w: bundle lists %d keys, the attestation signed %d", ErrAttestation, len(bundleKeys), len(signed))
	}
	for i := range signed {
		if !sameKey(signed[i], bundleKeys[i]) {
			return fmt.Errorf("%w: bundle key %d (%s) differs from the key the attestation signed", ErrAttestation, i, bundleKeys[i].ID)
		}
	}
	return nil
}

func sameKey(a, b Key) bool {
	return a.ID == b.ID && a.Algorithm == b.Algorithm && bytes.Equal(a.PublicKey, b.PublicKey) &&
		a.Status == b.Status && a.Custody == b.Custody && a.NotBefore.Equal(b.NotBefore) &&
		a.NotAfter.Equal(b.NotAfter) && a.RevokedAt.Equal(b.RevokedAt)
}

// checkEntries checks that the statement's subjects are exactly the entries, and each entry's
// record is in the tree under the checkpoint's root.
func checkEntries(entries []Entry, st *intoto.Statement, cp *checkpoint) error {
	subjects := make(map[string]string, len(st.GetSubject()))
	for _, s := range st.GetSubject() {
		if _, dup := subjects[s.GetName()]; dup {
			return fmt.Errorf("%w: subject %q appears twice", ErrAttestation, s.GetName())
		}
		subjects[s.GetName()] = s.GetDigest()["sha256"]
	}
	if len(subjects) != len(entries) {
		return fmt.Errorf("%w: attestation has %d subjects, the bundle %d entries", ErrAttestation, len(subjects), len(entries))
	}
	hasher := rfc6962.DefaultHasher
	seen := make(map[uint64]bool, len(entries))
	for i, e := range entries {
		if seen[e.Index] {
			return fmt.Errorf("%w: entry %d: index %d appears twice", ErrMalformed, i, e.Index)
		}
		seen[e.Index] = true
		if e.Index >= cp.size {
			return fmt.Errorf("%w: entry %d: index %d is outside the checkpoint's tree of size %d", ErrInclusion, i, e.Index, cp.size)
		}
		name := SubjectPrefix + strconv.FormatUint(e.Index, 10)
		want, ok := subjects[name]
		if !ok {
			return fmt.Errorf("%w: entry %d (log index %d) is not a subject of the attestation", ErrAttestation, i, e.Index)
		}
		sum := sha256.Sum256(e.Record)
		if want != hex.EncodeToString(sum[:]) {
			return fmt.Errorf("%w: entry %d (log index %d): record sha256 %x differs from the attested %s: the record was altered", ErrAttestation, i, e.Index, sum, want)
		}
		for j, h := range e.InclusionProof {
			if len(h) != sha256.Size {
				return fmt.Errorf("%w: entry %d (log index %d): proof hash %d has %d bytes, want %d", ErrMalformed, i, e.Index, j, len(h), sha256.Size)
			}
		}
		leaf := hasher.HashLeaf(e.Record)
		if err := proof.VerifyInclusion(hasher, e.Index, cp.size, leaf, e.InclusionProof, cp.root); err != nil {
			return fmt.Errorf("%w: entry %d (log index %d): %w", ErrInclusion, i, e.Index, err)
		}
	}
	return nil
}
