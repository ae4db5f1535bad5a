package audit

import (
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// CheckpointBody is the text a checkpoint signs, in the C2SP tlog-checkpoint format:
//
//	<origin>\n
//	<tree size, decimal>\n
//	<root hash, standard base64>\n
//	cavra-time <RFC 3339 signing time>\n
//
// The time extension line lets a verifier judge the signature against the key's validity
// window and revocation.
type CheckpointBody struct {
	Origin   string
	Size     uint64
	RootHash []byte
	Time     time.Time
	// Extensions holds any further extension lines, in order (other than the time line).
	Extensions []string
}

// timeExtensionPrefix starts the extension line that says when a checkpoint was signed; it is
// the same text as verify.TimeExtensionPrefix, which the offline verifier reads.
const timeExtensionPrefix = "cavra-time "

// maxCheckpointLines bounds extension lines a parser accepts.
const maxCheckpointLines = 64

// Text renders the body; every line ends in a newline.
func (b CheckpointBody) Text() string {
	var s strings.Builder
	s.WriteString(b.Origin)
	s.WriteByte('\n')
	s.WriteString(strconv.FormatUint(b.Size, 10))
	s.WriteByte('\n')
	s.WriteString(base64.StdEncoding.EncodeToString(b.RootHash))
	s.WriteByte('\n')
	if !b.Time.IsZero() {
		s.WriteString(timeExtensionPrefix + b.Time.UTC().Format(time.RFC3339Nano))
		s.WriteByte('\n')
	}
	for _, e := range b.Extensions {
		s.WriteString(e)
		s.WriteByte('\n')
	}
	return s.String()
}

// ParseCheckpointBody parses the text of a checkpoint (the note text, signatures removed).
func ParseCheckpointBody(text string) (CheckpointBody, error) {
	var b CheckpointBody
	if !utf8.ValidString(text) {
		return b, fmt.Errorf("checkpoint: not valid UTF-8")
	}
	if !strings.HasSuffix(text, "\n") {
		return b, fmt.Errorf("checkpoint: text does not end in a newline")
	}
	lines := strings.Split(strings.TrimSuffix(text, "\n"), "\n")
	if len(lines) < 3 {
		return b, fmt.Errorf("checkpoint: want origin, size and root hash lines, got %d lines", len(lines))
	}
	if len(lines) > 3+maxCheckpointLines {
		return b, fmt.Errorf("checkpoint: more than %d extension lines", maxCheckpointLines)
	}
	for i, l := range lines {
		if l == "" {
			return b, fmt.Errorf("checkpoint: line %d is empty", i+1)
		}
		for _, r := range l {
			if r < 0x20 || r == 0x7f {
				return b, fmt.Errorf("checkpoint: line %d has a control character", i+1)
			}
		}
	}
	b.Origin = lines[0]
	size, err := strconv.ParseUint(lines[1], 10, 64)
	if err != nil || strconv.FormatUint(size, 10) != lines[1] {
		return b, fmt.Errorf("checkpoint: tree size %q is not a canonical decimal number", lines[1])
	}
	b.Size = size
	root, err := base64.StdEncoding.Strict().DecodeString(lines[2])
	if err != nil {
		return b, fmt.Errorf("checkpoint: root hash: %w", err)
	}
	if len(root) != sha256.Size {
		return b, fmt.Errorf("checkpoint: root hash has %d bytes, want %d", len(root), sha256.Size)
	}
	b.RootHash = root
	for _, l := range lines[3:] {
		if ts, ok := strings.CutPrefix(l, timeExtensionPrefix); ok {
			if !b.Time.IsZero() {
				return b, fmt.Errorf("checkpoint: more than one time line")
			}
			t, err := time.Parse(time.RFC3339Nano, ts)
			if err != nil {
				return b, fmt.Errorf("checkpoint: time line: %w", err)
			}
			b.Time = t
			continue
		}
		b.Extensions = append(b.Extensions, l)
	}
	return b, nil
}
