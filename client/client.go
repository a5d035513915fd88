package client

import (
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"campfire/protocol"
)

// DefaultEventBuffer is the default capacity of the Events channel.
const DefaultEventBuffer = 1024

// Option configures Dial.
type Option func(*options)

type options struct {
	ids         protocol.IDRange
	maxBody     int
	dialer      *net.Dialer
	tls         *tls.Config
	eventBuffer int
}

// WithIDs makes Checkin and Direct check camp ids against r before sending
// them, failing with an error that wraps protocol.ErrBadArgs instead of
// asking the server. Without it ids are only checked to be one token, and
// the server decides.
func WithIDs(r protocol.IDRange) Option { return func(o *options) { o.ids = r } }

// WithMaxBody sets the largest response or event body accepted (default
// protocol.DefaultMaxBody). A larger one ends the connection.
func WithMaxBody(n int) Option { return func(o *options) { o.maxBody = n } }

// WithDialer dials with d, e.g. to set its LocalAddr or Timeout.
func WithDialer(d *net.Dialer) Option { return func(o *options) { o.dialer = d } }

// WithLocalIP dials from ip, so that load tests can spread their source
// addresses over 127.0.0.0/8.
func WithLocalIP(ip net.IP) Option {
	return func(o *options) { o.dialer = &net.Dialer{LocalAddr: &net.TCPAddr{IP: ip}} }
}

// WithTLS makes Dial speak TLS with cfg, to a TLS-terminating proxy in
// front of the server. An empty cfg.ServerName is taken from the address
// dialed, a name or an IP address that the proxy's certificate must hold.
// The handshake is part of Dial, bounded by its context and the dialer's
// Timeout.
func WithTLS(cfg *tls.Config) Option { return func(o *options) { o.tls = cfg } }

// WithEventBuffer sets the capacity of the Events channel (default
// DefaultEventBuffer; at least 1).
func WithEventBuffer(n int) Option { return func(o *options) { o.eventBuffer = max(n, 1) } }

// Client is one CAMP/1.0 connection. Its methods are safe for concurrent use.
type Client struct {
	conn    net.Conn
	ids     protocol.IDRange
	events  chan Event
	dropped atomic.Uint64
	done    chan struct{} // closed when the reader goroutine has finished

	// wmu serializes writes and keeps the queue in wire order.
	wmu    sync.Mutex
	wbuf   []byte
	nextID uint64

	// mu guards the fields below, which the reader goroutine shares with
	// the callers.
	mu      sync.Mutex
	pending []*call // waiters in the order their requests were written
	cause   error   // why the connection ended or is ending, first one wins
	ended   bool    // no more calls can succeed: reader done, or SHUTDOWN seen
}

// call is one request waiting for its response.
type call struct {
	id   string
	resp chan response // buffered: the reader never blocks on a caller
}

// response is a copy of a response frame, or the error that ended the wait.
type response struct {
	code   int
	reason string
	frame  protocol.Frame // Head and Body only, copied out of the reader
	err    error
}

// Dial connects to a CAMP/1.0 server at addr (with WithTLS, to the TLS
// proxy in front of it) and starts the reader. The connection is not
// checked in yet.
func Dial(ctx context.Context, addr string, opts ...Option) (*Client, error) {
	o := options{eventBuffer: DefaultEventBuffer}
	for _, opt := range opts {
		opt(&o)
	}
	d := o.dialer
	if d == nil {
		d = &net.Dialer{}
	}
	var conn net.Conn
	var err error
	if o.tls != nil {
		td := tls.Dialer{NetDialer: d, Config: o.tls}
		conn, err = td.DialContext(ctx, "tcp", addr)
	} else {
		conn, err = d.DialContext(ctx, "tcp", addr)
	}
	if err != nil {
		// net.OpError already reads "dial tcp ADDR: ...", and a failed
		// handshake says what crypto/tls or x509 refused.
		return nil, err
	}
	c := &Client{
		conn:   conn,
		ids:    o.ids,
		events: make(chan Event, o.eventBuffer),
		done:   make(chan struct{}),
	}
	go c.read(protocol.NewReader(conn, o.maxBody))
	return c, nil
}

// Events returns the channel of events. It is closed when the connection
// ends. The reader goroutine never waits for the consumer: an event that
// finds the channel full is dropped and counted by Dropped, so a consumer
// that cares must read promptly or ask for a larger buffer.
func (c *Client) Events() <-chan Event { return c.events }

// Dropped returns how many events were dropped because Events was full.
func (c *Client) Dropped() uint64 { return c.dropped.Load() }

// LocalAddr returns the local address of the connection.
func (c *Client) LocalAddr() net.Addr { return c.conn.LocalAddr() }

// Done returns a channel that is closed when the connection has ended and
// the reader has stopped.
func (c *Client) Done() <-chan struct{} { return c.done }

// Err returns why the connection ended (wrapping ErrClosed), or nil while
// it is open.
func (c *Client) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.ended {
		return nil
	}
	return closedError(c.cause)
}

// Close closes the connection without checking out (the server treats that
// as a checkout) and waits for the reader to stop. Pending calls fail with
// ErrClosed wrapping ErrClientClosed.
func (c *Client) Close() error {
	c.shut(ErrClientClosed)
	<-c.done
	return nil
}

// shut records cause, unless there is one already, and closes the socket,
// which makes the reader finish.
func (c *Client) shut(cause error) {
	c.mu.Lock()
	if c.cause == nil {
		c.cause = cause
	}
	c.mu.Unlock()
	c.conn.Close()
}

// Checkin checks in as id and returns the group the server put it in.
func (c *Client) Checkin(ctx context.Context, id string) (group int, err error) {
	if err := c.checkID(id); err != nil {
		return 0, err
	}
	r, err := c.do(ctx, protocol.MethodCheckin, id, nil)
	if err != nil {
		return 0, err
	}
	return r.intHeader(protocol.HeaderGroup)
}

// Checkout checks out and returns how long the server says the camper was
// checked in (its Active header). The connection is closed afterwards,
// whatever the outcome.
func (c *Client) Checkout(ctx context.Context) (active time.Duration, err error) {
	r, err := c.do(ctx, protocol.MethodCheckout, "", nil)
	c.shut(ErrClientClosed)
	<-c.done
	if err != nil {
		return 0, err
	}
	v := r.frame.Header(protocol.HeaderActive)
	secs, perr := strconv.ParseFloat(string(v), 64)
	if perr != nil || secs < 0 {
		return 0, fmt.Errorf("%w: Active header %q", ErrProtocol, v)
	}
	return time.Duration(secs * float64(time.Second)).Round(time.Millisecond), nil
}

// Mission returns the keywords of day's mission, such as "Heap, Stack".
func (c *Client) Mission(ctx context.Context, day int) (keywords string, err error) {
	r, err := c.do(ctx, protocol.MethodMission, strconv.Itoa(day), nil)
	if err != nil {
		return "", err
	}
	return string(r.frame.Body), nil
}

// PeerSession starts a peer session of at most max messages in the group.
// The PeerSession event follows on Events.
func (c *Client) PeerSession(ctx context.Context, max int) error {
	_, err := c.do(ctx, protocol.MethodPeerSession, strconv.Itoa(max), nil)
	return err
}

// Complete ends the peer session this camper started.
func (c *Client) Complete(ctx context.Context) error {
	_, err := c.do(ctx, protocol.MethodComplete, "", nil)
	return err
}

// Message sends text to the others in the group's peer session and returns
// how many messages the session still accepts.
func (c *Client) Message(ctx context.Context, text string) (remaining int, err error) {
	r, err := c.do(ctx, protocol.MethodMessage, "", []byte(text))
	if err != nil {
		return 0, err
	}
	return r.intHeader(protocol.HeaderRemaining)
}

// Direct sends text to camper id, in any group.
func (c *Client) Direct(ctx context.Context, id, text string) error {
	if err := c.checkID(id); err != nil {
		return err
	}
	_, err := c.do(ctx, protocol.MethodDirect, id, []byte(text))
	return err
}

// Ping checks that the server answers.
func (c *Client) Ping(ctx context.Context) error {
	_, err := c.do(ctx, protocol.MethodPing, "", nil)
	return err
}

// Help returns the server's list of requests.
func (c *Client) Help(ctx context.Context) (string, error) {
	r, err := c.do(ctx, protocol.MethodHelp, "", nil)
	if err != nil {
		return "", err
	}
	return string(r.frame.Body), nil
}

// checkID rejects an id that would not travel as one token on the start
// line, and, with WithIDs, one outside the range.
func (c *Client) checkID(id string) error {
	if id == "" {
		return fmt.Errorf("%w: empty camp id", protocol.ErrBadArgs)
	}
	for i := range len(id) {
		if id[i] <= ' ' || id[i] >= 0x7f {
			return fmt.Errorf("%w: camp id %q is not one token", protocol.ErrBadArgs, id)
		}
	}
	if c.ids.Digits > 0 {
		if _, err := c.ids.Parse([]byte(id)); err != nil {
			return err
		}
	}
	return nil
}

// do sends one request and waits for its response. A non-200 response is a
// *StatusError.
func (c *Client) do(ctx context.Context, m protocol.Method, args string, body []byte) (response, error) {
	if err := ctx.Err(); err != nil {
		return response{}, err
	}
	cl := &call{resp: make(chan response, 1)}
	if err := c.send(ctx, cl, m, args, body); err != nil {
		return response{}, err
	}
	select {
	case r := <-cl.resp:
		if r.err != nil {
			return r, r.err
		}
		if r.code != protocol.StatusOK {
			return r, &StatusError{Code: r.code, Reason: r.reason, Message: string(r.frame.Body)}
		}
		return r, nil
	case <-ctx.Done():
		// The waiter stays queued: the reader will consume its response and
		// drop it into the buffered channel nobody reads.
		return response{}, ctx.Err()
	}
}

// send queues cl and writes its request, both under wmu so that the queue
// is in wire order.
func (c *Client) send(ctx context.Context, cl *call, m protocol.Method, args string, body []byte) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	c.nextID++
	c.wbuf = protocol.AppendRequest(c.wbuf[:0], m, []byte(args))
	idStart := len(c.wbuf) + len(protocol.HeaderID) + 2
	c.wbuf = protocol.AppendHeader(c.wbuf, protocol.HeaderID, strconv.AppendUint(nil, c.nextID, 10))
	cl.id = string(c.wbuf[idStart : len(c.wbuf)-2])
	c.wbuf = protocol.AppendBody(c.wbuf, body)

	c.mu.Lock()
	if c.ended {
		err := closedError(c.cause)
		c.mu.Unlock()
		return err
	}
	c.pending = append(c.pending, cl)
	c.mu.Unlock()

	if err := c.write(ctx, c.wbuf); err != nil {
		// A partial frame cannot be taken back: the stream is lost.
		c.shut(err)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return closedError(err)
	}
	return nil
}

// write writes b, giving up when ctx ends.
func (c *Client) write(ctx context.Context, b []byte) error {
	if ctx.Done() == nil {
		_, err := c.conn.Write(b)
		return err
	}
	fired := make(chan struct{})
	stop := context.AfterFunc(ctx, func() {
		c.conn.SetWriteDeadline(time.Unix(1, 0))
		close(fired)
	})
	_, err := c.conn.Write(b)
	if !stop() {
		<-fired
		c.conn.SetWriteDeadline(time.Time{})
		if err != nil {
			err = fmt.Errorf("write interrupted: %w", context.Cause(ctx))
		}
	}
	return err
}

// read is the reader goroutine: it hands responses to waiters and events
// to the Events channel until the connection ends.
func (c *Client) read(r *protocol.Reader) {
	var err error
	for err == nil {
		var f *protocol.Frame
		f, err = r.Next()
		if err == nil {
			err = c.dispatch(f)
		}
	}
	c.finish(err)
}

// dispatch handles one frame; an error ends the connection.
func (c *Client) dispatch(f *protocol.Frame) error {
	if name, arg, ok := f.Event(); ok {
		c.event(name, arg, f)
		return nil
	}
	code, ok := f.Status()
	if !ok {
		return fmt.Errorf("%w: bad status line %q", ErrProtocol, f.Start)
	}
	id := f.Header(protocol.HeaderID)
	if id == nil {
		// Every request carries an Id, so a response without one answers
		// none of them: it is an error the server sends before closing,
		// such as 503 when it is full, and it ends the connection.
		if code != protocol.StatusOK {
			return c.statusError(code, f)
		}
		return fmt.Errorf("%w: response without an Id: %q", ErrProtocol, f.Start)
	}
	c.mu.Lock()
	if len(c.pending) == 0 {
		c.mu.Unlock()
		return fmt.Errorf("%w: response Id %q with no request waiting", ErrProtocol, id)
	}
	cl := c.pending[0]
	if string(id) != cl.id {
		c.mu.Unlock()
		return fmt.Errorf("%w: response Id %q, want %q", ErrProtocol, id, cl.id)
	}
	c.pending[0] = nil
	c.pending = c.pending[1:]
	c.mu.Unlock()

	resp := response{code: code, reason: reasonOf(f.Start)}
	// One allocation holds the header block and the body, which the Reader
	// reuses after this returns.
	kept := make([]byte, 0, len(f.Head)+len(f.Body))
	kept = append(kept, f.Head...)
	kept = append(kept, f.Body...)
	resp.frame.Head, resp.frame.Body = kept[:len(f.Head)], kept[len(f.Head):]
	cl.resp <- resp
	return nil
}

// statusError builds the *StatusError of a response.
func (c *Client) statusError(code int, f *protocol.Frame) error {
	return &StatusError{Code: code, Reason: reasonOf(f.Start), Message: string(f.Body)}
}

// reasonOf returns the reason phrase of a status line.
func reasonOf(start []byte) string {
	rest := start[len(protocol.Version)+1:]
	_, reason, _ := bytes.Cut(rest, []byte{' '})
	return string(bytes.TrimSpace(reason))
}

// event delivers one event without ever blocking the reader.
func (c *Client) event(name, arg []byte, f *protocol.Frame) {
	ev := Event{Kind: kindOf(name), From: string(arg)}
	switch ev.Kind {
	case 0:
		// Not in the contract: skipped, so that a newer server does not
		// break this client.
		return
	case Shutdown:
		c.mu.Lock()
		if c.cause == nil {
			c.cause = ErrShutdown
		}
		c.ended = true
		c.mu.Unlock()
	}
	if g := f.Header(protocol.HeaderGroup); g != nil {
		ev.Group, _ = strconv.Atoi(string(g))
	}
	if m := f.Header(protocol.HeaderMaxCount); m != nil {
		ev.MaxCount, _ = strconv.Atoi(string(m))
	}
	if r := f.Header(protocol.HeaderReason); r != nil {
		ev.Reason = string(r)
	}
	if len(f.Body) > 0 {
		ev.Text = string(f.Body)
	}
	select {
	case c.events <- ev:
	default:
		c.dropped.Add(1)
	}
}

// finish runs when the reader stops: every pending call fails, later calls
// fail at once, and Events is closed.
func (c *Client) finish(err error) {
	c.conn.Close()
	c.mu.Lock()
	if c.cause == nil {
		c.cause = err
	}
	c.ended = true
	pending := c.pending
	c.pending = nil
	closed := closedError(c.cause)
	c.mu.Unlock()
	for _, cl := range pending {
		cl.resp <- response{err: closed}
	}
	close(c.events)
	close(c.done)
}

// intHeader returns a response header as an int.
func (r *response) intHeader(name string) (int, error) {
	v := r.frame.Header(name)
	n, err := strconv.Atoi(string(v))
	if err != nil {
		return 0, fmt.Errorf("%w: %s header %q", ErrProtocol, name, v)
	}
	return n, nil
}
