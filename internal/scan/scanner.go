// Package scan classifies model and artifact files (pickle, PyTorch, NumPy, joblib, Keras,
// TensorFlow SavedModel, safetensors, GGUF, ONNX and zip containers) by walking their bytes.
// It never unpickles, imports or executes anything it reads.
package scan

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"

	"github.com/cavra-dev/cavra"
)

// Format names reported in FileResult.Format.
const (
	FormatPickle        = "pickle"
	FormatJoblib        = "joblib"
	FormatPyTorch       = "pytorch"
	FormatPyTorchLegacy = "pytorch-legacy"
	FormatNumPy         = "numpy"
	FormatNPZ           = "npz"
	FormatKeras         = "keras"
	FormatKerasH5       = "keras-h5"
	FormatHDF5          = "hdf5"
	FormatSavedModel    = "tf-savedmodel"
	FormatSafetensors   = "safetensors"
	FormatGGUF          = "gguf"
	FormatONNX          = "onnx"
	FormatZip           = "zip"
	FormatUnknown       = "unknown"

	// formatKerasMetadata is internal: keras_metadata.pb is reported as tf-savedmodel.
	formatKerasMetadata = "keras-metadata"
)

// Options tune a Scanner. Zero values pick the defaults noted on each field.
type Options struct {
	// Rules classify imports; nil uses DefaultRules.
	Rules *Rules
	// Logger receives debug notes; nil discards them.
	Logger *slog.Logger
	// Workers is how many files are scanned at once; default GOMAXPROCS.
	Workers int
	// MaxInflate caps the bytes the scanner will decompress from one file's archives
	// (zip bombs are refused beyond it); default 4 GiB.
	MaxInflate int64
	// MaxRatio caps a compressed zip member's expansion ratio; default 200.
	MaxRatio int64
	// MaxDepth caps archive nesting; default 3.
	MaxDepth int
	// Progress, when set, is called after each file with the files and bytes done so far.
	Progress func(done, total int, doneBytes, totalBytes int64)
}

// Scanner scans files. It is safe for concurrent use.
type Scanner struct {
	rules   *Rules
	log     *slog.Logger
	opts    Options
	bufPool sync.Pool
}

const hashBufSize = 1 << 20

// New returns a Scanner.
func New(opts Options) *Scanner {
	if opts.Rules == nil {
		opts.Rules = DefaultRules()
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Workers <= 0 {
		opts.Workers = runtime.GOMAXPROCS(0)
	}
	if opts.MaxInflate <= 0 {
		opts.MaxInflate = 4 << 30
	}
	if opts.MaxRatio <= 0 {
		opts.MaxRatio = 200
	}
	if opts.MaxDepth <= 0 {
		opts.MaxDepth = 3
	}
	s := &Scanner{rules: opts.Rules, log: opts.Logger, opts: opts}
	s.bufPool.New = func() any { b := make([]byte, hashBufSize); return &b }
	return s
}

// Scan walks paths (files or directories, recursively) and scans every regular file. It returns
// one result per file in path order. A path that cannot be read at all is an error; a file that
// fails mid-scan gets a result with Error set.
func (s *Scanner) Scan(ctx context.Context, paths []string) ([]cavra.FileResult, error) {
	type item struct {
		path string
		size int64
	}
	var files []item
	var total int64
	for _, root := range paths {
		info, err := os.Stat(root)
		if err != nil {
			return nil, fmt.Errorf("scan %s: %w", root, err)
		}
		if !info.IsDir() {
			files = append(files, item{root, info.Size()})
			total += info.Size()
			continue
		}
		err = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return fmt.Errorf("walk %s: %w", p, err)
			}
			if d.IsDir() {
				return nil
			}
			// A loader follows a symlinked file, so the scan does too; symlinked directories are
			// not entered (they can loop) and devices, FIFOs and sockets are never opened.
			info, err := os.Stat(p)
			if err != nil {
				if d.Type()&fs.ModeSymlink != 0 {
					return nil // dangling link: nothing a loader could read
				}
				return fmt.Errorf("stat %s: %w", p, err)
			}
			if !info.Mode().IsRegular() {
				return nil
			}
			files = append(files, item{p, info.Size()})
			total += info.Size()
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("scan %s: %w", root, err)
		}
	}

	results := make([]cavra.FileResult, len(files))
	var (
		mu        sync.Mutex
		done      int
		doneBytes int64
		wg        sync.WaitGroup
		next      = make(chan int)
	)
	for range min(s.opts.Workers, max(len(files), 1)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				results[i] = s.ScanFile(ctx, files[i].path)
				if s.opts.Progress != nil {
					mu.Lock()
					done++
					doneBytes += files[i].size
					s.opts.Progress(done, len(files), doneBytes, total)
					mu.Unlock()
				}
			}
		}()
	}
feed:
	for i := range files {
		select {
		case next <- i:
		case <-ctx.Done():
			break feed
		}
	}
	close(next)
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("scan: %w", err)
	}
	return results, nil
}

// job is the state of one file's scan.
type job struct {
	ctx     context.Context
	s       *Scanner
	c       *collector
	inflate int64 // bytes of decompression still allowed for this file
}

// ScanFile scans one file. Read errors land in the result's Error field.
func (s *Scanner) ScanFile(ctx context.Context, path string) cavra.FileResult {
	res := cavra.FileResult{Path: path, Format: FormatUnknown, Findings: []cavra.Finding{}}
	// Stat before opening: opening a FIFO would block until something writes to it.
	if info, err := os.Stat(path); err != nil {
		res.Error = fmt.Sprintf("stat: %v", err)
		return res
	} else if !info.Mode().IsRegular() {
		res.Error = "not a regular file"
		return res
	}
	f, err := os.Open(path)
	if err != nil {
		res.Error = fmt.Sprintf("open: %v", err)
		return res
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		res.Error = fmt.Sprintf("stat: %v", err)
		return res
	}
	if !info.Mode().IsRegular() {
		res.Error = "not a regular file"
		return res
	}
	res.Size = info.Size()
	j := &job{ctx: ctx, s: s, c: newCollector(), inflate: s.opts.MaxInflate}
	h := sha256.New()
	bufp := s.bufPool.Get().(*[]byte)
	defer s.bufPool.Put(bufp)

	src := fileSource(f, filepath.Base(path), res.Size)
	head := src.head()
	kind := detect(head, src.name, src.size)
	var hashed int64
	if kind == FormatPickle {
		// Pickles are walked as they are hashed: one read of the file.
		tee := io.TeeReader(f, h)
		pr := walkPickles(ctx, tee, 0, res.Size, s.rules, scope{c: j.c})
		res.Format = pickleFormat(pr, src.name)
		hashed = pr.consumed
		// walkPickles reads ahead through the tee; whatever it buffered is hashed already.
		if pos, err := f.Seek(0, io.SeekCurrent); err == nil {
			hashed = pos
		}
	} else {
		res.Format = j.scanContent(src, kind, scope{c: j.c}, 0)
	}
	if _, err := f.Seek(hashed, io.SeekStart); err != nil {
		res.Error = fmt.Sprintf("seek: %v", err)
		return res
	}
	if _, err := io.CopyBuffer(hashWriter{h}, readerOnly{f}, *bufp); err != nil {
		res.Error = fmt.Sprintf("read: %v", err)
		return res
	}
	res.SHA256 = hex.EncodeToString(h.Sum(nil))
	if err := ctx.Err(); err != nil {
		res.Error = fmt.Sprintf("scan: %v", err)
	}
	res.Findings = j.c.result()
	res.Verdict = cavra.VerdictFor(res.Findings)
	s.log.Debug("scanned", "path", path, "format", res.Format, "verdict", res.Verdict, "findings", len(res.Findings))
	return res
}

// hashWriter and readerOnly hide ReadFrom/WriteTo so CopyBuffer uses the large buffer.
type hashWriter struct{ w io.Writer }

func (h hashWriter) Write(p []byte) (int, error) { return h.w.Write(p) }

type readerOnly struct{ r io.Reader }

func (r readerOnly) Read(p []byte) (int, error) { return r.r.Read(p) }

func pickleFormat(pr pickleResult, name string) string {
	switch {
	case pr.legacyTorch:
		return FormatPyTorchLegacy
	case pr.modules["joblib"] || strings.HasSuffix(strings.ToLower(name), ".joblib"):
		return FormatJoblib
	case pr.modules["torch"]:
		return FormatPyTorch
	}
	return FormatPickle
}

// source is something to parse: a file, or an archive member.
type source struct {
	name string // base name, for extension hints
	size int64
	ra   io.ReaderAt // nil when the bytes can only be streamed (a compressed member)
	open func() (io.ReadCloser, error)
}

func fileSource(ra io.ReaderAt, name string, size int64) source {
	return source{name: name, size: size, ra: ra, open: func() (io.ReadCloser, error) {
		return io.NopCloser(io.NewSectionReader(ra, 0, size)), nil
	}}
}

const headSize = 64

// head returns the first bytes of src (fewer when src is short or unreadable).
func (src source) head() []byte {
	buf := make([]byte, min(int64(headSize), src.size))
	if src.ra != nil {
		n, _ := src.ra.ReadAt(buf, 0)
		return buf[:n]
	}
	rc, err := src.open()
	if err != nil {
		return nil
	}
	defer rc.Close()
	n, _ := io.ReadFull(rc, buf)
	return buf[:n]
}

// readerAt gives random access to src, decompressing a streamed member into memory when it is
// at most limit bytes.
func (j *job) readerAt(src source, limit int64) (io.ReaderAt, error) {
	if src.ra != nil {
		return src.ra, nil
	}
	if src.size > limit {
		return nil, fmt.Errorf("compressed member of %d bytes is larger than the %d bytes the scanner inflates for random access", src.size, limit)
	}
	if src.size > j.inflate {
		return nil, errInflateBudget
	}
	rc, err := src.open()
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	data, err := io.ReadAll(io.LimitReader(rc, src.size+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) != src.size {
		return nil, fmt.Errorf("member holds %d bytes, header says %d", len(data), src.size)
	}
	j.inflate -= int64(len(data))
	return bytes.NewReader(data), nil
}

var errInflateBudget = errors.New("decompression budget exhausted")

// maxRandomAccessInflate bounds a compressed member the scanner expands in memory to parse
// (nested archives, ONNX, SavedModel graphs).
const maxRandomAccessInflate = 256 << 20

// scanContent parses src as the detected kind and returns the format name.
func (j *job) scanContent(src source, kind string, sc scope, depth int) string {
	switch kind {
	case FormatPickle:
		rc, err := src.open()
		if err != nil {
			sc.add("scan.read-error", cavra.SeverityMedium, "", "open: %v", err)
			return FormatPickle
		}
		defer rc.Close()
		pr := walkPickles(j.ctx, rc, 0, src.size, j.s.rules, sc)
		return pickleFormat(pr, src.name)
	case FormatZip:
		return j.scanZip(src, sc, depth)
	case FormatNumPy:
		j.scanNPY(src, sc)
		return FormatNumPy
	case FormatSafetensors:
		j.scanSafetensors(src, sc)
		return FormatSafetensors
	case FormatGGUF:
		j.scanGGUF(src, sc)
		return FormatGGUF
	case FormatONNX:
		// A file recognised by its first bytes rather than its name may merely resemble a
		// protobuf; if it does not parse, it is not an ONNX model.
		strict := strings.EqualFold(filepath.Ext(src.name), ".onnx")
		if !j.scanONNX(src, sc, strict) {
			return FormatUnknown
		}
		return FormatONNX
	case FormatSavedModel:
		j.scanSavedModel(src, sc)
		return FormatSavedModel
	case FormatHDF5:
		return j.scanH5(src, sc)
	case formatKerasMetadata:
		// A Keras SavedModel keeps each layer's config as JSON inside keras_metadata.pb.
		j.scanH5(src, sc)
		return FormatSavedModel
	}
	return FormatUnknown
}

// pickleExts are extensions that mean "pickle" on their own; generic ones (.bin, .dat) are
// recognised by content only, so text files with those names are not walked as pickles.
var pickleExts = map[string]bool{".pkl": true, ".pickle": true, ".pt": true, ".pth": true,
	".ckpt": true, ".joblib": true, ".p": true, ".sav": true}

// detect names a file's format by its content first and its extension second.
func detect(head []byte, name string, size int64) string {
	ext := strings.ToLower(filepath.Ext(name))
	switch {
	case bytes.HasPrefix(head, []byte("PK\x03\x04")), bytes.HasPrefix(head, []byte("PK\x05\x06")):
		return FormatZip
	case bytes.HasPrefix(head, []byte("\x93NUMPY")):
		return FormatNumPy
	case bytes.HasPrefix(head, []byte("GGUF")):
		return FormatGGUF
	case bytes.HasPrefix(head, []byte("\x89HDF\r\n\x1a\n")):
		return FormatHDF5
	case len(head) >= 2 && head[0] == 0x80 && head[1] <= 5:
		return FormatPickle
	case looksLikeSafetensors(head, size):
		return FormatSafetensors
	case ext == ".onnx" || looksLikeONNX(head):
		return FormatONNX
	case strings.EqualFold(name, "saved_model.pb"):
		return FormatSavedModel
	case strings.EqualFold(name, "keras_metadata.pb"):
		return formatKerasMetadata
	case looksLikeProtocol0Pickle(head):
		return FormatPickle
	case pickleExts[ext] && len(head) > 0 && strings.IndexByte("(cil]})NIFLSVKJMdtq}", head[0]) >= 0:
		return FormatPickle
	}
	return FormatUnknown
}

func looksLikeSafetensors(head []byte, size int64) bool {
	if len(head) < 10 {
		return false
	}
	n := uint64(head[0]) | uint64(head[1])<<8 | uint64(head[2])<<16 | uint64(head[3])<<24 |
		uint64(head[4])<<32 | uint64(head[5])<<40 | uint64(head[6])<<48 | uint64(head[7])<<56
	return head[8] == '{' && n >= 2 && n <= uint64(size-8)
}

// looksLikeONNX: ModelProto starts with ir_version (field 1, varint, 3..15 in practice) followed
// by another field tag.
func looksLikeONNX(head []byte) bool {
	return len(head) >= 3 && head[0] == 0x08 && head[1] >= 3 && head[1] <= 15 &&
		bytes.IndexByte([]byte{0x12, 0x1a, 0x22, 0x2a, 0x32, 0x3a, 0x42, 0x72}, head[2]) >= 0
}

// looksLikeProtocol0Pickle recognises a text-protocol pickle that opens with an import:
// "cmodule\nname\n" (GLOBAL) or "(imodule\nname\n" (INST).
func looksLikeProtocol0Pickle(head []byte) bool {
	rest, ok := bytes.CutPrefix(head, []byte("c"))
	if !ok {
		rest, ok = bytes.CutPrefix(head, []byte("(i"))
	}
	if !ok {
		return false
	}
	module, after, found := bytes.Cut(rest, []byte("\n"))
	if !found || !isDottedIdent(module) {
		return false
	}
	name, _, found := bytes.Cut(after, []byte("\n"))
	return (found || len(after) > 0) && len(name) > 0 && isDottedIdent(name)
}

func isDottedIdent(b []byte) bool {
	if len(b) == 0 {
		return false
	}
	for _, c := range b {
		if !(c == '_' || c == '.' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

// SortResults orders results by path, for stable output.
func SortResults(rs []cavra.FileResult) {
	sort.SliceStable(rs, func(i, k int) bool { return rs[i].Path < rs[k].Path })
}
