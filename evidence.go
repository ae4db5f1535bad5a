package cavra

import "time"

// RecordType says what an audit record is about.
type RecordType string

// Record types. Approvals and policy changes use the same log as they land.
const (
	RecordDecision     RecordType = "decision"
	RecordApproval     RecordType = "approval"
	RecordPolicyChange RecordType = "policy_change"
	// RecordScan is one scanned file's result; its body is a ScanEvidence.
	RecordScan RecordType = "scan"
	// RecordScanSummary closes a scan: what was scanned and the counts; its body is a
	// ScanSummaryEvidence.
	RecordScanSummary RecordType = "scan_summary"
	// RecordMCPResult is the evidence of one MCP tools/call result: the decision that let the
	// call through, the result's hash, findings and handling (never the result itself).
	RecordMCPResult RecordType = "mcp_result"
)

// ScanEvidence is the body of a scan record: the result of one file of one scan. It holds the
// file's digest, size, verdict and findings, never its content.
type ScanEvidence struct {
	// ScanID ties the records of one scan together and to its summary.
	ScanID string     `json:"scan_id"`
	File   FileResult `json:"file"`
}

// ScanSummaryEvidence is the body of the record that closes a scan, appended after the scan's
// file records so that a complete scan can be told from one cut short.
type ScanSummaryEvidence struct {
	ScanID string `json:"scan_id"`
	// Targets are the paths the scan was asked to walk, as given.
	Targets []string    `json:"targets"`
	Summary ScanSummary `json:"summary"`
	// Scanner names the tool and its version.
	Scanner string `json:"scanner"`
}

// AuditEntry is one leaf of a tenant's append-only audit log.
type AuditEntry struct {
	// Index is the leaf's position in the tenant's Merkle tree, from 0.
	Index     uint64     `json:"index"`
	ID        string     `json:"id"`
	Tenant    string     `json:"tenant"`
	Workspace string     `json:"workspace"`
	Type      RecordType `json:"type"`
	Time      time.Time  `json:"time"`
	// Record is the canonical JSON of the record: exactly the bytes the leaf hash commits to.
	Record []byte `json:"record"`
	// LeafHash is the RFC 6962 leaf hash, SHA-256(0x00 || Record).
	LeafHash []byte `json:"leaf_hash"`
}

// TreeNodeID names a node of a Merkle tree: level 0 holds the leaves, and Index counts nodes
// from the left within a level.
type TreeNodeID struct {
	Level uint   `json:"level"`
	Index uint64 `json:"index"`
}

// TreeNode is a stored hash of a perfect subtree of the audit log's Merkle tree.
type TreeNode struct {
	ID   TreeNodeID `json:"id"`
	Hash []byte     `json:"hash"`
}

// Checkpoint is a signed statement of an audit log's size and root hash, in the C2SP
// tlog-checkpoint signed-note format.
type Checkpoint struct {
	Tenant string `json:"tenant"`
	// Seq numbers a tenant's checkpoints 1, 2, 3... without gaps, so a deleted one shows.
	Seq      uint64 `json:"seq"`
	Origin   string `json:"origin"`
	Size     uint64 `json:"size"`
	RootHash []byte `json:"root_hash"`
	// Note is the whole signed note: the checkpoint body, a blank line, signature lines.
	Note      []byte    `json:"note"`
	KeyID     string    `json:"key_id"`
	CreatedAt time.Time `json:"created_at"`
}

// AuditHead is where a tenant's audit log stands: its size and its latest checkpoint.
type AuditHead struct {
	Size           uint64    `json:"size"`
	CheckpointSeq  uint64    `json:"checkpoint_seq"`
	CheckpointSize uint64    `json:"checkpoint_size"`
	CheckpointAt   time.Time `json:"checkpoint_at,omitzero"`
}

// DecisionEvidence is the body of a decision's audit record: the action and what was decided.
type DecisionEvidence struct {
	Action   Action   `json:"action"`
	Decision Decision `json:"decision"`
}

// DecisionRecord is a decision as kept in the store, with the action it judged and the audit
// entry that makes it evidence. The store keeps the queryable facts of a decision in its row
// and the action and decision themselves only once, in the audit entry's record, whose
// "body" member is a DecisionEvidence; a decision row is an index into the evidence.
type DecisionRecord struct {
	ID         string    `json:"id"`
	Tenant     string    `json:"tenant"`
	Workspace  string    `json:"workspace"`
	Action     Action    `json:"action"`
	Decision   Decision  `json:"decision"`
	AuditIndex uint64    `json:"audit_index"`
	RecordedAt time.Time `json:"recorded_at"`
}
