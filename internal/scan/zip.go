package scan

import (
	"archive/zip"
	"errors"
	"fmt"
	"io"
	"path"
	"sort"
	"strings"

	"github.com/cavra-dev/cavra"
)

// maxZipMembers bounds how many members of one archive are examined.
const maxZipMembers = 100_000

// countingReader charges decompressed bytes against the file's inflate budget.
type countingReader struct {
	r io.ReadCloser
	j *job
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.j.inflate -= int64(n)
	if c.j.inflate < 0 {
		return n, errInflateBudget
	}
	return n, err
}

func (c *countingReader) Close() error { return c.r.Close() }

type zipMember struct {
	f          *zip.File
	dataOffset int64
	end        int64 // end of the compressed data
}

// scanZip examines a zip archive: bomb and overlap checks on the directory, then every member by
// its content (not only its extension).
func (j *job) scanZip(src source, sc scope, depth int) string {
	if depth >= j.s.opts.MaxDepth {
		sc.add("zip.nesting-too-deep", cavra.SeverityMedium, "", "archive nested %d levels deep; not opened", depth+1)
		return FormatZip
	}
	ra, err := j.readerAt(src, maxRandomAccessInflate)
	if err != nil {
		sc.add("zip.too-large", cavra.SeverityMedium, "", "nested archive not opened: %v", err)
		return FormatZip
	}
	zr, err := zip.NewReader(ra, src.size)
	if err != nil && !errors.Is(err, zip.ErrInsecurePath) {
		sc.add("zip.corrupt", cavra.SeverityMedium, "", "unreadable zip archive: %v", err)
		return FormatZip
	}
	files := zr.File
	if len(files) > maxZipMembers {
		sc.add("zip.too-many-members", cavra.SeverityMedium, "", "archive lists %d members; only the first %d were examined", len(files), maxZipMembers)
		files = files[:maxZipMembers]
	}

	// Directory checks first: a bomb is refused before any byte is inflated.
	var declared uint64
	members := make([]zipMember, 0, len(files))
	refuse := false
	for _, f := range files {
		if err := j.ctx.Err(); err != nil {
			return FormatZip
		}
		if unsafeMemberPath(f.Name) {
			sc.add("zip.path-traversal", cavra.SeverityHigh, "member "+printableName(f.Name),
				"member name escapes the extraction directory")
		}
		if f.Method == zip.Store {
			if f.UncompressedSize64 != f.CompressedSize64 {
				sc.add("zip.size-mismatch", cavra.SeverityHigh, "member "+printableName(f.Name),
					"stored member declares %d bytes uncompressed but %d stored", f.UncompressedSize64, f.CompressedSize64)
				refuse = true
			}
		} else {
			declared += f.UncompressedSize64
			ratio := f.UncompressedSize64 / max(f.CompressedSize64, 1)
			if f.UncompressedSize64 > 1<<20 && ratio > uint64(j.s.opts.MaxRatio) {
				sc.add("zip.bomb", cavra.SeverityHigh, "member "+printableName(f.Name),
					"member expands %d:1 (%d bytes from %d); archive refused", ratio, f.UncompressedSize64, f.CompressedSize64)
				refuse = true
			}
		}
		off, err := f.DataOffset()
		if err != nil {
			sc.add("zip.corrupt", cavra.SeverityMedium, "member "+printableName(f.Name), "unreadable local header: %v", err)
			refuse = true
			continue
		}
		members = append(members, zipMember{f: f, dataOffset: off, end: off + int64(f.CompressedSize64)})
	}
	if declared > uint64(max(j.inflate, 0)) {
		sc.add("zip.bomb", cavra.SeverityHigh, "", "members declare %d bytes uncompressed, over the %d-byte limit; archive refused", declared, j.inflate)
		refuse = true
	}
	if overlapping(members) {
		sc.add("zip.overlapping-members", cavra.SeverityHigh, "", "members share compressed data (a zip-bomb construction); archive refused")
		refuse = true
	}
	if refuse {
		return FormatZip
	}

	kind := containerKind(files)
	for _, m := range members {
		if err := j.ctx.Err(); err != nil {
			return kind
		}
		f := m.f
		if f.FileInfo().IsDir() {
			continue
		}
		name := f.Name
		if kind == FormatPyTorch && isTorchStorage(name) {
			continue // raw tensor bytes: hashed with the file, nothing to parse
		}
		msc := sc.member(printableName(name))
		msrc := j.memberSource(ra, m)
		mkind := detect(msrc.head(), path.Base(name), msrc.size)
		if kind == FormatKeras && path.Base(name) == "config.json" && !strings.Contains(name, "/") {
			j.scanKerasConfigMember(msrc, msc)
			continue
		}
		if mkind == FormatHDF5 && kind == FormatKeras {
			continue // .keras weights: tensors only; the architecture lives in config.json
		}
		j.scanContent(msrc, mkind, msc, depth+1)
	}
	return kind
}

func overlapping(ms []zipMember) bool {
	sorted := make([]zipMember, len(ms))
	copy(sorted, ms)
	sort.Slice(sorted, func(i, k int) bool { return sorted[i].dataOffset < sorted[k].dataOffset })
	for i := 1; i < len(sorted); i++ {
		if sorted[i].dataOffset < sorted[i-1].end {
			return true
		}
	}
	return false
}

func (j *job) memberSource(ra io.ReaderAt, m zipMember) source {
	f := m.f
	if f.Method == zip.Store {
		sr := io.NewSectionReader(ra, m.dataOffset, int64(f.CompressedSize64))
		return source{name: path.Base(f.Name), size: int64(f.UncompressedSize64), ra: sr,
			open: func() (io.ReadCloser, error) { return io.NopCloser(io.NewSectionReader(sr, 0, sr.Size())), nil }}
	}
	return source{name: path.Base(f.Name), size: int64(f.UncompressedSize64), open: func() (io.ReadCloser, error) {
		rc, err := f.Open()
		if err != nil {
			return nil, fmt.Errorf("open member: %w", err)
		}
		return &countingReader{r: rc, j: j}, nil
	}}
}

// containerKind names the archive by its layout.
func containerKind(files []*zip.File) string {
	var hasDataPkl, hasKerasConfig, hasKerasMeta bool
	npy := 0
	for _, f := range files {
		switch {
		case path.Base(f.Name) == "data.pkl":
			hasDataPkl = true
		case f.Name == "config.json":
			hasKerasConfig = true
		case f.Name == "metadata.json" || f.Name == "model.weights.h5":
			hasKerasMeta = true
		case strings.HasSuffix(f.Name, ".npy"):
			npy++
		}
	}
	switch {
	case hasDataPkl:
		return FormatPyTorch
	case hasKerasConfig && hasKerasMeta:
		return FormatKeras
	case npy > 0 && npy == len(files):
		return FormatNPZ
	}
	return FormatZip
}

// isTorchStorage matches "<top>/data/<key>" members of a torch.save zip.
func isTorchStorage(name string) bool {
	dir, key := path.Split(name)
	if key == "" || !strings.HasSuffix(dir, "/data/") && dir != "data/" {
		return false
	}
	for _, c := range key {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

func unsafeMemberPath(name string) bool {
	n := strings.ReplaceAll(name, "\\", "/")
	if strings.HasPrefix(n, "/") || (len(n) >= 2 && n[1] == ':') {
		return true
	}
	for _, seg := range strings.Split(n, "/") {
		if seg == ".." {
			return true
		}
	}
	return false
}

func printableName(name string) string {
	if len(name) > 200 {
		name = name[:200] + "..."
	}
	for _, r := range name {
		if r < 0x20 || r == 0x7f {
			return fmt.Sprintf("%q", name)
		}
	}
	return name
}
