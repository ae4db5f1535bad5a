package httpapi

import (
	"context"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"github.com/cavra-dev/cavra"
)

// InclusionProof proves that a leaf is in a tree: hashes are base64 (standard encoding), in
// RFC 6962 order.
type InclusionProof struct {
	Index  uint64   `json:"index" doc:"The leaf the proof is for."`
	Size   uint64   `json:"size" doc:"The tree size the proof is against."`
	Hashes [][]byte `json:"hashes" doc:"The proof's hashes, base64."`
}

// ConsistencyProof proves that one tree is a prefix of another.
type ConsistencyProof struct {
	From   uint64   `json:"from" doc:"The older tree size."`
	To     uint64   `json:"to" doc:"The newer tree size."`
	Hashes [][]byte `json:"hashes" doc:"The proof's hashes, base64."`
}

type headOutput struct {
	Body cavra.AuditHead
}

type checkpointOutput struct {
	Body cavra.Checkpoint
}

type entryIndexInput struct {
	Index uint64 `path:"index" doc:"The leaf index, from 0."`
}

type entryIDInput struct {
	ID string `path:"id" minLength:"1" maxLength:"256" doc:"The entry id (a decision or record id)."`
}

type entryOutput struct {
	Body cavra.AuditEntry
}

type inclusionInput struct {
	Index uint64 `query:"index" required:"true" doc:"The leaf index."`
	Size  uint64 `query:"size" required:"true" minimum:"1" doc:"The tree size; index must be below it."`
}

type consistencyInput struct {
	From uint64 `query:"from" required:"true" minimum:"1" doc:"The older tree size."`
	To   uint64 `query:"to" required:"true" minimum:"1" doc:"The newer tree size, at least from."`
}

type inclusionOutput struct {
	Body InclusionProof
}

type consistencyOutput struct {
	Body ConsistencyProof
}

type bundleInput struct {
	From uint64 `query:"from" doc:"The first entry index; default 0."`
	To   uint64 `query:"to" doc:"One past the last entry index; 0 means the whole log."`
}

type bundleOutput struct {
	ContentType string `header:"Content-Type"`
	Body        []byte
}

func (s *Server) registerAudit() {
	roles := []cavra.Role{cavra.RoleAdmin, cavra.RoleAuditor}
	tags := []string{"audit"}

	huma.Register(s.api, s.operation(huma.Operation{
		OperationID: "auditHead",
		Method:      http.MethodGet,
		Path:        "/v1/audit/head",
		Summary:     "Audit log head",
		Description: "The log's size and latest checkpoint.",
		Tags:        tags,
	}, roles...), func(ctx context.Context, _ *struct{}) (*headOutput, error) {
		h, err := s.cfg.Audit.Head(ctx)
		if err != nil {
			return nil, s.problem(ctx, "audit head", err)
		}
		return &headOutput{Body: h}, nil
	})

	huma.Register(s.api, s.operation(huma.Operation{
		OperationID: "latestCheckpoint",
		Method:      http.MethodGet,
		Path:        "/v1/audit/checkpoint",
		Summary:     "Latest checkpoint",
		Description: "The latest signed checkpoint (a C2SP signed note); 404 when none was cut yet.",
		Tags:        tags,
		Errors:      []int{http.StatusNotFound},
	}, roles...), func(ctx context.Context, _ *struct{}) (*checkpointOutput, error) {
		cp, err := s.cfg.Audit.LatestCheckpoint(ctx)
		if err != nil {
			return nil, s.problem(ctx, "latest checkpoint", err)
		}
		return &checkpointOutput{Body: cp}, nil
	})

	huma.Register(s.api, s.operation(huma.Operation{
		OperationID: "cutCheckpoint",
		Method:      http.MethodPost,
		Path:        "/v1/audit/checkpoint",
		Summary:     "Cut a checkpoint",
		Description: "Signs a checkpoint of the log now if it grew since the latest, and returns the latest.",
		Tags:        tags,
		Errors:      []int{http.StatusServiceUnavailable},
	}, roles...), func(ctx context.Context, _ *struct{}) (*checkpointOutput, error) {
		cp, err := s.cfg.Audit.Checkpoint(ctx)
		if err != nil {
			return nil, s.problem(ctx, "cut checkpoint", err)
		}
		return &checkpointOutput{Body: cp}, nil
	})

	huma.Register(s.api, s.operation(huma.Operation{
		OperationID: "auditEntry",
		Method:      http.MethodGet,
		Path:        "/v1/audit/entries/{index}",
		Summary:     "Audit entry by index",
		Description: "One leaf: its canonical record and leaf hash (base64).",
		Tags:        tags,
		Errors:      []int{http.StatusNotFound},
	}, roles...), func(ctx context.Context, in *entryIndexInput) (*entryOutput, error) {
		e, err := s.cfg.Audit.Entry(ctx, in.Index)
		if err != nil {
			return nil, s.problem(ctx, "audit entry", err)
		}
		return &entryOutput{Body: e}, nil
	})

	huma.Register(s.api, s.operation(huma.Operation{
		OperationID: "auditEntryByID",
		Method:      http.MethodGet,
		Path:        "/v1/audit/entries/by-id/{id}",
		Summary:     "Audit entry by id",
		Tags:        tags,
		Errors:      []int{http.StatusNotFound},
	}, roles...), func(ctx context.Context, in *entryIDInput) (*entryOutput, error) {
		e, err := s.cfg.Audit.EntryByID(ctx, in.ID)
		if err != nil {
			return nil, s.problem(ctx, "audit entry", err)
		}
		return &entryOutput{Body: e}, nil
	})

	huma.Register(s.api, s.operation(huma.Operation{
		OperationID: "inclusionProof",
		Method:      http.MethodGet,
		Path:        "/v1/audit/proofs/inclusion",
		Summary:     "Inclusion proof",
		Description: "The RFC 6962 proof that leaf index is in the tree of the given size.",
		Tags:        tags,
		Errors:      []int{http.StatusUnprocessableEntity},
	}, roles...), func(ctx context.Context, in *inclusionInput) (*inclusionOutput, error) {
		if in.Index >= in.Size {
			return nil, invalid("query.index", "index must be below size")
		}
		hashes, err := s.cfg.Audit.InclusionProof(ctx, in.Index, in.Size)
		if err != nil {
			return nil, s.problem(ctx, "inclusion proof", err)
		}
		return &inclusionOutput{Body: InclusionProof{Index: in.Index, Size: in.Size, Hashes: nonNil(hashes)}}, nil
	})

	huma.Register(s.api, s.operation(huma.Operation{
		OperationID: "consistencyProof",
		Method:      http.MethodGet,
		Path:        "/v1/audit/proofs/consistency",
		Summary:     "Consistency proof",
		Description: "The RFC 6962 proof that the tree of size from is a prefix of the tree of size to.",
		Tags:        tags,
		Errors:      []int{http.StatusUnprocessableEntity},
	}, roles...), func(ctx context.Context, in *consistencyInput) (*consistencyOutput, error) {
		if in.From > in.To {
			return nil, invalid("query.from", "from must not be after to")
		}
		hashes, err := s.cfg.Audit.ConsistencyProof(ctx, in.From, in.To)
		if err != nil {
			return nil, s.problem(ctx, "consistency proof", err)
		}
		return &consistencyOutput{Body: ConsistencyProof{From: in.From, To: in.To, Hashes: nonNil(hashes)}}, nil
	})

	huma.Register(s.api, s.operation(huma.Operation{
		OperationID: "exportBundle",
		Method:      http.MethodGet,
		Path:        "/v1/audit/bundle",
		Summary:     "Export an evidence bundle",
		Description: "A DSSE evidence bundle of entries [from, to) with their proofs and a fresh checkpoint, verifiable offline with `cavra verify`; the same as `cavra audit export`.",
		Tags:        tags,
		Errors:      []int{http.StatusUnprocessableEntity},
		Responses: map[string]*huma.Response{"200": {
			Description: "The bundle (JSON).",
			Content:     map[string]*huma.MediaType{"application/json": {Schema: &huma.Schema{Type: huma.TypeObject}}},
		}},
	}, roles...), func(ctx context.Context, in *bundleInput) (*bundleOutput, error) {
		if in.To != 0 && in.From > in.To {
			return nil, invalid("query.from", "from must not be after to")
		}
		b, err := s.cfg.Audit.ExportBundle(ctx, in.From, in.To)
		if err != nil {
			return nil, s.problem(ctx, "export bundle", err)
		}
		return &bundleOutput{ContentType: "application/json", Body: b}, nil
	})
}

func nonNil(h [][]byte) [][]byte {
	if h == nil {
		return [][]byte{}
	}
	return h
}
