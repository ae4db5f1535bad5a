// Package bundle builds evidence bundles: audit records with their inclusion proofs, the
// checkpoint they are proven against, the keys that sign, and a DSSE-signed in-toto statement
// over all of it. The format is defined, and checked, by the standalone package verify.
package bundle

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	intoto "github.com/in-toto/attestation/go/v1"
	"github.com/secure-systems-lab/go-securesystemslib/dsse"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/cavra-dev/cavra"
	"github.com/cavra-dev/cavra/verify"
)

// Entry is one audit record to export.
type Entry struct {
	Index          uint64   // the record's leaf index in the log
	Record         []byte   // the record's canonical JSON bytes, exactly as hashed into the log
	InclusionProof [][]byte // RFC 6962 inclusion proof of the leaf in the tree of size TreeSize
}

// Input is everything a bundle holds.
type Input struct {
	Entries    []Entry
	TreeSize   uint64          // the size of the tree the proofs and the checkpoint are for
	Checkpoint []byte          // the signed checkpoint note for TreeSize
	Keys       []cavra.KeyInfo // the keys a verifier should trust, with windows and revocations
	SignedAt   time.Time       // when the attestation is signed; now if zero
}

// Build signs an attestation over in and returns the bundle's JSON. Before returning it checks
// the bundle with the offline verifier against in.Keys, so a bundle that would not verify
// (a stale proof, a checkpoint for another size, a revoked signer) is an error here rather than
// a surprise for the auditor.
func Build(ctx context.Context, signer cavra.Signer, in Input) ([]byte, error) {
	if signer == nil {
		return nil, cavra.Errorf(cavra.ErrInvalid, "build bundle: no signer")
	}
	signedAt := in.SignedAt
	if signedAt.IsZero() {
		signedAt = time.Now()
	}
	b := verify.Bundle{
		Format:     verify.Format,
		Checkpoint: string(in.Checkpoint),
		TreeSize:   in.TreeSize,
		Keys:       make([]verify.Key, len(in.Keys)),
		Entries:    make([]verify.Entry, len(in.Entries)),
	}
	for i, k := range in.Keys {
		b.Keys[i] = KeyFromInfo(k)
	}
	for i, e := range in.Entries {
		b.Entries[i] = verify.Entry{Index: e.Index, Record: e.Record, InclusionProof: e.InclusionProof}
		if b.Entries[i].InclusionProof == nil {
			b.Entries[i].InclusionProof = [][]byte{}
		}
	}
	payload, err := statement(b, signedAt)
	if err != nil {
		return nil, fmt.Errorf("build bundle: %w", err)
	}
	es, err := dsse.NewEnvelopeSigner(dsseSigner{s: signer})
	if err != nil {
		return nil, fmt.Errorf("build bundle: %w", err)
	}
	env, err := es.SignPayload(ctx, verify.PayloadType, payload)
	if err != nil {
		return nil, fmt.Errorf("build bundle: sign attestation: %w", err)
	}
	b.Attestation = *env
	if _, err := verify.CheckBundle(&b, verify.Options{TrustedKeys: b.Keys}); err != nil {
		return nil, cavra.Errorf(cavra.ErrInvalid, "build bundle: the bundle does not verify: %w", err)
	}
	out, err := json.MarshalIndent(b, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("build bundle: encode: %w", err)
	}
	return append(out, '\n'), nil
}

// statement is the in-toto v1 statement the attestation signs: one subject per entry, and a
// predicate binding the checkpoint, the tree size and the signing time.
func statement(b verify.Bundle, signedAt time.Time) ([]byte, error) {
	cpSum := sha256.Sum256([]byte(b.Checkpoint))
	// The keys go into the signed predicate too, so their windows and revocations cannot be
	// edited in the bundle afterwards.
	keyJSON, err := json.Marshal(b.Keys)
	if err != nil {
		return nil, fmt.Errorf("predicate keys: %w", err)
	}
	var keyList []any
	if err := json.Unmarshal(keyJSON, &keyList); err != nil {
		return nil, fmt.Errorf("predicate keys: %w", err)
	}
	predicate, err := structpb.NewStruct(map[string]any{
		"keys":              keyList,
		"tree_size":         strconv.FormatUint(b.TreeSize, 10),
		"checkpoint_sha256": hex.EncodeToString(cpSum[:]),
		"signed_at":         signedAt.UTC().Format(time.RFC3339Nano),
		"entry_count":       strconv.Itoa(len(b.Entries)),
	})
	if err != nil {
		return nil, fmt.Errorf("predicate: %w", err)
	}
	st := &intoto.Statement{
		Type:          intoto.StatementTypeUri,
		PredicateType: verify.PredicateType,
		Predicate:     predicate,
		Subject:       make([]*intoto.ResourceDescriptor, len(b.Entries)),
	}
	for i, e := range b.Entries {
		sum := sha256.Sum256(e.Record)
		st.Subject[i] = &intoto.ResourceDescriptor{
			Name:   verify.SubjectPrefix + strconv.FormatUint(e.Index, 10),
			Digest: map[string]string{"sha256": hex.EncodeToString(sum[:])},
		}
	}
	if len(st.Subject) == 0 {
		return nil, cavra.Errorf(cavra.ErrInvalid, "a bundle needs at least one entry")
	}
	if err := st.Validate(); err != nil {
		return nil, fmt.Errorf("statement: %w", err)
	}
	payload, err := protojson.Marshal(st)
	if err != nil {
		return nil, fmt.Errorf("statement: %w", err)
	}
	return payload, nil
}

// KeyFromInfo converts a key to the verifier's form.
func KeyFromInfo(k cavra.KeyInfo) verify.Key {
	return verify.Key{
		ID:        k.ID,
		Algorithm: k.Algorithm,
		PublicKey: k.PublicKey,
		Status:    string(k.Status),
		NotBefore: k.NotBefore,
		NotAfter:  k.NotAfter,
		RevokedAt: k.RevokedAt,
		Custody:   k.Custody,
	}
}

// dsseSigner adapts a cavra.Signer to DSSE; DSSE signs the pre-authentication encoding.
type dsseSigner struct{ s cavra.Signer }

func (d dsseSigner) Sign(ctx context.Context, data []byte) ([]byte, error) {
	return d.s.Sign(ctx, data)
}

func (d dsseSigner) KeyID() (string, error) { return d.s.KeyID(), nil }
