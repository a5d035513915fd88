package client

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/ergochat/readline"

	"campfire/protocol"
)

// callTimeout bounds every request the terminal client makes, so that a
// server that stops answering cannot hang it.
const callTimeout = 10 * time.Second

const commandHelp = `commands:
  mission N          the mission keywords of day N
  peersession N      start a peer session of N messages in your group
  complete           end the peer session you started
  message TEXT       say TEXT in your group's peer session (plain text works too)
  direct ID TEXT     send TEXT to camper ID
  checkout           check out and quit (so do quit, Ctrl-D and Ctrl-C)
  help               this list`

// Main is `campfire client`: it checks in to a server and runs commands
// typed on stdin until checkout, then prints how long the camper was checked
// in. On a terminal it uses readline (prompt, history, colours, events
// above the line being typed); otherwise it reads plain lines and prints
// plain text. It returns the exit status: 0 after a checkout, 1 when the
// server refused or went away, 2 for bad flags.
func Main(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("campfire client", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("addr", "127.0.0.1:2022", "server `HOST:PORT`")
	id := fs.String("id", "", "camp `ID` to check in as; asked for when empty")
	ids := protocol.DefaultIDs()
	fs.Var(&ids, "ids", "range of valid camp `IDS`")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: campfire client [flags]\n\n%s\n\nflags:\n", commandHelp)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "campfire client: unexpected arguments %q\n", fs.Args())
		return 2
	}
	if *id != "" {
		if _, err := ids.Parse([]byte(*id)); err != nil {
			fmt.Fprintf(stderr, "campfire client: -id: %v\n", err)
			return 2
		}
	}

	var u ui = newPlainUI(stdin, stdout)
	interactive := false
	if in, out, ok := terminals(stdin, stdout); ok {
		tu, err := newTermUI(in, out, stderr)
		if err != nil {
			fmt.Fprintf(stderr, "campfire client: %v\n", err)
			return 1
		}
		u, interactive = tu, true
	}

	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	if interactive {
		// Ctrl-C outside a read (while a request runs) also checks out.
		ctx, stop = signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
		defer stop()
	}
	s := &session{
		ctx:         ctx,
		u:           u,
		lines:       newLineReader(u),
		ids:         ids,
		interactive: interactive,
	}
	defer s.lines.close()
	return s.run(*addr, *id)
}

// terminals returns stdin and stdout as files if both are terminals.
func terminals(stdin io.Reader, stdout io.Writer) (*os.File, *os.File, bool) {
	in, ok1 := stdin.(*os.File)
	out, ok2 := stdout.(*os.File)
	if !ok1 || !ok2 || !isTerminal(in) || !isTerminal(out) {
		return nil, nil, false
	}
	return in, out, true
}

// session is one run of the terminal client.
type session struct {
	ctx         context.Context // canceled by a signal
	u           ui
	lines       *lineReader
	ids         protocol.IDRange
	interactive bool

	c     *Client
	id    string
	since time.Time // when the check-in reply arrived
}

func (s *session) run(addr, id string) int {
	dctx, cancel := context.WithTimeout(s.ctx, callTimeout)
	c, err := Dial(dctx, addr)
	cancel()
	if err != nil {
		s.u.print(styleError, fmt.Sprintf("cannot reach the server: %v", err))
		return 1
	}
	s.c = c
	defer c.Close()

	if code := s.checkin(id); code >= 0 {
		return code
	}
	if s.interactive {
		s.u.print(styleInfo, "type help for the commands")
	}
	return s.loop()
}

// checkin checks in as id, or as the ids asked for, until the server
// accepts one. It returns -1 on success, else the exit status.
func (s *session) checkin(id string) int {
	fromFlag := id != ""
	for {
		if id == "" {
			l := s.lines.next("camp id: ")
			if l.err != nil {
				s.u.print(styleError, "no camp id given")
				return 1
			}
			id = strings.TrimSpace(l.text)
			if id == "" {
				continue
			}
			if _, err := s.ids.Parse([]byte(id)); err != nil {
				s.u.print(styleError, describe(err))
				id = ""
				continue
			}
		}
		ctx, cancel := context.WithTimeout(s.ctx, callTimeout)
		group, err := s.c.Checkin(ctx, id)
		cancel()
		if err == nil {
			s.since = time.Now()
			s.id = strings.ToUpper(id)
			s.u.print(styleInfo, fmt.Sprintf("checked in as %s in group %d", s.id, group))
			return -1
		}
		s.u.print(styleError, describe(err))
		switch code := StatusCode(err); {
		case code == protocol.StatusBadRequest || code == protocol.StatusConflict:
			// A person at a terminal can try another id; a script
			// whose -id was refused cannot.
			if fromFlag && !s.interactive {
				return 1
			}
			id, fromFlag = "", false
		default:
			return 1
		}
	}
}

// loop runs commands and prints events until checkout or the end of the
// connection.
func (s *session) loop() int {
	prompt := s.id + "> "
	s.lines.ask(prompt)
	for {
		select {
		case ev, ok := <-s.c.Events():
			if !ok {
				return s.gone()
			}
			s.printEvent(ev)
		case l := <-s.lines.got:
			if l.err != nil {
				if !errors.Is(l.err, io.EOF) && !errors.Is(l.err, readline.ErrInterrupt) {
					s.u.print(styleError, fmt.Sprintf("reading input: %v", l.err))
				}
				return s.checkout()
			}
			if code, done := s.command(l.text); done {
				return code
			}
			s.settle()
			s.lines.ask(prompt)
		case <-s.ctx.Done():
			return s.checkout()
		}
	}
}

// settle waits until the events the last command caused have arrived and
// prints them, so that they show before the next prompt (and in the same
// place in every run of a script): the server sends a request's events
// before the response to the next request, so a ping is a barrier.
func (s *session) settle() {
	ctx, cancel := context.WithTimeout(s.ctx, callTimeout)
	defer cancel()
	if s.c.Ping(ctx) != nil {
		return // the loop learns why from the closed Events channel
	}
	for {
		select {
		case ev, ok := <-s.c.Events():
			if !ok {
				return
			}
			s.printEvent(ev)
		default:
			return
		}
	}
}

// gone reports a connection that ended without a checkout.
func (s *session) gone() int {
	err := s.c.Err()
	switch {
	case errors.Is(err, ErrShutdown):
		s.u.print(styleError, "the server shut down; you are checked out")
	default:
		s.u.print(styleError, fmt.Sprintf("lost the connection to the server: %v", err))
	}
	return 1
}

// command runs one line. done is true when the session is over.
func (s *session) command(text string) (code int, done bool) {
	text = strings.TrimSpace(text)
	if text == "" {
		return 0, false
	}
	name, rest, _ := strings.Cut(text, " ")
	rest = strings.TrimSpace(rest)
	switch strings.ToLower(name) {
	case "checkout", "quit", "exit":
		return s.checkout(), true
	case "help":
		s.u.print(styleInfo, commandHelp)
		return 0, false
	case "checkin":
		s.u.print(styleError, fmt.Sprintf("already checked in as %s", s.id))
		return 0, false
	}
	m := protocol.LookupMethod([]byte(name))
	switch m {
	case protocol.MethodMission, protocol.MethodPeerSession, protocol.MethodComplete,
		protocol.MethodMessage, protocol.MethodDirect, protocol.MethodPing:
	default:
		// Anything that is not a command is said in the peer session.
		m, rest = protocol.MethodMessage, text
	}
	req := protocol.Request{Method: m, Name: []byte(name), Args: []byte(rest)}
	args, err := protocol.ParseArgs(&req, s.ids)
	if err != nil {
		s.u.print(styleError, describe(err))
		return 0, false
	}
	ctx, cancel := context.WithTimeout(s.ctx, callTimeout)
	defer cancel()
	var out string
	switch m {
	case protocol.MethodMission:
		var kw string
		kw, err = s.c.Mission(ctx, args.Day)
		out = fmt.Sprintf("mission of day %d: %s", args.Day, kw)
	case protocol.MethodPeerSession:
		err = s.c.PeerSession(ctx, args.Max)
	case protocol.MethodComplete:
		err = s.c.Complete(ctx)
	case protocol.MethodMessage:
		var left int
		left, err = s.c.Message(ctx, string(args.Text))
		out = fmt.Sprintf("sent; the session takes %d more", left)
		if left == 0 {
			out = "sent; that was the session's last message"
		}
	case protocol.MethodDirect:
		id := s.ids.Format(args.ID)
		err = s.c.Direct(ctx, id, string(args.Text))
		out = "sent to " + id
	case protocol.MethodPing:
		err = s.c.Ping(ctx)
		out = "pong"
	}
	switch {
	case err != nil:
		s.u.print(styleError, describe(err))
	case out != "":
		s.u.print(styleInfo, out)
	}
	return 0, false
}

// checkout checks out and prints how long the camper was checked in, as
// measured here from the check-in reply to the checkout reply.
func (s *session) checkout() int {
	// The session's context may be the one a signal canceled.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(s.ctx), callTimeout)
	defer cancel()
	_, err := s.c.Checkout(ctx)
	if err != nil {
		if errors.Is(err, ErrClosed) {
			return s.gone()
		}
		s.u.print(styleError, describe(err))
		return 1
	}
	s.u.print(styleInfo, "checked in for "+roundDuration(time.Since(s.since)))
	return 0
}

// roundDuration rounds d for people: whole seconds, or tenths under ten
// seconds.
func roundDuration(d time.Duration) string {
	if d < 10*time.Second {
		return d.Round(100 * time.Millisecond).String()
	}
	return d.Round(time.Second).String()
}

// describe turns a call's error into a line for the user.
func describe(err error) string {
	return "error: " + strings.TrimPrefix(err.Error(), protocol.ErrBadArgs.Error()+": ")
}

// printEvent prints one event for people.
func (s *session) printEvent(ev Event) {
	var text string
	switch ev.Kind {
	case Joined:
		text = fmt.Sprintf("* %s joined group %d", ev.From, ev.Group)
	case Left:
		text = fmt.Sprintf("* %s left group %d", ev.From, ev.Group)
	case PeerSession:
		text = fmt.Sprintf("* %s started a peer session of %s", ev.From, plural(ev.MaxCount, "message"))
	case Complete:
		why := map[string]string{
			protocol.ReasonHost:     "ended by its host",
			protocol.ReasonLimit:    "all messages sent",
			protocol.ReasonHostLeft: "its host left",
		}[ev.Reason]
		if why == "" {
			why = ev.Reason
		}
		text = fmt.Sprintf("* the peer session of %s is complete: %s", ev.From, why)
	case Message:
		text = fmt.Sprintf("%s: %s", ev.From, indent(ev.Text))
	case Direct:
		text = fmt.Sprintf("%s (direct): %s", ev.From, indent(ev.Text))
	case Shutdown:
		text = "* the server is shutting down"
	}
	s.u.print(styleEvent, text)
}

// indent lines up the continuation lines of a multi-line text.
func indent(text string) string {
	text = strings.ReplaceAll(text, "\r\n", "\n")
	return strings.ReplaceAll(text, "\n", "\n    ")
}

// plural returns "1 message", "2 messages".
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}
