package main

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
)

// printer writes whole lines, one write per line, so output of servers that
// run in parallel never interleaves half-lines. Colors only on a TTY, and
// never with NO_COLOR set.
type printer struct {
	mu    sync.Mutex
	w     io.Writer
	color bool
}

func newPrinter(w io.Writer) *printer {
	return &printer{w: w, color: useColor(w)}
}

func useColor(w io.Writer) bool {
	if _, ok := os.LookupEnv("NO_COLOR"); ok {
		return false
	}
	if os.Getenv("TERM") == "dumb" {
		return false
	}
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

const (
	ansiReset = "\x1b[0m"
	ansiBold  = "\x1b[1m"
	ansiCyan  = "\x1b[36m"
	ansiRed   = "\x1b[31m"
	ansiGreen = "\x1b[32m"
)

func (p *printer) paint(code, s string) string {
	if !p.color {
		return s
	}
	return code + s + ansiReset
}

// Printf prints one progress line for a server: "[server] message".
func (p *printer) Printf(server, format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	prefix := p.paint(ansiCyan, "["+server+"]")
	switch {
	case strings.Contains(msg, "failed") || strings.Contains(msg, "Failed") || strings.Contains(msg, "timeout"):
		msg = p.paint(ansiRed, msg)
	case strings.HasSuffix(msg, "✓") || strings.HasSuffix(msg, "✅"):
		msg = p.paint(ansiGreen, msg)
	}
	p.line(prefix + " " + msg)
}

// Println prints one line without a server prefix.
func (p *printer) Println(format string, args ...any) {
	p.line(fmt.Sprintf(format, args...))
}

// line writes s as one line. Progress lines ignore its error (output is
// best effort while a deploy finishes: SIGPIPE is ignored); a reader that
// runs until its output closes (luma logs -f | head) stops on it.
func (p *printer) line(s string) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	_, err := io.WriteString(p.w, strings.TrimRight(s, "\n")+"\n")
	return err
}
