package client

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/cavra-dev/cavra"
)

// maxEventLine bounds one Server-Sent Events line: an event is a few hundred bytes, an
// approval event with its action a few kilobytes.
const maxEventLine = 1 << 20

// Events follows the caller's tenant's events (GET /v1/events, Server-Sent Events) and calls
// fn for each, until ctx ends (nil), the stream fails or fn returns an error. typ filters by
// event type ("" for all); fromStart replays the stored events first. The client's per-call
// timeout does not apply: a stream lasts as long as ctx.
func (c *Client) Events(ctx context.Context, typ cavra.EventType, fromStart bool, fn func(cavra.Event) error) error {
	q := url.Values{}
	if typ != "" {
		q.Set("type", string(typ))
	}
	if fromStart {
		q.Set("from_start", "true")
	}
	target := c.base.String() + "/v1/events"
	if len(q) > 0 {
		target += "?" + q.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
	if err != nil {
		return cavra.Errorf(cavra.ErrInvalid, "GET /v1/events: %w", err)
	}
	req.Header.Set("Accept", "text/event-stream")
	req.Header.Set("User-Agent", c.ua)
	req.Header.Set("Authorization", "Bearer "+c.token)
	resp, err := c.hc.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return cavra.Errorf(cavra.ErrUnavailable, "GET %s/v1/events: %w", c.base, transportCause(ctx, err))
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, maxProblemBody))
		p := decodeProblem(resp.StatusCode, resp.Header.Get("Content-Type"), b)
		return cavra.Errorf(codeOf(resp.StatusCode), "GET %s/v1/events: %w", c.base, p)
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 0, 64<<10), maxEventLine)
	var data strings.Builder
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == "":
			// A blank line ends an event; comments and id/event lines carry nothing the
			// event's JSON does not.
			if data.Len() == 0 {
				continue
			}
			var e cavra.Event
			if err := json.Unmarshal([]byte(data.String()), &e); err != nil {
				return cavra.Errorf(cavra.ErrInternal, "GET %s/v1/events: decode event: %w", c.base, err)
			}
			data.Reset()
			if err := fn(e); err != nil {
				return err
			}
		case strings.HasPrefix(line, "data:"):
			if data.Len() > 0 {
				data.WriteByte('\n')
			}
			data.WriteString(strings.TrimPrefix(strings.TrimPrefix(line, "data:"), " "))
		}
	}
	if ctx.Err() != nil {
		return nil
	}
	if err := sc.Err(); err != nil {
		return cavra.Errorf(cavra.ErrUnavailable, "GET %s/v1/events: %w", c.base, err)
	}
	return cavra.Errorf(cavra.ErrUnavailable, "GET %s/v1/events: the server ended the stream", c.base)
}
