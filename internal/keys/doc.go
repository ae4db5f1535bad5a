// Package keys is CAVRA's key custody: the keyring under $CAVRA_HOME/keys, and the signers that
// keep private keys in a file (Ed25519, the default), an HSM behind PKCS#11, or a cloud KMS
// reached through sigstore's kms package.
//
// # Key ids
//
// Key ids follow the C2SP signed-note key hash scheme (c2sp.org/signed-note), so that a
// checkpoint signature line names its key and a verifier can find it without a side channel:
//
//	id = <name> "+" <8 lowercase hex digits of the 32-bit key hash>
//
// where name is the note key name (the keyring's name, "cavra.local/audit" by default; a
// schema-less URL as the spec recommends) and the key hash is, per signature type:
//
//	Ed25519 (type 0x01):           SHA-256(name || 0x0A || 0x01 || 32-byte public key)[:4]
//	ECDSA P-256 SHA-256 (type 0x02): SHA-256(PKIX DER public key)[:4]
//
// The ECDSA rule is the spec's own: type 0x02 is "ECDSA as implemented by
// transparency-dev/witness", whose key hash covers the DER SPKI only, and whose signatures are
// ASN.1 ECDSA over SHA-256 of the note text. So HSM and KMS keys, which are usually P-256, can
// sign checkpoints as well as DSSE envelopes.
//
// # Keyring file
//
// keyring.json holds the keyring's name and its keys: each a cavra.KeyInfo plus "ref", which says
// where the private half lives (a file name in the keys directory, a pkcs11: reference, or a KMS
// key reference). File keys are PKCS#8 PEM files with mode 0600. Keys are never overwritten:
// Init is idempotent, Rotate adds a key and retires the old one, Revoke marks a key revoked.
package keys
