package config

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// decoder walks yaml.Node trees instead of unmarshalling into structs so
// that every problem keeps its line and column, and so that one run can
// report every problem instead of stopping at the first.
type decoder struct {
	file  string
	dir   string
	errs  Errors
	hosts map[string]string // proxy host → app that routes it
}

func (d *decoder) errorf(n *yaml.Node, key, format string, args ...any) {
	e := &Error{File: d.file, Key: key, Msg: fmt.Sprintf(format, args...)}
	if n != nil {
		e.Line, e.Col = n.Line, n.Column
	}
	d.errs = append(d.errs, e)
}

// resolve follows aliases (*name) to the node they stand for.
func resolve(n *yaml.Node) *yaml.Node {
	for i := 0; n != nil && n.Kind == yaml.AliasNode && i < 16; i++ {
		n = n.Alias
	}
	return n
}

func isNull(n *yaml.Node) bool {
	n = resolve(n)
	return n == nil || n.Kind == 0 || (n.Kind == yaml.ScalarNode && n.Tag == "!!null")
}

// describe names a node's type the way a user thinks of it.
func describe(n *yaml.Node) string {
	n = resolve(n)
	switch {
	case isNull(n):
		return "nothing"
	case n.Kind == yaml.SequenceNode:
		return "a list"
	case n.Kind == yaml.MappingNode:
		return "a mapping"
	}
	switch n.Tag {
	case "!!int", "!!float":
		return "the number " + n.Value
	case "!!bool":
		return n.Value
	}
	return "the string " + quote(n.Value)
}

// quote shows user input in messages, cut short so a stray paste does not
// flood the terminal.
func quote(s string) string {
	if r := []rune(s); len(r) > 40 {
		s = string(r[:37]) + "..."
	}
	return strconv.Quote(s)
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func index(path string, i int) string { return fmt.Sprintf("%s[%d]", path, i) }

// entry is one key: value pair; val keeps the node as written so errors
// point at the use of an alias, not at its anchor.
type entry struct {
	key, val *yaml.Node
	path     string
}

// mapping is a YAML mapping with merge keys applied, in file order.
type mapping struct {
	keys    []string
	entries map[string]entry
}

func (m mapping) get(key string) (entry, bool) {
	e, ok := m.entries[key]
	return e, ok
}

// present tells whether key is set to something other than null: "key:"
// with nothing after it means "default", as it does in most YAML tools.
func (m mapping) present(key string) (entry, bool) {
	e, ok := m.entries[key]
	return e, ok && !isNull(e.val)
}

// section describes the keys a mapping may hold, for unknown-key errors.
type section struct {
	keys []string
	// hint suggests where an unknown key belongs when it is not a typo,
	// e.g. "hosts" under an app belongs under proxy. May be nil.
	hint func(key string) string
}

// mapping reads n as a mapping. A nil section allows any key (apps,
// services, build args). Null reads as an empty mapping.
func (d *decoder) mapping(n *yaml.Node, path string, s *section) (mapping, bool) {
	m := mapping{entries: map[string]entry{}}
	if isNull(n) {
		return m, true
	}
	if r := resolve(n); r.Kind != yaml.MappingNode {
		d.errorf(n, path, "must be a mapping of key: value lines, got %s", describe(n))
		return m, false
	}
	d.collect(n, path, s, &m, map[*yaml.Node]bool{}, true)
	return m, true
}

// collect adds n's pairs to m. Keys written in the mapping itself win over
// merged ones (<<: *defaults), as YAML specifies.
func (d *decoder) collect(n *yaml.Node, path string, s *section, m *mapping, seen map[*yaml.Node]bool, explicit bool) {
	n = resolve(n)
	if seen[n] || len(seen) > 64 {
		return // the same anchor merged twice, or absurdly deep merging
	}
	seen[n] = true
	var merges []*yaml.Node
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		rk := resolve(k)
		if rk.Kind != yaml.ScalarNode {
			d.errorf(k, path, "keys must be plain names, got %s", describe(k))
			continue
		}
		if rk.Tag == "!!merge" {
			merges = append(merges, v)
			continue
		}
		key := rk.Value
		p := join(path, key)
		if prev, dup := m.entries[key]; dup {
			// Merged keys come after the mapping's own, so in the explicit
			// pass any earlier entry is a true duplicate.
			if explicit {
				d.errorf(k, p, "duplicate key (first set on line %d)", prev.key.Line)
			}
			continue
		}
		if s != nil && !contains(s.keys, key) {
			d.unknownKey(k, p, key, s)
			continue
		}
		m.entries[key] = entry{key: k, val: v, path: p}
		m.keys = append(m.keys, key)
	}
	for _, v := range merges {
		r := resolve(v)
		switch {
		case r.Kind == yaml.MappingNode:
			d.collect(r, path, s, m, seen, false)
		case r.Kind == yaml.SequenceNode:
			for _, item := range r.Content {
				if ri := resolve(item); ri.Kind == yaml.MappingNode {
					d.collect(ri, path, s, m, seen, false)
				} else {
					d.errorf(item, join(path, "<<"), "can only merge mappings, got %s", describe(item))
				}
			}
		default:
			d.errorf(v, join(path, "<<"), "can only merge a mapping, e.g. <<: *defaults, got %s", describe(v))
		}
	}
}

func (d *decoder) unknownKey(k *yaml.Node, path, key string, s *section) {
	if s.hint != nil {
		if h := s.hint(key); h != "" {
			d.errorf(k, path, "unknown key; %s", h)
			return
		}
	}
	if sug := suggest(key, s.keys); sug != "" {
		d.errorf(k, path, "unknown key; did you mean %q?", sug)
		return
	}
	d.errorf(k, path, "unknown key; valid keys here are %s", strings.Join(s.keys, ", "))
}

// scalar returns the text of a scalar value, or reports what it got instead.
func (d *decoder) scalar(e entry, want string) (*yaml.Node, bool) {
	n := resolve(e.val)
	if n.Kind != yaml.ScalarNode {
		d.errorf(e.val, e.path, "must be %s, got %s", want, describe(e.val))
		return nil, false
	}
	return n, true
}

// str reads a string; numbers are taken as written (target: 2 is "2").
// Null reads as "".
func (d *decoder) str(e entry) (string, bool) {
	if isNull(e.val) {
		return "", true
	}
	n, ok := d.scalar(e, "a string")
	if !ok {
		return "", false
	}
	return n.Value, true
}

// int reads a whole number. A quoted "3" is refused rather than guessed at,
// with the fix in the message.
func (d *decoder) int(e entry) (int, bool) {
	n, ok := d.scalar(e, "a whole number")
	if !ok {
		return 0, false
	}
	if n.Tag != "!!int" {
		if _, err := strconv.Atoi(n.Value); err == nil && n.Tag == "!!str" {
			d.errorf(e.val, e.path, "must be a number, not a string: write %s without quotes", n.Value)
		} else {
			d.errorf(e.val, e.path, "must be a whole number, got %s", describe(e.val))
		}
		return 0, false
	}
	var v int
	if err := n.Decode(&v); err != nil {
		d.errorf(e.val, e.path, "must be a whole number, got %s", describe(e.val))
		return 0, false
	}
	return v, true
}

func (d *decoder) bool(e entry) (bool, bool) {
	n, ok := d.scalar(e, "true or false")
	if !ok {
		return false, false
	}
	if n.Tag != "!!bool" {
		d.errorf(e.val, e.path, "must be true or false, got %s", describe(e.val))
		return false, false
	}
	var v bool
	if err := n.Decode(&v); err != nil {
		d.errorf(e.val, e.path, "must be true or false, got %s", describe(e.val))
		return false, false
	}
	return v, true
}

// duration reads a Go duration, quoted or not.
func (d *decoder) duration(e entry) (time.Duration, bool) {
	n, ok := d.scalar(e, `a duration such as "10s"`)
	if !ok {
		return 0, false
	}
	if n.Tag == "!!int" || n.Tag == "!!float" {
		d.errorf(e.val, e.path, "needs a unit: write %q or %q", n.Value+"s", n.Value+"ms")
		return 0, false
	}
	v, err := time.ParseDuration(n.Value)
	if err != nil {
		d.errorf(e.val, e.path, `invalid duration %s: use a number and a unit, e.g. "10s", "1m30s", "500ms"`, quote(n.Value))
		return 0, false
	}
	return v, true
}

// item is one string of a list, with where it was written.
type item struct {
	s    string
	node *yaml.Node
	path string
}

func strs(items []item) []string {
	if len(items) == 0 {
		return nil
	}
	out := make([]string, len(items))
	for i, it := range items {
		out[i] = it.s
	}
	return out
}

// list reads a list of strings. A lone string is refused: servers: a,b
// would otherwise silently mean one server named "a,b". ok is false when
// anything was wrong, so callers do not pile "must not be empty" on top.
func (d *decoder) list(e entry) (items []item, ok bool) {
	if isNull(e.val) {
		return nil, true
	}
	n := resolve(e.val)
	if n.Kind == yaml.ScalarNode {
		d.errorf(e.val, e.path, "must be a list: write [%s]", strconv.Quote(n.Value))
		return nil, false
	}
	if n.Kind != yaml.SequenceNode {
		d.errorf(e.val, e.path, "must be a list, got %s", describe(e.val))
		return nil, false
	}
	ok = true
	for i, it := range n.Content {
		p := index(e.path, i)
		ri := resolve(it)
		if ri.Kind != yaml.ScalarNode || isNull(ri) {
			d.errorf(it, p, "must be a string, got %s", describe(it))
			ok = false
			continue
		}
		items = append(items, item{s: ri.Value, node: it, path: p})
	}
	return items, ok
}

// command reads a list, or a string split on whitespace for the common
// case of a command that needs no quoting.
func (d *decoder) command(e entry) []string {
	if n := resolve(e.val); n.Kind == yaml.ScalarNode && !isNull(n) {
		if f := strings.Fields(n.Value); len(f) > 0 {
			return f
		}
		return nil
	}
	items, _ := d.list(e)
	return strs(items)
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
