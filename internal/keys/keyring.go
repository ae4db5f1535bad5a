package keys

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"github.com/cavra-dev/cavra"
)

// Custody kinds, as in cavra.KeyInfo.Custody.
const (
	CustodyFile   = "file"
	CustodyPKCS11 = "pkcs11"
	CustodyKMS    = "kms"
)

const (
	keyringFileName = "keyring.json"
	lockFileName    = "keyring.lock"
	keyringVersion  = 1
)

// OpenFunc opens the signer of an external key from its reference.
type OpenFunc func(ctx context.Context, ref string) (cavra.Signer, error)

// Option adjusts Init and Load.
type Option func(*options)

type options struct {
	name    string
	clock   func() time.Time
	logger  *slog.Logger
	openers map[string]OpenFunc
}

// WithName sets the note key name of a keyring Init creates (DefaultName otherwise). An existing
// keyring keeps its name.
func WithName(name string) Option { return func(o *options) { o.name = name } }

// WithClock sets the clock that dates rotations and revocations.
func WithClock(clock func() time.Time) Option { return func(o *options) { o.clock = clock } }

// WithLogger sets the logger for key life-cycle events.
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.logger = l } }

// WithOpener sets how keys of a custody kind are opened (CustodyPKCS11, CustodyKMS, or another
// kind). By default PKCS#11 keys are opened with the PIN from WithPKCS11PIN and KMS keys with
// OpenKMS.
func WithOpener(custody string, open OpenFunc) Option {
	return func(o *options) { o.openers[custody] = open }
}

// WithPKCS11PIN sets the user PIN used to open PKCS#11 keys.
func WithPKCS11PIN(pin string) Option {
	return WithOpener(CustodyPKCS11, func(ctx context.Context, ref string) (cavra.Signer, error) {
		cfg, err := ParsePKCS11Ref(ref)
		if err != nil {
			return nil, err
		}
		cfg.PIN = pin
		return OpenPKCS11(ctx, cfg)
	})
}

func newOptions(opts []Option) *options {
	o := &options{
		name:   DefaultName,
		clock:  time.Now,
		logger: slog.New(slog.DiscardHandler),
		openers: map[string]OpenFunc{
			CustodyKMS: func(ctx context.Context, ref string) (cavra.Signer, error) { return OpenKMS(ctx, ref) },
			CustodyPKCS11: func(context.Context, string) (cavra.Signer, error) {
				return nil, errors.New("pkcs11 key needs a PIN: set it with WithPKCS11PIN")
			},
		},
	}
	for _, opt := range opts {
		opt(o)
	}
	return o
}

// entry is one key in keyring.json: what verifiers need, plus where the private half lives.
type entry struct {
	cavra.KeyInfo
	Ref string `json:"ref"`
}

type keyringFile struct {
	Version int     `json:"version"`
	Name    string  `json:"name"`
	Keys    []entry `json:"keys"`
}

// Keyring is the set of evidence-signing keys under one directory. It is safe for concurrent
// use; changes are serialised across processes by a lock file.
type Keyring struct {
	dir  string
	opts *options

	mu    sync.Mutex
	state keyringFile
}

// Init opens the keyring in dir, creating the directory, a first Ed25519 file key and
// keyring.json if there is none. It is idempotent and never overwrites an existing key.
func Init(ctx context.Context, dir string, clock func() time.Time, opts ...Option) (*Keyring, error) {
	if clock != nil {
		opts = append(opts, WithClock(clock))
	}
	o := newOptions(opts)
	if err := checkName(o.name); err != nil {
		return nil, cavra.Errorf(cavra.ErrInvalid, "init keyring: %w", err)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("init keyring: create %s: %w", dir, err)
	}
	k := &Keyring{dir: dir, opts: o}
	err := k.withLock(ctx, func() error {
		st, err := readKeyring(dir)
		if err == nil {
			k.state = st
			return nil
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		k.state = keyringFile{Version: keyringVersion, Name: o.name}
		if _, err := k.addFileKey(); err != nil {
			return err
		}
		return k.save()
	})
	if err != nil {
		return nil, fmt.Errorf("init keyring: %w", err)
	}
	return k, nil
}

// Load opens the existing keyring in dir.
func Load(ctx context.Context, dir string, opts ...Option) (*Keyring, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	st, err := readKeyring(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, cavra.Errorf(cavra.ErrNotFound, "load keyring: no keyring in %s (run cavra init): %w", dir, err)
	}
	if err != nil {
		return nil, fmt.Errorf("load keyring: %w", err)
	}
	return &Keyring{dir: dir, opts: newOptions(opts), state: st}, nil
}

// Dir is the directory the keyring lives in.
func (k *Keyring) Dir() string { return k.dir }

// Name is the note key name every key id of this keyring starts with.
func (k *Keyring) Name() string {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.state.Name
}

// Keys returns every key, oldest first: what a verifier needs to trust this keyring's evidence.
func (k *Keyring) Keys() []cavra.KeyInfo {
	k.mu.Lock()
	defer k.mu.Unlock()
	out := make([]cavra.KeyInfo, len(k.state.Keys))
	for i, e := range k.state.Keys {
		out[i] = e.KeyInfo
	}
	return out
}

// ActiveInfo returns the key that signs new evidence.
func (k *Keyring) ActiveInfo() (cavra.KeyInfo, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	e, err := k.activeEntry()
	if err != nil {
		return cavra.KeyInfo{}, err
	}
	return e.KeyInfo, nil
}

// Active opens the signer of the active key. It checks that the opened key is the one the
// keyring records, so a swapped key file or HSM object is caught before it signs anything. The
// signer also implements io.Closer: close it when done (it ends PKCS#11 sessions).
func (k *Keyring) Active(ctx context.Context) (cavra.Signer, error) {
	k.mu.Lock()
	e, err := k.activeEntry()
	name := k.state.Name
	k.mu.Unlock()
	if err != nil {
		return nil, err
	}
	var s cavra.Signer
	switch e.Custody {
	case CustodyFile, "":
		s, err = LoadFileSigner(name, filepath.Join(k.dir, e.Ref))
	default:
		open, ok := k.opts.openers[e.Custody]
		if !ok {
			return nil, cavra.Errorf(cavra.ErrInvalid, "open key %s: unknown custody %q", e.ID, e.Custody)
		}
		s, err = open(ctx, e.Ref)
	}
	if err != nil {
		return nil, fmt.Errorf("open key %s (%s): %w", e.ID, e.Custody, err)
	}
	if err := matchesInfo(s, e.KeyInfo); err != nil {
		return nil, fmt.Errorf("open key %s: %w", e.ID, err)
	}
	return renamed{Signer: s, id: e.ID}, nil
}

// Rotate makes a new Ed25519 file key the active key and retires the old one: the old key's
// signatures made before now stay valid.
func (k *Keyring) Rotate(ctx context.Context) (cavra.KeyInfo, error) {
	var info cavra.KeyInfo
	err := k.mutate(ctx, func() error {
		var err error
		info, err = k.addFileKey()
		return err
	})
	if err != nil {
		return cavra.KeyInfo{}, fmt.Errorf("rotate keys: %w", err)
	}
	k.opts.logger.InfoContext(ctx, "key rotated", "key", info.ID)
	return info, nil
}

// Adopt makes an externally held key (a PKCS#11 object or a KMS key) the active key, retiring
// the old one. ref is what the custody's opener needs to open it again. Adopt proves the key
// can sign by signing and verifying a probe message.
func (k *Keyring) Adopt(ctx context.Context, s cavra.Signer, custody, ref string) (cavra.KeyInfo, error) {
	if custody == CustodyFile || custody == "" {
		return cavra.KeyInfo{}, cavra.Errorf(cavra.ErrInvalid, "adopt key: custody must be external (pkcs11, kms), not %q", custody)
	}
	probe := make([]byte, 32)
	if _, err := rand.Read(probe); err != nil {
		return cavra.KeyInfo{}, fmt.Errorf("adopt key: %w", err)
	}
	sig, err := s.Sign(ctx, probe)
	if err != nil {
		return cavra.KeyInfo{}, fmt.Errorf("adopt key: probe signature: %w", err)
	}
	if !VerifySignature(s.Algorithm(), s.Public(), probe, sig) {
		return cavra.KeyInfo{}, cavra.Errorf(cavra.ErrInvalid, "adopt key: probe signature does not verify with the key's public half")
	}
	var info cavra.KeyInfo
	err = k.mutate(ctx, func() error {
		var err error
		info, err = k.add(s.Public(), custody, ref)
		return err
	})
	if err != nil {
		return cavra.KeyInfo{}, fmt.Errorf("adopt key: %w", err)
	}
	k.opts.logger.InfoContext(ctx, "external key adopted", "key", info.ID, "custody", custody)
	return info, nil
}

// Revoke marks key id compromised from at on (now if at is zero): its signatures made at or
// after at are invalid. Revoking the active key first rotates to a new file key, so evidence
// keeps being signed. Revoking an already revoked key can only move the revocation earlier.
func (k *Keyring) Revoke(ctx context.Context, id string, at time.Time) error {
	if at.IsZero() {
		at = k.opts.clock()
	}
	at = at.UTC()
	err := k.mutate(ctx, func() error {
		i := k.index(id)
		if i < 0 {
			return cavra.Errorf(cavra.ErrNotFound, "no key %q in the keyring", id)
		}
		if k.state.Keys[i].Status == cavra.KeyActive {
			if _, err := k.addFileKey(); err != nil {
				return err
			}
		}
		e := &k.state.Keys[i]
		if e.Status == cavra.KeyRevoked && !e.RevokedAt.IsZero() && e.RevokedAt.Before(at) {
			return nil
		}
		e.Status = cavra.KeyRevoked
		e.RevokedAt = at
		return nil
	})
	if err != nil {
		return fmt.Errorf("revoke key %s: %w", id, err)
	}
	k.opts.logger.WarnContext(ctx, "key revoked", "key", id, "at", at)
	return nil
}

func (k *Keyring) index(id string) int {
	for i, e := range k.state.Keys {
		if e.ID == id {
			return i
		}
	}
	return -1
}

func (k *Keyring) activeEntry() (entry, error) {
	for _, e := range k.state.Keys {
		if e.Status == cavra.KeyActive {
			return e, nil
		}
	}
	return entry{}, cavra.Errorf(cavra.ErrNotFound, "keyring %s has no active key (run cavra keys rotate)", k.dir)
}

// addFileKey generates an Ed25519 key, writes its private file and makes it active. Callers
// hold the lock and save afterwards.
func (k *Keyring) addFileKey() (cavra.KeyInfo, error) {
	s, err := GenerateFileKey(k.state.Name)
	if err != nil {
		return cavra.KeyInfo{}, err
	}
	_, hash, err := SplitKeyID(s.KeyID())
	if err != nil {
		return cavra.KeyInfo{}, err
	}
	ref := fmt.Sprintf("ed25519-%08x.pem", hash)
	if err := s.writePrivateKey(filepath.Join(k.dir, ref)); err != nil {
		return cavra.KeyInfo{}, err
	}
	return k.add(s.Public(), CustodyFile, ref)
}

// add appends a key as the active one and retires the previous active key.
func (k *Keyring) add(pub crypto.PublicKey, custody, ref string) (cavra.KeyInfo, error) {
	id, err := KeyID(k.state.Name, pub)
	if err != nil {
		return cavra.KeyInfo{}, err
	}
	if k.index(id) >= 0 {
		return cavra.KeyInfo{}, cavra.Errorf(cavra.ErrConflict, "key %s is already in the keyring", id)
	}
	alg, err := AlgorithmOf(pub)
	if err != nil {
		return cavra.KeyInfo{}, err
	}
	der, err := marshalPublic(pub)
	if err != nil {
		return cavra.KeyInfo{}, err
	}
	now := k.opts.clock().UTC()
	for i := range k.state.Keys {
		if e := &k.state.Keys[i]; e.Status == cavra.KeyActive {
			e.Status = cavra.KeyRetired
			e.NotAfter = now
		}
	}
	info := cavra.KeyInfo{ID: id, Algorithm: alg, PublicKey: der, Status: cavra.KeyActive, NotBefore: now, Custody: custody}
	k.state.Keys = append(k.state.Keys, entry{KeyInfo: info, Ref: ref})
	return info, nil
}

// mutate re-reads keyring.json under the lock, applies change and saves, so two processes
// rotating at once cannot lose each other's keys.
func (k *Keyring) mutate(ctx context.Context, change func() error) error {
	return k.withLock(ctx, func() error {
		st, err := readKeyring(k.dir)
		if err != nil {
			return err
		}
		k.state = st
		if err := change(); err != nil {
			return err
		}
		return k.save()
	})
}

// withLock holds the in-process mutex and an exclusive flock on keyring.lock.
func (k *Keyring) withLock(ctx context.Context, fn func() error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	f, err := os.OpenFile(filepath.Join(k.dir, lockFileName), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("open lock file: %w", err)
	}
	defer f.Close()
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		return fmt.Errorf("lock keyring: %w", err)
	}
	defer syscall.Flock(int(f.Fd()), syscall.LOCK_UN) //nolint:errcheck // closing the file unlocks too
	return fn()
}

// save writes keyring.json atomically: a synced temporary file renamed over the old one.
func (k *Keyring) save() error {
	data, err := json.MarshalIndent(k.state, "", "  ")
	if err != nil {
		return fmt.Errorf("encode keyring: %w", err)
	}
	data = append(data, '\n')
	tmp, err := os.CreateTemp(k.dir, keyringFileName+".tmp-*")
	if err != nil {
		return fmt.Errorf("write keyring: %w", err)
	}
	defer os.Remove(tmp.Name()) //nolint:errcheck // gone after a successful rename
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("write keyring: %w", err)
	}
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return fmt.Errorf("write keyring: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("sync keyring: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write keyring: %w", err)
	}
	if err := os.Rename(tmp.Name(), filepath.Join(k.dir, keyringFileName)); err != nil {
		return fmt.Errorf("replace keyring: %w", err)
	}
	if d, err := os.Open(k.dir); err == nil {
		d.Sync() //nolint:errcheck // best effort: the rename is already visible
		d.Close()
	}
	return nil
}

// readKeyring reads and validates keyring.json.
func readKeyring(dir string) (keyringFile, error) {
	data, err := os.ReadFile(filepath.Join(dir, keyringFileName))
	if err != nil {
		return keyringFile{}, err
	}
	return parseKeyring(data)
}

func parseKeyring(data []byte) (keyringFile, error) {
	var st keyringFile
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&st); err != nil {
		return keyringFile{}, cavra.Errorf(cavra.ErrInvalid, "parse %s: %w", keyringFileName, err)
	}
	if st.Version != keyringVersion {
		return keyringFile{}, cavra.Errorf(cavra.ErrInvalid, "%s: version %d, want %d", keyringFileName, st.Version, keyringVersion)
	}
	if err := checkName(st.Name); err != nil {
		return keyringFile{}, cavra.Errorf(cavra.ErrInvalid, "%s: %w", keyringFileName, err)
	}
	active := 0
	seen := make(map[string]bool, len(st.Keys))
	for i, e := range st.Keys {
		if seen[e.ID] {
			return keyringFile{}, cavra.Errorf(cavra.ErrInvalid, "%s: key %s is listed twice", keyringFileName, e.ID)
		}
		seen[e.ID] = true
		if err := checkInfo(e.KeyInfo); err != nil {
			return keyringFile{}, cavra.Errorf(cavra.ErrInvalid, "%s: key %d: %w", keyringFileName, i, err)
		}
		if name, _, _ := SplitKeyID(e.ID); name != st.Name {
			return keyringFile{}, cavra.Errorf(cavra.ErrInvalid, "%s: key %s is not named under %q", keyringFileName, e.ID, st.Name)
		}
		if (e.Custody == CustodyFile || e.Custody == "") && (e.Ref == "" || filepath.Base(e.Ref) != e.Ref) {
			return keyringFile{}, cavra.Errorf(cavra.ErrInvalid, "%s: file key %s: ref %q must be a file name in the keys directory", keyringFileName, e.ID, e.Ref)
		}
		if e.Status == cavra.KeyActive {
			active++
		}
	}
	if active > 1 {
		return keyringFile{}, cavra.Errorf(cavra.ErrInvalid, "%s: %d active keys, want at most one", keyringFileName, active)
	}
	return st, nil
}

// checkInfo checks that a KeyInfo is self-consistent: its id is the key hash of its public key,
// its algorithm matches, its status is known.
func checkInfo(info cavra.KeyInfo) error {
	pub, alg, err := ParsePublicKey(info.PublicKey)
	if err != nil {
		return fmt.Errorf("key %s: %w", info.ID, err)
	}
	if alg != info.Algorithm {
		return fmt.Errorf("key %s: algorithm %q does not match its %s public key", info.ID, info.Algorithm, alg)
	}
	name, _, err := SplitKeyID(info.ID)
	if err != nil {
		return err
	}
	want, err := KeyID(name, pub)
	if err != nil {
		return err
	}
	if want != info.ID {
		return fmt.Errorf("key id %s does not match its public key (want %s)", info.ID, want)
	}
	switch info.Status {
	case cavra.KeyActive, cavra.KeyRetired:
	case cavra.KeyRevoked:
		if info.RevokedAt.IsZero() {
			return fmt.Errorf("key %s: revoked without revoked_at", info.ID)
		}
	default:
		return fmt.Errorf("key %s: unknown status %q", info.ID, info.Status)
	}
	return nil
}

// matchesInfo checks that an opened signer holds the key the keyring records.
func matchesInfo(s cavra.Signer, info cavra.KeyInfo) error {
	der, err := marshalPublic(s.Public())
	if err != nil {
		return err
	}
	if !bytes.Equal(der, info.PublicKey) {
		return cavra.Errorf(cavra.ErrInvalid, "the opened key's public half differs from the one in %s", keyringFileName)
	}
	if s.Algorithm() != info.Algorithm {
		return cavra.Errorf(cavra.ErrInvalid, "the opened key signs %s, the keyring records %s", s.Algorithm(), info.Algorithm)
	}
	return nil
}

// renamed presents a signer under the keyring's key id.
type renamed struct {
	cavra.Signer
	id string
}

func (r renamed) KeyID() string { return r.id }

// Close releases the underlying signer if it holds resources.
func (r renamed) Close() error {
	if c, ok := r.Signer.(io.Closer); ok {
		return c.Close()
	}
	return nil
}
