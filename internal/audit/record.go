package audit

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/cavra-dev/cavra"
)

// RecordVersion is the version of the audit record format.
const RecordVersion = 1

// Record is the envelope every audit log leaf holds, as canonical JSON. Its members, in their
// canonical order:
//
//	body       the record's content; for a decision a cavra.DecisionEvidence
//	id         the entry's id (for a decision, the decision id)
//	index      the leaf's position in the tenant's tree
//	tenant     the tenant the entry belongs to
//	time       when it was recorded, RFC 3339 with nanoseconds, UTC
//	type       decision, approval, scan, policy_change
//	v          the record format version
//	workspace  the workspace it belongs to
//
// The index, id, tenant and type are inside the hashed bytes so that a record cannot be moved
// to another position, tenant or meaning without changing its leaf hash.
type Record struct {
	Body      json.RawMessage  `json:"body"`
	ID        string           `json:"id"`
	Index     uint64           `json:"index"`
	Tenant    string           `json:"tenant"`
	Time      string           `json:"time"`
	Type      cavra.RecordType `json:"type"`
	V         int              `json:"v"`
	Workspace string           `json:"workspace"`
}

func formatTime(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

// encodeRecord writes the canonical JSON of a record whose body is already canonical. It
// writes the members in their sorted order directly instead of canonicalising the whole
// record again: appends are on the hook's latency path.
func encodeRecord(r Record) []byte {
	var b bytes.Buffer
	b.Grow(len(r.Body) + 200)
	b.WriteString(`{"body":`)
	b.Write(r.Body)
	b.WriteString(`,"id":`)
	writeString(&b, r.ID)
	b.WriteString(`,"index":`)
	b.WriteString(strconv.FormatUint(r.Index, 10))
	b.WriteString(`,"tenant":`)
	writeString(&b, r.Tenant)
	b.WriteString(`,"time":`)
	writeString(&b, r.Time)
	b.WriteString(`,"type":`)
	writeString(&b, string(r.Type))
	b.WriteString(`,"v":`)
	b.WriteString(strconv.Itoa(r.V))
	b.WriteString(`,"workspace":`)
	writeString(&b, r.Workspace)
	b.WriteByte('}')
	return b.Bytes()
}

// maxSafeIndex is the largest index a canonical record can carry exactly: JSON numbers are
// doubles, so the canonical form of larger integers loses digits.
const maxSafeIndex = 1<<53 - 1

// ParseRecord decodes a record and checks that it is in canonical form.
func ParseRecord(data []byte) (Record, error) {
	var r Record
	keys, vals, err := checkCanonical(data)
	if err != nil {
		return r, fmt.Errorf("record: %w", err)
	}
	if len(data) == 0 || data[0] != '{' {
		return r, fmt.Errorf("record: not a JSON object")
	}
	seen := 0
	for i, k := range keys {
		name := string(data[k.start:k.end])
		val := data[vals[i].start:vals[i].end]
		var err error
		switch name {
		case "body":
			if val[0] != '{' {
				return r, fmt.Errorf("record: body is not an object")
			}
			r.Body = val
		case "id":
			r.ID, err = jsonString(val)
		case "index":
			r.Index, err = strconv.ParseUint(string(val), 10, 64)
		case "tenant":
			r.Tenant, err = jsonString(val)
		case "time":
			r.Time, err = jsonString(val)
		case "type":
			var t string
			t, err = jsonString(val)
			r.Type = cavra.RecordType(t)
		case "v":
			r.V, err = strconv.Atoi(string(val))
		case "workspace":
			r.Workspace, err = jsonString(val)
		default:
			return r, fmt.Errorf("record: unknown member %q", name)
		}
		if err != nil {
			return r, fmt.Errorf("record: member %s: %w", name, err)
		}
		seen++
	}
	if seen != 8 {
		return r, fmt.Errorf("record: want the 8 members body, id, index, tenant, time, type, v, workspace; got %d", seen)
	}
	if r.V != RecordVersion {
		return r, fmt.Errorf("record: version %d, want %d", r.V, RecordVersion)
	}
	if r.ID == "" || r.Type == "" || r.Tenant == "" || r.Workspace == "" {
		return r, fmt.Errorf("record: id, type, tenant and workspace must not be empty")
	}
	if r.Index > maxSafeIndex {
		return r, fmt.Errorf("record: index %d above 2^53-1", r.Index)
	}
	if _, err := time.Parse(time.RFC3339Nano, r.Time); err != nil {
		return r, fmt.Errorf("record: time: %w", err)
	}
	return r, nil
}

// jsonString decodes a JSON string value already checked to be canonical.
func jsonString(val []byte) (string, error) {
	if len(val) < 2 || val[0] != '"' {
		return "", fmt.Errorf("not a string")
	}
	inner := val[1 : len(val)-1]
	if bytes.IndexByte(inner, '\\') < 0 {
		return string(inner), nil
	}
	var s string
	err := json.Unmarshal(val, &s)
	return s, err
}
