package client

import (
	"bufio"
	"io"
	"strings"
	"sync"

	"github.com/ergochat/readline"
)

// style is how a line of output is shown on a terminal.
type style uint8

const (
	styleInfo  style = iota + 1 // results of commands
	styleEvent                  // events from the server
	styleError                  // errors, local or from the server
)

// ui is the terminal client's input and output: readline on a terminal,
// plain lines otherwise. Its methods may be called from one goroutine at a
// time, except print, which is safe at any time.
type ui interface {
	// read returns the next line typed after prompt, io.EOF at the end of
	// input, or readline.ErrInterrupt on Ctrl-C.
	read(prompt string) (string, error)
	print(s style, text string)
	// close interrupts a read in progress where the input allows it.
	close()
}

// plainUI reads lines from any reader and prints plain text: no prompt, no
// colours, so that output can be compared and piped.
type plainUI struct {
	in  *bufio.Reader
	mu  sync.Mutex
	out io.Writer
}

func newPlainUI(stdin io.Reader, stdout io.Writer) *plainUI {
	return &plainUI{in: bufio.NewReader(stdin), out: stdout}
}

func (u *plainUI) read(string) (string, error) {
	line, err := u.in.ReadString('\n')
	if err != nil && (line == "" || err != io.EOF) {
		return "", err
	}
	return strings.TrimRight(line, "\r\n"), nil
}

func (u *plainUI) print(_ style, text string) {
	u.mu.Lock()
	defer u.mu.Unlock()
	io.WriteString(u.out, text+"\n")
}

// close cannot interrupt a blocked read of a plain reader; the line reader
// goroutine ends at the next line or the end of input.
func (u *plainUI) close() {}

// termUI is readline on a terminal: history, colours, and events printed
// above the prompt with the half-typed line redrawn below them.
type termUI struct {
	rl *readline.Instance
}

func newTermUI(stdin io.Reader, stdout, stderr io.Writer) (*termUI, error) {
	rl, err := readline.NewFromConfig(&readline.Config{
		Stdin:          stdin,
		Stdout:         stdout,
		Stderr:         stderr,
		FuncIsTerminal: func() bool { return true },
	})
	if err != nil {
		return nil, err
	}
	return &termUI{rl: rl}, nil
}

const (
	ansiReset = "\x1b[0m"
	ansiBold  = "\x1b[1m"
	ansiRed   = "\x1b[31m"
	ansiGreen = "\x1b[32m"
	ansiCyan  = "\x1b[36m"
)

func (u *termUI) read(prompt string) (string, error) {
	u.rl.SetPrompt(ansiBold + ansiGreen + prompt + ansiReset)
	return u.rl.ReadLine()
}

func (u *termUI) print(s style, text string) {
	color := ""
	switch s {
	case styleEvent:
		color = ansiCyan
	case styleError:
		color = ansiRed
	}
	if color != "" {
		text = color + text + ansiReset
	}
	io.WriteString(u.rl.Stdout(), text+"\n")
}

func (u *termUI) close() { u.rl.Close() }

// line is one result of a ui read.
type line struct {
	text string
	err  error
}

// lineReader reads lines on its own goroutine, one per request, so that the
// session can wait for a line and for events at the same time. It reads
// only when asked, so no prompt is shown while a command runs.
type lineReader struct {
	u    ui
	want chan string // a prompt: read one line
	got  chan line
	stop chan struct{}
	done chan struct{}
}

func newLineReader(u ui) *lineReader {
	lr := &lineReader{
		u:    u,
		want: make(chan string),
		got:  make(chan line),
		stop: make(chan struct{}),
		done: make(chan struct{}),
	}
	go lr.run()
	return lr
}

func (lr *lineReader) run() {
	defer close(lr.done)
	for {
		var prompt string
		select {
		case prompt = <-lr.want:
		case <-lr.stop:
			return
		}
		text, err := lr.u.read(prompt)
		select {
		case lr.got <- line{text, err}:
		case <-lr.stop:
			return
		}
		if err != nil {
			return
		}
	}
}

// ask starts reading one line; the result arrives on got.
func (lr *lineReader) ask(prompt string) {
	select {
	case lr.want <- prompt:
	case <-lr.done:
	}
}

// next reads one line, waiting for it.
func (lr *lineReader) next(prompt string) line {
	lr.ask(prompt)
	select {
	case l := <-lr.got:
		return l
	case <-lr.done:
		return line{err: io.EOF}
	}
}

// close stops the goroutine, interrupting its read where the ui can.
func (lr *lineReader) close() {
	close(lr.stop)
	lr.u.close()
}
