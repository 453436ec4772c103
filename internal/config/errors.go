package config

import (
	"fmt"
	"sort"
	"strings"
)

// Error is one problem in a config file, located precisely enough for an
// editor to jump to it.
type Error struct {
	File string
	Line int // 1-based; 0 when unknown
	Col  int // 1-based; 0 when unknown (YAML syntax errors carry no column)
	Key  string
	Msg  string
}

// Error formats as "luma.yml:12:5: apps.blog.replicas: must be at least 1";
// unknown parts are left out rather than printed as zero.
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		fmt.Fprintf(&b, ":%d", e.Line)
		if e.Col > 0 {
			fmt.Fprintf(&b, ":%d", e.Col)
		}
	}
	b.WriteString(": ")
	if e.Key != "" {
		b.WriteString(e.Key)
		b.WriteString(": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// Errors is every problem found in one file, sorted by position.
type Errors []*Error

// Error lists one problem per line.
func (es Errors) Error() string {
	lines := make([]string, len(es))
	for i, e := range es {
		lines[i] = e.Error()
	}
	return strings.Join(lines, "\n")
}

// Unwrap lets errors.As find a single *Error.
func (es Errors) Unwrap() []error {
	out := make([]error, len(es))
	for i, e := range es {
		out[i] = e
	}
	return out
}

// As lets callers ask for either Errors or *Errors: Load returns *Errors,
// but a caller holding a value type should not have to know that.
func (es Errors) As(target any) bool {
	switch t := target.(type) {
	case *Errors:
		*t = es
		return true
	case **Errors:
		c := es
		*t = &c
		return true
	}
	return false
}

func (es Errors) sort() {
	sort.SliceStable(es, func(i, j int) bool {
		if es[i].Line != es[j].Line {
			return es[i].Line < es[j].Line
		}
		return es[i].Col < es[j].Col
	})
}
