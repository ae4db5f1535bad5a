// Package mcpgw is CAVRA's Model Context Protocol gateway. It sits between an agent (the MCP
// client) and one MCP server, reads every JSON-RPC message in both directions, and governs them:
// tools/call requests become mcp.call actions judged by the decision engine, tools/list answers
// are filtered, pinned and checked for poisoned descriptions, and tool results are scanned for
// secrets and prompt-injection text before the agent sees them.
//
// The gateway core (Session) is transport-independent; Proxy runs it over stdio (newline-delimited
// JSON) and Handler over Streamable HTTP.
package mcpgw

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// MaxMessageSize bounds one JSON-RPC message. Tool results carrying whole files can be large,
// but an unbounded line would let a peer exhaust the gateway's memory.
const MaxMessageSize = 64 << 20

// JSON-RPC 2.0 error codes used by the gateway.
const (
	CodeParseError     = -32700
	CodeInvalidRequest = -32600
	CodeInvalidParams  = -32602
	CodeInternalError  = -32603
)

// Message is one JSON-RPC 2.0 message: a request (Method and ID), a notification (Method, no ID)
// or a response (ID with Result or Error). Params, Result and Error stay raw so that a message the
// gateway does not change is forwarded byte for byte.
type Message struct {
	JSONRPC string          `json:"jsonrpc"`
	ID      json.RawMessage `json:"id,omitempty"`
	Method  string          `json:"method,omitempty"`
	Params  json.RawMessage `json:"params,omitempty"`
	Result  json.RawMessage `json:"result,omitempty"`
	Error   *RPCError       `json:"error,omitempty"`
}

// RPCError is a JSON-RPC error object.
type RPCError struct {
	Code    int             `json:"code"`
	Message string          `json:"message"`
	Data    json.RawMessage `json:"data,omitempty"`
}

// IsRequest reports whether m expects a response.
func (m *Message) IsRequest() bool { return m.Method != "" && m.hasID() }

// IsNotification reports whether m is a method call without an id.
func (m *Message) IsNotification() bool { return m.Method != "" && !m.hasID() }

// IsResponse reports whether m answers a request; an error about an unreadable request has a
// null id.
func (m *Message) IsResponse() bool { return m.Method == "" && (m.hasID() || m.Error != nil) }

func (m *Message) hasID() bool { return len(m.ID) > 0 && !bytes.Equal(m.ID, []byte("null")) }

// idKey is the request id as a map key, canonical so that a server re-encoding the id ("\u0061"
// as "a") still matches its request; "1" and 1 stay different ids, as JSON-RPC says.
func (m *Message) idKey() string {
	if len(m.ID) > 0 && m.ID[0] == '"' {
		var s string
		if err := json.Unmarshal(m.ID, &s); err == nil {
			return "s:" + s
		}
	}
	return "n:" + string(m.ID)
}

// integerID matches the numeric ids the gateway accepts: integers without fraction, exponent
// or leading zeros, which every peer encodes the same way.
func integerID(id []byte) bool {
	if len(id) > 0 && id[0] == '-' {
		id = id[1:]
	}
	if len(id) == 0 || len(id) > 19 || (id[0] == '0' && len(id) > 1) {
		return false
	}
	for _, c := range id {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// ErrBatch is returned for a JSON array: batching was removed from MCP in 2025-06-18, and a batch
// could carry a tools/call past a gateway that judges single messages.
var ErrBatch = errors.New("JSON-RPC batches are not supported")

// ErrNotJSON is returned for input that is not a JSON object (JSON-RPC parse error).
var ErrNotJSON = errors.New("invalid JSON")

// ParseMessage decodes one JSON-RPC message and checks its shape. It never panics on any input.
func ParseMessage(data []byte) (*Message, error) {
	trimmed := bytes.TrimSpace(data)
	if len(trimmed) == 0 {
		return nil, errors.New("empty message")
	}
	if trimmed[0] == '[' {
		return nil, ErrBatch
	}
	if trimmed[0] != '{' {
		return nil, fmt.Errorf("%w: message is not a JSON object", ErrNotJSON)
	}
	var m Message
	dec := json.NewDecoder(bytes.NewReader(trimmed))
	if err := dec.Decode(&m); err != nil {
		return nil, fmt.Errorf("%w: decode message: %v", ErrNotJSON, err)
	}
	if dec.More() {
		return nil, errors.New("trailing data after the message")
	}
	if m.JSONRPC != "2.0" {
		return nil, fmt.Errorf("jsonrpc is %q, want \"2.0\"", m.JSONRPC)
	}
	if len(m.ID) > 0 && m.ID[0] != '"' && !bytes.Equal(m.ID, []byte("null")) && !integerID(m.ID) {
		// A fractional or exponent id could come back from the server spelled differently and
		// escape the answer's inspection.
		return nil, errors.New("id must be a string or an integer")
	}
	switch {
	case m.Method != "":
		if m.Result != nil || m.Error != nil {
			return nil, errors.New("a request carries result or error")
		}
		if len(m.Params) > 0 && m.Params[0] != '{' && m.Params[0] != '[' && !bytes.Equal(m.Params, []byte("null")) {
			return nil, errors.New("params must be an object or an array")
		}
	case m.hasID() || m.Error != nil:
		if (m.Result != nil) == (m.Error != nil) {
			return nil, errors.New("a response needs exactly one of result and error")
		}
	default:
		return nil, errors.New("message is neither a request, a notification nor a response")
	}
	return &m, nil
}

// ErrDuplicateKey is returned for an object with the same key twice. Parsers disagree on which
// value wins, so such a message could show the gateway one tool call and the server another.
var ErrDuplicateKey = errors.New("duplicate key in JSON object")

// checkDuplicateKeys scans data, which must be valid JSON (ParseMessage checked it), and fails
// on the first object that repeats a key. Keys are compared after unescaping, so "a" and "\u0061"
// are the same key. It is a byte scanner rather than a json.Decoder token walk because it runs
// on every message an agent sends.
func checkDuplicateKeys(data []byte) error {
	type object struct {
		keys  map[string]struct{}
		atKey bool
	}
	var stack []*object // nil entries are arrays
	for i := 0; i < len(data); i++ {
		switch c := data[i]; c {
		case '{':
			if n := len(stack); n > 0 && stack[n-1] != nil {
				stack[n-1].atKey = false
			}
			stack = append(stack, &object{atKey: true})
		case '[':
			if n := len(stack); n > 0 && stack[n-1] != nil {
				stack[n-1].atKey = false
			}
			stack = append(stack, nil)
		case '}', ']':
			if len(stack) == 0 {
				return errors.New("unbalanced JSON")
			}
			stack = stack[:len(stack)-1]
		case ',':
			if n := len(stack); n > 0 && stack[n-1] != nil {
				stack[n-1].atKey = true
			}
		case '"':
			end, escaped := i+1, false
			for ; end < len(data); end++ {
				if data[end] == '\\' {
					escaped = true
					end++
					continue
				}
				if data[end] == '"' {
					break
				}
			}
			if end >= len(data) {
				return errors.New("unterminated JSON string")
			}
			if n := len(stack); n > 0 && stack[n-1] != nil && stack[n-1].atKey {
				o := stack[n-1]
				key := string(data[i+1 : end])
				if escaped {
					if err := json.Unmarshal(data[i:end+1], &key); err != nil {
						return fmt.Errorf("decode key: %w", err)
					}
				}
				if o.keys == nil {
					o.keys = make(map[string]struct{}, 4)
				}
				if _, dup := o.keys[key]; dup {
					return fmt.Errorf("%w: %q", ErrDuplicateKey, visible(key))
				}
				o.keys[key] = struct{}{}
				o.atKey = false
			}
			i = end
		}
	}
	return nil
}

// Encode writes m as compact JSON.
func (m *Message) Encode() ([]byte, error) {
	b, err := json.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("encode message: %w", err)
	}
	return b, nil
}

// errorResponse builds a JSON-RPC error answer to id (null when the id is unknown).
func errorResponse(id json.RawMessage, code int, msg string) []byte {
	if len(id) == 0 {
		id = json.RawMessage("null")
	}
	b, err := json.Marshal(Message{JSONRPC: "2.0", ID: id, Error: &RPCError{Code: code, Message: msg}})
	if err != nil {
		// Only a malformed id could fail, and ids come from ParseMessage.
		return []byte(`{"jsonrpc":"2.0","id":null,"error":{"code":-32603,"message":"internal error"}}`)
	}
	return b
}

// resultResponse builds a JSON-RPC result answer.
func resultResponse(id json.RawMessage, result any) ([]byte, error) {
	r, err := json.Marshal(result)
	if err != nil {
		return nil, fmt.Errorf("encode result: %w", err)
	}
	return json.Marshal(Message{JSONRPC: "2.0", ID: id, Result: r})
}

// LineReader reads newline-delimited JSON-RPC messages, the stdio framing of MCP.
type LineReader struct {
	r   *bufio.Reader
	max int
}

// NewLineReader reads messages of at most max bytes from r (MaxMessageSize when max <= 0).
func NewLineReader(r io.Reader, max int) *LineReader {
	if max <= 0 {
		max = MaxMessageSize
	}
	return &LineReader{r: bufio.NewReaderSize(r, 64<<10), max: max}
}

// ErrTooLarge is returned for a line longer than the reader's limit.
var ErrTooLarge = errors.New("message larger than the limit")

// Next returns the next non-empty line without its line ending. At the end of input it returns
// io.EOF; a final line without a newline is still returned first. A line over the limit is
// skipped up to its newline and reported as ErrTooLarge, so the stream stays in step.
func (lr *LineReader) Next() ([]byte, error) {
	for {
		var line []byte
		tooLarge := false
		for {
			chunk, err := lr.r.ReadSlice('\n')
			if !tooLarge {
				if len(line)+len(chunk) > lr.max+2 { // +2 for "\r\n"
					tooLarge, line = true, nil
				} else {
					line = append(line, chunk...)
				}
			}
			if err == bufio.ErrBufferFull {
				continue
			}
			if err != nil && !(err == io.EOF && (len(line) > 0 || tooLarge)) {
				return nil, err
			}
			break
		}
		if tooLarge {
			return nil, ErrTooLarge
		}
		line = bytes.TrimRight(line, "\r\n")
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		return line, nil
	}
}
