// Package bus publishes and follows CAVRA's events on NATS JetStream: an in-process server by
// default (zero set-up), or an external NATS cluster by URL.
package bus

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/cavra-dev/cavra"
)

// Defaults for the stream that holds events.
const (
	DefaultStream        = "CAVRA_EVENTS"
	DefaultSubjectPrefix = "cavra"
	DefaultMaxAge        = 30 * 24 * time.Hour
	// DefaultDuplicateWindow is how long JetStream remembers event ids to drop redeliveries.
	DefaultDuplicateWindow = 10 * time.Minute
)

// Config says where the bus is.
type Config struct {
	// URL of an external NATS server or cluster; empty runs one in-process.
	URL string
	// StoreDir is where the in-process server keeps its JetStream data; empty keeps it in memory.
	StoreDir string
	// Stream and SubjectPrefix name the stream and its subjects: PREFIX.<tenant>.<event type>.
	Stream        string
	SubjectPrefix string
	MaxAge        time.Duration
	Logger        *slog.Logger
}

// Bus is a connection to the event stream.
type Bus struct {
	cfg    Config
	srv    *server.Server
	nc     *nats.Conn
	js     jetstream.JetStream
	stream jetstream.Stream
	log    *slog.Logger
}

// Open connects (starting the in-process server when cfg.URL is empty) and makes sure the
// stream exists.
func Open(ctx context.Context, cfg Config) (*Bus, error) {
	if cfg.Stream == "" {
		cfg.Stream = DefaultStream
	}
	if cfg.SubjectPrefix == "" {
		cfg.SubjectPrefix = DefaultSubjectPrefix
	}
	if cfg.MaxAge == 0 {
		cfg.MaxAge = DefaultMaxAge
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if err := validToken(cfg.SubjectPrefix); err != nil {
		return nil, fmt.Errorf("subject prefix: %w", err)
	}
	b := &Bus{cfg: cfg, log: cfg.Logger}
	var opts []nats.Option
	opts = append(opts, nats.Name("cavra"), nats.MaxReconnects(-1))
	url := cfg.URL
	if url == "" {
		srv, err := startEmbedded(cfg)
		if err != nil {
			return nil, err
		}
		b.srv = srv
		opts = append(opts, nats.InProcessServer(srv))
		url = srv.ClientURL()
	}
	nc, err := nats.Connect(url, opts...)
	if err != nil {
		b.Close()
		return nil, cavra.Errorf(cavra.ErrUnavailable, "connect to nats %s: %w", url, err)
	}
	b.nc = nc
	js, err := jetstream.New(nc)
	if err != nil {
		b.Close()
		return nil, fmt.Errorf("jetstream: %w", err)
	}
	b.js = js
	storage := jetstream.FileStorage
	if cfg.URL == "" && cfg.StoreDir == "" {
		storage = jetstream.MemoryStorage
	}
	stream, err := js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name:       cfg.Stream,
		Subjects:   []string{cfg.SubjectPrefix + ".>"},
		Storage:    storage,
		MaxAge:     cfg.MaxAge,
		Duplicates: DefaultDuplicateWindow,
	})
	if err != nil {
		b.Close()
		return nil, cavra.Errorf(cavra.ErrUnavailable, "create stream %s: %w", cfg.Stream, err)
	}
	b.stream = stream
	return b, nil
}

func startEmbedded(cfg Config) (*server.Server, error) {
	opts := &server.Options{
		ServerName: "cavra-embedded",
		DontListen: true, // reachable only in-process: nothing listens on the network
		JetStream:  true,
		StoreDir:   cfg.StoreDir,
		NoLog:      true,
		NoSigs:     true,
	}
	if cfg.StoreDir == "" {
		opts.JetStreamMaxStore = 0
	}
	srv, err := server.NewServer(opts)
	if err != nil {
		return nil, fmt.Errorf("start embedded nats: %w", err)
	}
	srv.Start()
	if !srv.ReadyForConnections(10 * time.Second) {
		srv.Shutdown()
		return nil, errors.New("start embedded nats: not ready after 10s")
	}
	return srv, nil
}

// Subject is where an event of typ for tenant is published.
func (b *Bus) Subject(tenant string, typ cavra.EventType) string {
	return b.cfg.SubjectPrefix + "." + tenant + "." + string(typ)
}

// Publish sends e and waits for JetStream to store it. The event id is the Nats-Msg-Id, so a
// retried publish of the same event is stored once.
func (b *Bus) Publish(ctx context.Context, e cavra.Event) error {
	msg, err := b.message(e)
	if err != nil {
		return err
	}
	if _, err := b.js.PublishMsg(ctx, msg, jetstream.WithMsgID(e.ID)); err != nil {
		return cavra.Errorf(cavra.ErrUnavailable, "publish %s: %w", e.Type, err)
	}
	return nil
}

// PublishBatch sends events without waiting for each acknowledgement before the next, then
// waits for all of them; errs[i] is the fate of events[i]. Ids deduplicate as in Publish.
func (b *Bus) PublishBatch(ctx context.Context, events []cavra.Event) []error {
	errs := make([]error, len(events))
	futures := make([]jetstream.PubAckFuture, len(events))
	for i, e := range events {
		msg, err := b.message(e)
		if err != nil {
			errs[i] = err
			continue
		}
		if futures[i], err = b.js.PublishMsgAsync(msg, jetstream.WithMsgID(e.ID)); err != nil {
			errs[i] = cavra.Errorf(cavra.ErrUnavailable, "publish %s: %w", e.Type, err)
		}
	}
	for i, f := range futures {
		if f == nil {
			continue
		}
		select {
		case <-f.Ok():
		case err := <-f.Err():
			errs[i] = cavra.Errorf(cavra.ErrUnavailable, "publish %s: %w", events[i].Type, err)
		case <-ctx.Done():
			errs[i] = cavra.Errorf(cavra.ErrUnavailable, "publish %s: %w", events[i].Type, ctx.Err())
		}
	}
	return errs
}

// message validates e and encodes it as a message on its subject.
func (b *Bus) message(e cavra.Event) (*nats.Msg, error) {
	if e.ID == "" {
		return nil, cavra.Errorf(cavra.ErrInvalid, "event has no id")
	}
	if err := validToken(e.Tenant); err != nil {
		return nil, cavra.Errorf(cavra.ErrInvalid, "event tenant: %w", err)
	}
	for _, part := range strings.Split(string(e.Type), ".") {
		if err := validToken(part); err != nil {
			return nil, cavra.Errorf(cavra.ErrInvalid, "event type %q: %w", e.Type, err)
		}
	}
	data, err := json.Marshal(e)
	if err != nil {
		return nil, fmt.Errorf("encode event: %w", err)
	}
	msg := nats.NewMsg(b.Subject(e.Tenant, e.Type))
	msg.Data = data
	return msg, nil
}

// Filter selects events to follow.
type Filter struct {
	// Tenant restricts to one tenant; empty follows all.
	Tenant string
	// Type restricts to one event type; empty follows all.
	Type cavra.EventType
	// FromStart delivers stored events first; otherwise only new ones.
	FromStart bool
}

// Tail calls fn for each event matching f, in stream order, until ctx ends or fn fails.
func (b *Bus) Tail(ctx context.Context, f Filter, fn func(cavra.Event) error) error {
	tenant, typ := "*", ">"
	if f.Tenant != "" {
		if err := validToken(f.Tenant); err != nil {
			return cavra.Errorf(cavra.ErrInvalid, "tenant: %w", err)
		}
		tenant = f.Tenant
	}
	if f.Type != "" {
		typ = string(f.Type)
	}
	policy := jetstream.DeliverNewPolicy
	if f.FromStart {
		policy = jetstream.DeliverAllPolicy
	}
	cons, err := b.stream.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{b.cfg.SubjectPrefix + "." + tenant + "." + typ},
		DeliverPolicy:  policy,
	})
	if err != nil {
		return cavra.Errorf(cavra.ErrUnavailable, "follow events: %w", err)
	}
	for {
		msg, err := cons.Next(jetstream.FetchMaxWait(time.Second))
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			if errors.Is(err, jetstream.ErrNoMessages) || errors.Is(err, nats.ErrTimeout) {
				continue
			}
			return cavra.Errorf(cavra.ErrUnavailable, "next event: %w", err)
		}
		var e cavra.Event
		if err := json.Unmarshal(msg.Data(), &e); err != nil {
			b.log.Warn("skipping undecodable event", "subject", msg.Subject(), "err", err)
			continue
		}
		if err := fn(e); err != nil {
			return err
		}
		if ctx.Err() != nil {
			return nil
		}
	}
}

// Close drains the connection and stops the in-process server.
func (b *Bus) Close() error {
	var err error
	if b.nc != nil {
		err = b.nc.Drain()
	}
	if b.srv != nil {
		b.srv.Shutdown()
		b.srv.WaitForShutdown()
	}
	return err
}

// validToken checks that s can stand as one NATS subject token.
func validToken(s string) error {
	if s == "" {
		return errors.New("empty")
	}
	if strings.ContainsAny(s, ".*> \t\r\n") {
		return fmt.Errorf("%q may not contain '.', '*', '>' or whitespace", s)
	}
	return nil
}

// Ready reports whether the bus is connected, for the server's readiness check.
func (b *Bus) Ready() error {
	if b.nc == nil || !b.nc.IsConnected() {
		return cavra.Errorf(cavra.ErrUnavailable, "event bus not connected")
	}
	return nil
}
