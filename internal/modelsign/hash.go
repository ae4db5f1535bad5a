// Package modelsign signs and verifies machine-learning model directories in the OpenSSF
// model-signing format (sigstore/model-transparency, predicate
// https://model_signing/signature/v1.0): every file (or file shard) of the model is hashed, the
// digests go into an in-toto v1 Statement, the Statement is signed as a DSSE envelope, and the
// envelope travels in a Sigstore bundle (model.sig). Only key-based signing is implemented: the
// bundle names its key by verificationMaterial.publicKey.hint and carries no certificate or
// transparency-log entry.
package modelsign

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
)

// Serialization methods of the OpenSSF format.
const (
	MethodFiles  = "files"
	MethodShards = "shards"
)

// HashSHA256 is the only per-resource hash this package computes. The OpenSSF tool also knows
// "blake2"; bundles that use it are refused with a clear error rather than half-verified.
const HashSHA256 = "sha256"

// DefaultShardSize is the OpenSSF tool's shard size (1 GB) for the "shards" method.
const DefaultShardSize int64 = 1_000_000_000

// GitPaths are ignored by default, as the OpenSSF tool does: they change when a model is pushed
// to a git host without changing the model.
var GitPaths = []string{".git", ".gitattributes", ".github", ".gitignore"}

// HashOptions says how a model directory is turned into a manifest.
type HashOptions struct {
	// IgnorePaths are files or directories to leave out, relative to the model directory
	// (absolute paths inside it are accepted too). A directory excludes everything under it.
	IgnorePaths []string
	// IgnoreGitPaths adds GitPaths to IgnorePaths.
	IgnoreGitPaths bool
	// ShardSize > 0 selects the "shards" method with shards of this many bytes; 0 selects "files".
	ShardSize int64
	// Workers bounds the files hashed in parallel; 0 means GOMAXPROCS.
	Workers int
}

// Resource is one hashed item of a model: a file ("dir/name") or a shard ("dir/name:start:end").
type Resource struct {
	Name      string `json:"name"`
	Algorithm string `json:"algorithm"`
	Digest    string `json:"digest"` // lower-case hex
}

// Serialization records how a manifest was made, so a verifier can make it again.
type Serialization struct {
	Method        string   `json:"method"`
	HashType      string   `json:"hash_type"`
	AllowSymlinks bool     `json:"allow_symlinks"`
	ShardSize     int64    `json:"shard_size,omitempty"`
	IgnorePaths   []string `json:"ignore_paths,omitempty"`
}

// Manifest is a model as a list of resources with their digests, in canonical order.
type Manifest struct {
	ModelName     string
	Serialization Serialization
	Resources     []Resource
	// Bytes is how many bytes were hashed (zero for a manifest read from a bundle).
	Bytes int64
}

// RootDigest is the subject digest of the OpenSSF statement: SHA-256 over the raw bytes of every
// resource digest, in the order the resources are listed.
func (m *Manifest) RootDigest() (string, error) {
	h := sha256.New()
	for _, r := range m.Resources {
		raw, err := hex.DecodeString(r.Digest)
		if err != nil {
			return "", fmt.Errorf("resource %q: digest is not hex: %w", r.Name, err)
		}
		h.Write(raw)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// shardAlgorithm is the algorithm name the OpenSSF tool gives shard digests.
func shardAlgorithm(size int64) string {
	return HashSHA256 + "-sharded-" + strconv.FormatInt(size, 10)
}

// cleanIgnorePath turns a user- or bundle-supplied ignore path into a clean slash path relative
// to the model directory, refusing paths that leave it.
func cleanIgnorePath(dir, p string) (string, error) {
	if p == "" {
		return "", errors.New("empty ignore path")
	}
	if filepath.IsAbs(p) {
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return "", fmt.Errorf("ignore path %q: %w", p, err)
		}
		p = rel
	}
	c := path.Clean(filepath.ToSlash(p))
	if c == "." || c == ".." || strings.HasPrefix(c, "../") || strings.HasPrefix(c, "/") {
		return "", fmt.Errorf("ignore path %q is not inside the model directory", p)
	}
	return c, nil
}

// ignored reports whether rel (a clean slash path) is one of the ignore paths or lies below one.
// This is the OpenSSF rule (Python's PurePath.is_relative_to), applied to relative paths.
func ignored(rel string, ignores []string) bool {
	for _, ig := range ignores {
		if rel == ig || strings.HasPrefix(rel, ig+"/") {
			return true
		}
	}
	return false
}

// IgnoreList resolves opts into the sorted, de-duplicated relative ignore paths that both
// hashing and the signed serialization record use.
func IgnoreList(dir string, opts HashOptions) ([]string, error) {
	absDir, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("resolve model directory: %w", err)
	}
	var out []string
	all := slices.Clone(opts.IgnorePaths)
	if opts.IgnoreGitPaths {
		all = append(all, GitPaths...)
	}
	for _, p := range all {
		c, err := cleanIgnorePath(absDir, p)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}

type hashJob struct {
	rel        string
	abs        string
	start, end int64
	shard      bool
}

// ErrModelContent marks a model directory that cannot be hashed as it stands: it holds a
// symbolic link or special file, or nothing but ignored paths.
var ErrModelContent = errors.New("model content cannot be signed")

// HashDir hashes the model directory dir into a manifest. Symbolic links and special files are
// refused (allow_symlinks is always false: a link could point outside the signed tree).
func HashDir(ctx context.Context, dir string, opts HashOptions) (*Manifest, error) {
	absDir, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("resolve model directory: %w", err)
	}
	st, err := os.Stat(absDir)
	if err != nil {
		return nil, fmt.Errorf("model directory: %w", err)
	}
	if !st.IsDir() {
		return nil, fmt.Errorf("model path %s is not a directory", dir)
	}
	if opts.ShardSize < 0 {
		return nil, fmt.Errorf("shard size %d is negative", opts.ShardSize)
	}
	ignores, err := IgnoreList(absDir, opts)
	if err != nil {
		return nil, err
	}

	var jobs []hashJob
	err = filepath.WalkDir(absDir, func(p string, d fs.DirEntry, walkErr error) error {
		if walkErr != nil {
			return fmt.Errorf("walk %s: %w", p, walkErr)
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if p == absDir {
			return nil
		}
		rel, err := filepath.Rel(absDir, p)
		if err != nil {
			return fmt.Errorf("relative path of %s: %w", p, err)
		}
		rel = filepath.ToSlash(rel)
		if ignored(rel, ignores) {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		switch t := d.Type(); {
		case t&fs.ModeSymlink != 0:
			return fmt.Errorf("%w: %s is a symbolic link (move the target into the model or ignore the path)", ErrModelContent, rel)
		case d.IsDir():
			return nil
		case !t.IsRegular():
			return fmt.Errorf("%w: %s is not a regular file or directory", ErrModelContent, rel)
		}
		if opts.ShardSize == 0 {
			jobs = append(jobs, hashJob{rel: rel, abs: p})
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return fmt.Errorf("stat %s: %w", rel, err)
		}
		for start := int64(0); start < info.Size(); start += opts.ShardSize {
			end := min(start+opts.ShardSize, info.Size())
			jobs = append(jobs, hashJob{rel: rel, abs: p, start: start, end: end, shard: true})
		}
		return nil
	})
	if err != nil {
		return nil, err
	}

	m := &Manifest{
		ModelName: filepath.Base(absDir),
		Serialization: Serialization{
			Method:      MethodFiles,
			HashType:    HashSHA256,
			IgnorePaths: ignores,
		},
	}
	if opts.ShardSize > 0 {
		m.Serialization.Method = MethodShards
		m.Serialization.ShardSize = opts.ShardSize
	}
	if opts.ShardSize == 0 && len(jobs) == 0 {
		return nil, fmt.Errorf("%w: no regular files left after applying exclusions", ErrModelContent)
	}

	res, total, err := runHashJobs(ctx, jobs, opts.Workers)
	if err != nil {
		return nil, err
	}
	for i := range res {
		if opts.ShardSize > 0 {
			res[i].Algorithm = shardAlgorithm(opts.ShardSize)
		} else {
			res[i].Algorithm = HashSHA256
		}
	}
	SortResources(res)
	m.Resources = res
	m.Bytes = total
	return m, nil
}

func runHashJobs(ctx context.Context, jobs []hashJob, workers int) ([]Resource, int64, error) {
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	workers = min(workers, max(len(jobs), 1))
	out := make([]Resource, len(jobs))
	next := make(chan int)
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		firstErr error
		total    int64
	)
	for range workers {
		wg.Go(func() {
			buf := make([]byte, 1<<20)
			for i := range next {
				j := jobs[i]
				digest, n, err := hashRange(j, buf)
				mu.Lock()
				if err != nil && firstErr == nil {
					firstErr = err
				}
				total += n
				mu.Unlock()
				name := j.rel
				if j.shard {
					name = fmt.Sprintf("%s:%d:%d", j.rel, j.start, j.end)
				}
				out[i] = Resource{Name: name, Digest: digest}
			}
		})
	}
	for i := range jobs {
		if ctx.Err() != nil {
			break
		}
		mu.Lock()
		failed := firstErr != nil
		mu.Unlock()
		if failed {
			break
		}
		next <- i
	}
	close(next)
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return nil, 0, err
	}
	if firstErr != nil {
		return nil, 0, firstErr
	}
	return out, total, nil
}

func hashRange(j hashJob, buf []byte) (string, int64, error) {
	f, err := os.Open(j.abs)
	if err != nil {
		return "", 0, fmt.Errorf("open %s: %w", j.rel, err)
	}
	defer f.Close()
	var r io.Reader = f
	if j.shard {
		r = io.NewSectionReader(f, j.start, j.end-j.start)
	}
	h := sha256.New()
	n, err := io.CopyBuffer(h, r, buf)
	if err != nil {
		return "", n, fmt.Errorf("read %s: %w", j.rel, err)
	}
	if j.shard && n != j.end-j.start {
		return "", n, fmt.Errorf("read %s: file shrank while hashing", j.rel)
	}
	return hex.EncodeToString(h.Sum(nil)), n, nil
}

// SortResources puts resources in the OpenSSF canonical order: by path compared component by
// component (Python's PurePosixPath ordering, so "a/b" sorts before "a.txt"), then by shard
// start and end offsets.
func SortResources(rs []Resource) {
	slices.SortStableFunc(rs, func(a, b Resource) int { return compareResourceNames(a.Name, b.Name) })
}

func compareResourceNames(a, b string) int {
	pa, sa, ea := splitShard(a)
	pb, sb, eb := splitShard(b)
	if c := slices.Compare(strings.Split(pa, "/"), strings.Split(pb, "/")); c != 0 {
		return c
	}
	if sa != sb {
		if sa < sb {
			return -1
		}
		return 1
	}
	if ea != eb {
		if ea < eb {
			return -1
		}
		return 1
	}
	return strings.Compare(a, b)
}

// splitShard splits "path:start:end"; a name without two numeric suffixes is a plain path.
func splitShard(name string) (string, int64, int64) {
	i := strings.LastIndexByte(name, ':')
	if i < 0 {
		return name, 0, 0
	}
	j := strings.LastIndexByte(name[:i], ':')
	if j < 0 {
		return name, 0, 0
	}
	start, err1 := strconv.ParseInt(name[j+1:i], 10, 64)
	end, err2 := strconv.ParseInt(name[i+1:], 10, 64)
	if err1 != nil || err2 != nil {
		return name, 0, 0
	}
	return name[:j], start, end
}
