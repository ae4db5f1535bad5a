package cavra

import (
	"errors"
	"fmt"
)

// ErrorCode classifies errors so that each edge (CLI exit code, HTTP status, hook answer, MCP
// error) maps them in one place.
type ErrorCode string

// Error codes.
const (
	ErrInvalid      ErrorCode = "invalid"
	ErrNotFound     ErrorCode = "not_found"
	ErrConflict     ErrorCode = "conflict"
	ErrUnauthorized ErrorCode = "unauthorized"
	ErrForbidden    ErrorCode = "forbidden"
	ErrUnavailable  ErrorCode = "unavailable"
	ErrInternal     ErrorCode = "internal"
)

// Error is a classified error.
type Error struct {
	Code ErrorCode
	Err  error
}

func (e *Error) Error() string { return e.Err.Error() }

func (e *Error) Unwrap() error { return e.Err }

// Errorf makes a classified error; %w in format wraps as usual.
func Errorf(code ErrorCode, format string, args ...any) error {
	return &Error{Code: code, Err: fmt.Errorf(format, args...)}
}

// Code returns the code of the first *Error in err's chain, or ErrInternal.
func Code(err error) ErrorCode {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return ErrInternal
}
