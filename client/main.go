package client

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/ergochat/readline"

	"campfire/internal/cli"
	"campfire/internal/tlsflag"
	"campfire/protocol"
)

// callTimeout bounds every request the terminal client makes, so that a
// server that stops answering cannot hang it.
const callTimeout = 10 * time.Second

const commandHelp = `commands, bare or after a slash (mission 4 or /mission 4):
  mission N          the mission keywords of day N
  peersession N      start a peer session of N messages in your group
  complete           end the peer session you started
  message TEXT       say TEXT in your group's peer session (or /say TEXT, /msg TEXT)
  direct ID TEXT     send TEXT to camper ID
  ping               check that the server answers
  checkout           check out and quit (so do quit, exit, Ctrl-D and Ctrl-C)
  help               this list
Any other line is said in the peer session, but a line that may be a
mistyped command (or is one word while no session runs) is held with a
question: Enter sends it, y runs the command it resembles, n drops it.`

// aboutClient is what client -h says before the flags.
const aboutClient = `Check in to a CAMP/1.0 server and talk from a terminal (with history,
and events printed above the line being typed), or from a pipe, one
command a line, printing plain text. With -tls it speaks TLS to a
TLS-terminating proxy in front of the server (see docs/deploy).

` + commandHelp

// Main is `campfire client`: it checks in to a server and runs commands
// typed on stdin until checkout, then prints how long the camper was checked
// in. On a terminal it uses readline (prompt, history, colours, events
// above the line being typed); otherwise it reads plain lines and prints
// plain text. It returns the exit status: 0 after a checkout, 1 when the
// server refused or went away, 2 for bad flags.
func Main(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	cmd := cli.New("campfire client", aboutClient, stdout, stderr)
	fs := cmd.Flags
	addr := fs.String("addr", "127.0.0.1:2022", "server `HOST:PORT`")
	id := fs.String("id", "", "camp `ID` to check in as; asked for when empty")
	ids := protocol.DefaultIDs()
	fs.Var(&ids, "ids", "valid camp ids: a `RANGE` such as J001-J384 (the server's -ids)")
	var tf tlsflag.Flags
	tf.Register(fs)
	if code, ok := cmd.Parse(args); !ok {
		return code
	}
	tlsConf, err := tf.Config()
	if err != nil {
		return cmd.Usagef("%v", err)
	}
	tf.Warn(stderr)
	if *id != "" {
		if _, err := ids.Parse([]byte(*id)); err != nil {
			return cmd.Usagef("-id: %s", plain(err))
		}
	}

	var u ui = newPlainUI(stdin, stdout)
	interactive := false
	if in, out, ok := terminals(stdin, stdout); ok {
		tu, err := newTermUI(in, out, stderr)
		if err != nil {
			return cmd.Errorf("%v", err)
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
	if tlsConf != nil {
		s.dialOpts = append(s.dialOpts, WithTLS(tlsConf))
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
	dialOpts    []Option

	c     *Client
	id    string
	since time.Time // when the check-in reply arrived
	// inSession is whether a peer session is known to run in the group,
	// from its events and from the answers to messages.
	inSession bool
	// asked is a line held back by a question; the next line answers it.
	asked *question
}

// question is a typed line that may be a typo of a command, held until the
// user says what it was.
type question struct {
	text       string // the line as typed, sent as a message on Enter
	suggestion string // the command it may be a typo of, run on y; or ""
}

func (s *session) run(addr, id string) int {
	dctx, cancel := context.WithTimeout(s.ctx, callTimeout)
	c, err := Dial(dctx, addr, s.dialOpts...)
	cancel()
	if err != nil {
		msg := fmt.Sprintf("cannot reach the server: %v", err)
		if _, ok := errors.AsType[tls.RecordHeaderError](err); ok {
			msg += " (it does not speak TLS: drop -tls, or give -addr the TLS proxy's address)"
		}
		s.u.print(styleError, msg)
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

// command runs one typed line. done is true when the session is over.
//
// A line is a command when its first word is one, bare or after a slash;
// /say and /msg send the rest as a message. Any other line is a message,
// except one that may be a typo: a first word close to a command's name,
// a bare command whose arguments do not parse (a sentence such as
// "mission accomplished"), or a single word while no session is known to
// run. Such a line is held with a question and nothing is sent until the
// next line answers it: Enter sends it as a message, y runs the command it
// resembles, n drops it, and anything else drops it and runs instead.
func (s *session) command(text string) (code int, done bool) {
	text = strings.TrimSpace(text)
	if q := s.asked; q != nil {
		s.asked = nil
		switch strings.ToLower(text) {
		case "":
			return s.request(protocol.MethodMessage, q.text, "")
		case "y", "yes":
			if q.suggestion != "" {
				text = q.suggestion
			}
		case "n", "no":
			s.u.print(styleInfo, "not sent")
			return 0, false
		}
	}
	if text == "" {
		return 0, false
	}
	if cmd, ok := strings.CutPrefix(text, "/"); ok {
		name, rest := firstWord(cmd)
		switch {
		case name == "say" || name == "msg":
			return s.request(protocol.MethodMessage, rest, "")
		case isCommand(name):
			return s.local(name, rest, "")
		}
		msg := fmt.Sprintf("error: unknown command /%s; type help for the commands, or /say TEXT", name)
		if near := nearestCommand(name); near != "" {
			msg = fmt.Sprintf("error: unknown command /%s; did you mean /%s?", name, near)
		}
		s.u.print(styleError, msg)
		return 0, false
	}
	name, rest := firstWord(text)
	if isCommand(name) {
		return s.local(name, rest, text)
	}
	if near := nearestCommand(name); near != "" {
		suggestion := near
		if takesArgs(near) {
			suggestion = strings.TrimSpace(near + " " + rest)
		}
		s.ask(question{text: text, suggestion: suggestion},
			fmt.Sprintf("did you mean `%s`? (y runs it; press Enter to send your line as a message)", suggestion))
		return 0, false
	}
	if rest == "" && !s.inSession {
		s.ask(question{text: text},
			fmt.Sprintf("%q is not a command and no peer session is known to run (press Enter to send it as a message; help lists the commands)", text))
		return 0, false
	}
	return s.request(protocol.MethodMessage, text, "")
}

// ask holds a line until the next one answers the question.
func (s *session) ask(q question, text string) {
	s.asked = &q
	s.u.print(styleInfo, text)
}

// local runs the command name with its arguments. bare is the whole
// line when the command was typed without a slash: arguments that do not
// fit the command then make it a question (the line may be a sentence,
// such as "mission accomplished"), not an error.
func (s *session) local(name, rest, bare string) (code int, done bool) {
	switch name {
	case "checkout", "quit", "exit", "help":
		if rest != "" {
			return s.wrong(name+" takes no arguments", bare)
		}
		if name == "help" {
			s.u.print(styleInfo, commandHelp)
			return 0, false
		}
		return s.checkout(), true
	case "checkin":
		s.u.print(styleError, "error: already checked in as "+s.id)
		return 0, false
	}
	return s.request(protocol.LookupMethod([]byte(name)), rest, bare)
}

// wrong reports arguments that do not fit a command: an error, or for a
// bare command that takes no text (not message or direct, whose mistakes
// are in what they were clearly meant to send) a question, since the line
// may be a sentence.
func (s *session) wrong(why, bare string) (code int, done bool) {
	name, _ := firstWord(bare)
	if bare == "" || name == "message" || name == "direct" {
		s.u.print(styleError, "error: "+why)
		return 0, false
	}
	s.ask(question{text: bare}, fmt.Sprintf("not a command: %s (press Enter to send your line as a message)", why))
	return 0, false
}

// request makes request m with its arguments as typed (for a message, the
// text) and prints the outcome. bare is as for local.
func (s *session) request(m protocol.Method, rest, bare string) (code int, done bool) {
	req := protocol.Request{Method: m, Name: []byte(m.String()), Args: []byte(rest)}
	args, err := protocol.ParseArgs(&req, s.ids)
	if err != nil {
		return s.wrong(plain(err), bare)
	}
	ctx, cancel := context.WithTimeout(s.ctx, callTimeout)
	defer cancel()
	var out string
	switch m {
	case protocol.MethodMission:
		if args.Day == math.MaxInt || args.Day == -math.MaxInt {
			// Too large for an int: no mission, and the server would name
			// the clamped number rather than the one typed.
			s.u.print(styleError, "error: no mission for day "+strings.TrimSpace(trimDay(rest)))
			return 0, false
		}
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
		s.inSession = err == nil && left > 0
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

// trimDay drops the "day" a mission's argument may start with.
func trimDay(arg string) string {
	if len(arg) >= 3 && strings.EqualFold(arg[:3], "day") {
		return arg[3:]
	}
	return arg
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
func describe(err error) string { return "error: " + plain(err) }

// plain is err's text without the "bad arguments: " of protocol.ErrBadArgs,
// which says nothing to a person.
func plain(err error) string {
	return strings.TrimPrefix(err.Error(), protocol.ErrBadArgs.Error()+": ")
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
		s.inSession = true
		text = fmt.Sprintf("* %s started a peer session of %s", ev.From, plural(ev.MaxCount, "message"))
	case Complete:
		s.inSession = false
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
