package mcpgw

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
)

// Pipes are the four ends of a stdio proxy: the client's side (the agent host, which started us)
// and the server's side (the MCP server we started).
type Pipes struct {
	ClientIn  io.Reader      // messages from the client
	ClientOut io.Writer      // messages to the client
	ServerIn  io.WriteCloser // messages to the server; closed when the client is done
	ServerOut io.Reader      // messages from the server
	// ClientDone, when set, is called once the client's input has ended and the server's input
	// is closed: the moment a stdio host starts its shutdown timer.
	ClientDone func()
}

// Proxy relays newline-delimited JSON-RPC between client and server through the session until
// the server's output ends. When the client's input ends, the server's input is closed so the
// server can shut down cleanly; Proxy then waits for the server's output to end. A gateway
// failure on one message is answered on that message (fail closed) and logged; the proxy goes on.
func (s *Session) Proxy(ctx context.Context, p Pipes) error {
	var outMu sync.Mutex
	writeClient := func(b []byte) error {
		outMu.Lock()
		defer outMu.Unlock()
		if _, err := p.ClientOut.Write(append(b, '\n')); err != nil {
			return fmt.Errorf("write to client: %w", err)
		}
		return nil
	}
	clientDone := make(chan error, 1)
	go func() {
		clientDone <- s.pumpClient(ctx, p, writeClient)
	}()
	serverErr := s.pumpServer(ctx, p, writeClient)
	select {
	case err := <-clientDone:
		if err != nil && serverErr == nil {
			serverErr = err
		}
	default:
		// The server ended first; the client's reader is left to the process's exit, since a
		// read from the agent's stdin cannot be interrupted portably.
	}
	return serverErr
}

func (s *Session) pumpClient(ctx context.Context, p Pipes, writeClient func([]byte) error) error {
	defer func() {
		p.ServerIn.Close()
		if p.ClientDone != nil {
			p.ClientDone()
		}
	}()
	lr := NewLineReader(p.ClientIn, MaxMessageSize)
	for {
		line, err := lr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if errors.Is(err, ErrTooLarge) {
			if werr := writeClient(errorResponse(nil, CodeInvalidRequest, "CAVRA gateway: message larger than the limit; not sent")); werr != nil {
				return werr
			}
			continue
		}
		if err != nil {
			return fmt.Errorf("read from client: %w", err)
		}
		v, gerr := s.FromClient(ctx, line)
		if gerr != nil {
			s.g.cfg.Logger.Error("mcp gateway error", "server", s.g.cfg.Server, "err", gerr)
		}
		if v.Reply != nil {
			if err := writeClient(v.Reply); err != nil {
				return err
			}
		}
		if v.Forward != nil {
			if _, err := p.ServerIn.Write(append(v.Forward, '\n')); err != nil {
				return fmt.Errorf("write to server: %w", err)
			}
		}
	}
}

func (s *Session) pumpServer(ctx context.Context, p Pipes, writeClient func([]byte) error) error {
	lr := NewLineReader(p.ServerOut, MaxMessageSize)
	for {
		line, err := lr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if errors.Is(err, ErrTooLarge) {
			// The answer is lost; the client's request times out rather than receiving half a message.
			s.g.cfg.Logger.Error("mcp server sent a message larger than the limit; dropped", "server", s.g.cfg.Server)
			continue
		}
		if err != nil {
			return fmt.Errorf("read from server: %w", err)
		}
		out, gerr := s.FromServer(ctx, line)
		if gerr != nil {
			s.g.cfg.Logger.Error("mcp gateway error", "server", s.g.cfg.Server, "err", gerr)
		}
		if out == nil {
			continue
		}
		if err := writeClient(out); err != nil {
			return err
		}
	}
}
