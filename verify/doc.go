// Package verify checks a CAVRA evidence bundle offline, with no access to the CAVRA server,
// its database or its code. It imports nothing from CAVRA on purpose: an auditor can read this
// package (and the three small third-party libraries it uses: the RFC 6962 Merkle proof
// verifier, the signed-note parser and the DSSE envelope type) and know exactly what a "valid"
// bundle means.
//
// # The bundle
//
// A bundle is one JSON object (see Bundle):
//
//	format       "https://cavra.dev/evidence-bundle/v1"
//	checkpoint   a C2SP signed note (c2sp.org/tlog-checkpoint): origin, tree size, base64 root
//	             hash, extension lines, a blank line, then signature lines. CAVRA adds the
//	             extension line "cavra-time <RFC 3339 time>" saying when it was signed.
//	tree_size    the tree size the proofs are against; must equal the checkpoint's
//	keys         the signing keys with their validity windows and revocations (self-asserted:
//	             an auditor should pass their own copy with Options.TrustedKeys)
//	entries      each audit record (its exact canonical JSON bytes, base64) with its index in
//	             the log and its RFC 6962 inclusion proof (base64 hashes)
//	attestation  a DSSE envelope over an in-toto v1 statement whose subjects are the entries
//	             ("entry/<index>", sha256 of the record bytes) and whose predicate binds the
//	             checkpoint (its sha256), the tree size, the signing time and the key list
//
// # What Check proves
//
//  1. Every trusted key is well formed: its id is the C2SP signed-note key hash of its public
//     key (name+8 hex digits; Ed25519: SHA-256(name, 0x0A, 0x01, key)[:4]; ECDSA P-256:
//     SHA-256(PKIX DER)[:4]).
//  2. The checkpoint carries a valid signature by a trusted key, no signature by a trusted key
//     fails, and every trusted signer was valid when the checkpoint was signed: inside its
//     window and before its revocation. A checkpoint without a time is accepted only from keys
//     that were never revoked.
//  3. The attestation is signed by a trusted key that was valid at the statement's signing time,
//     names this very checkpoint, tree size and key list, and its subjects are exactly the
//     entries.
//  4. Every record hashes (RFC 6962 leaf hash) to a leaf whose inclusion proof leads to the
//     checkpoint's root hash.
//
// Signing times are asserted by the signer. Revocation protects against a stolen key only for
// evidence dated after the revocation; a thief who back-dates is caught by comparing
// checkpoints with witnesses or earlier exports (consistency proofs), which is outside a
// single bundle.
package verify
