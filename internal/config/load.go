package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"

	"gopkg.in/yaml.v3"
)

// Load reads, parses and validates a config file. When the file is invalid
// the error is *Errors, listing every problem.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%w (run \"luma init\" to create one)", err)
	}
	if err != nil {
		return nil, err
	}
	return Parse(path, data)
}

// Parse is Load on bytes already read; file is used in messages and to
// find the project directory.
func Parse(file string, data []byte) (*Config, error) {
	d := &decoder{file: file, dir: dirOf(file)}
	var c *Config
	if root := d.document(data); root != nil {
		c = d.config(root)
	}
	if len(d.errs) > 0 {
		d.errs.sort()
		return nil, &d.errs
	}
	c.File, c.Dir = file, d.dir
	return c, nil
}

func dirOf(file string) string {
	dir := filepath.Dir(file)
	if abs, err := filepath.Abs(dir); err == nil {
		return abs
	}
	return dir
}

// document returns the root node of the file's single YAML document, or
// nil after reporting why there is none.
func (d *decoder) document(data []byte) *yaml.Node {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	err := decode(dec, &doc)
	if err == nil && (len(doc.Content) == 0 || isNull(doc.Content[0])) {
		err = io.EOF
	}
	if err == io.EOF {
		d.errs = append(d.errs, &Error{File: d.file, Line: 1, Col: 1,
			Msg: `the file is empty: run "luma init" for a commented example`})
		return nil
	}
	if err != nil {
		d.syntaxError(err, data)
		return nil
	}
	var next yaml.Node
	switch err := decode(dec, &next); {
	case err == nil:
		d.errorf(&next, "", "found a second YAML document (after ---); luma.yml holds one document")
	case err != io.EOF:
		d.syntaxError(err, data)
	}
	root := doc.Content[0]
	if root.Kind != yaml.MappingNode {
		d.errorf(root, "", "must be a mapping of settings (name:, apps:, ...), got %s", describe(root))
		return nil
	}
	return root
}

// decode guards against panics inside the YAML parser: bad input must
// yield an error, never a crash.
func decode(dec *yaml.Decoder, n *yaml.Node) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("yaml: the parser failed on this input: %v", r)
		}
	}()
	return dec.Decode(n)
}

var yamlLine = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// syntaxError turns a yaml.v3 error into an Error. yaml.v3 reports no
// column, and its line is often where the enclosing block starts rather
// than where the problem is, so the line is searched for (errorLine).
func (d *decoder) syntaxError(err error, data []byte) {
	e := &Error{File: d.file, Line: 1}
	msg := err.Error()
	m := yamlLine.FindStringSubmatch(msg)
	if m != nil {
		e.Line, _ = strconv.Atoi(m[1])
		msg = m[2]
	} else {
		msg = strings.TrimPrefix(msg, "yaml: ")
	}
	lines := strings.Split(string(data), "\n")
	// An unclosed or comma-less [...] or {...}: yaml.v3 names the line
	// where it opened, 0-based (unless that is the first line), and that
	// is the line to look at.
	flow := strings.HasPrefix(msg, "did not find expected ',' or ")
	open, end := "[", "]"
	if strings.HasSuffix(msg, "'}'") {
		open, end = "{", "}"
	}
	switch {
	case flow:
		if m != nil {
			e.Line++
		}
		for l := min(e.Line, len(lines)); l >= 1; l-- {
			if strings.Contains(lines[l-1], open) {
				e.Line = l
				break
			}
		}
	default:
		if line := errorLine(data, msg); line > 0 {
			e.Line = line
		}
	}
	switch {
	case flow:
		msg += fmt.Sprintf(" (the %s...%s that starts on this line needs commas between items and a closing %s)", open, end, end)
	case strings.Contains(msg, "control characters"), strings.Contains(msg, "UTF-8"), strings.Contains(msg, "Unicode"):
		if line, col := locate(data); col > 0 {
			e.Line, e.Col = line, col
		}
	case strings.HasPrefix(msg, "unknown anchor "):
		name := strings.TrimSuffix(strings.TrimPrefix(msg, "unknown anchor '"), "' referenced")
		if i := bytes.Index(data, []byte("*"+name)); i >= 0 {
			e.Line, e.Col = position(data, i)
		}
		msg += " (define it first with &" + name + ")"
	case e.Line > 0 && e.Line <= len(lines) && strings.Contains(leadingSpace(lines[e.Line-1]), "\t"):
		msg += " (indent with spaces: YAML does not allow tabs)"
	case strings.Contains(msg, "unexpected end of stream") && e.Line <= len(lines) && strings.ContainsAny(lines[e.Line-1], `"'`):
		msg += " (a quoted string that starts on this line is never closed)"
	case strings.Contains(msg, "mapping values are not allowed"):
		msg += ` (check the indentation, and quote values that contain ": ")`
	case strings.Contains(msg, "did not find expected"):
		msg += " (check the indentation of this line)"
	}
	e.Msg = "invalid YAML: " + msg
	d.errs = append(d.errs, e)
}

// errorLine finds the first line at which the file, cut off after that
// line, fails with the same message: the line where the parser first
// could not go on. 0 when no prefix matches or the file is too long to
// search.
func errorLine(data []byte, msg string) int {
	if bytes.Count(data, []byte("\n")) > 2000 {
		return 0
	}
	for end, line := 0, 1; end < len(data); line++ {
		if i := bytes.IndexByte(data[end:], '\n'); i >= 0 {
			end += i + 1
		} else {
			end = len(data)
		}
		err := parseAll(data[:end])
		if err == nil {
			continue
		}
		m := strings.TrimPrefix(err.Error(), "yaml: ")
		if sm := yamlLine.FindStringSubmatch(err.Error()); sm != nil {
			m = sm[2]
		}
		if m == msg {
			return line
		}
	}
	return 0
}

// parseAll parses every document, returning the first error.
func parseAll(data []byte) error {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	for {
		var n yaml.Node
		if err := decode(dec, &n); err == io.EOF {
			return nil
		} else if err != nil {
			return err
		}
	}
}

func leadingSpace(s string) string {
	return s[:len(s)-len(strings.TrimLeft(s, " \t"))]
}

// locate finds the first control character or invalid UTF-8 byte and
// returns its 1-based line and column, or 1, 0 when there is none.
func locate(data []byte) (int, int) {
	for i, r := range string(data) {
		if r < ' ' && r != '\n' && r != '\r' && r != '\t' || r == 0x7f || r == utf8.RuneError {
			return position(data, i)
		}
	}
	return 1, 0
}

// position converts a byte offset to a 1-based line and column in runes.
func position(data []byte, off int) (int, int) {
	before := data[:off]
	line := bytes.Count(before, []byte("\n")) + 1
	start := bytes.LastIndexByte(before, '\n') + 1
	return line, len([]rune(string(before[start:]))) + 1
}
