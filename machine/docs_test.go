package machine

import (
	"os"
	"regexp"
	"strings"
	"testing"
)

// docs/states.md shows the machine: its Mermaid block must be exactly
// Mermaid(), and every state must have a row in its table.
func TestDocsMatchMachine(t *testing.T) {
	b, err := os.ReadFile("../docs/states.md")
	if err != nil {
		t.Fatal(err)
	}
	doc := string(b)
	_, rest, ok := strings.Cut(doc, "```mermaid\n")
	if !ok {
		t.Fatal("docs/states.md has no ```mermaid block")
	}
	block, _, ok := strings.Cut(rest, "```")
	if !ok {
		t.Fatal("the mermaid block in docs/states.md is not closed")
	}
	if block != Mermaid() {
		t.Errorf("the mermaid block in docs/states.md differs from machine.Mermaid(); replace it with:\n%s", Mermaid())
	}
	for _, s := range States {
		row := regexp.MustCompile("(?m)^\\| `" + regexp.QuoteMeta(string(s)) + "` \\|")
		if !row.MatchString(doc) {
			t.Errorf("docs/states.md has no table row for state %s (a line starting with | `%s` |)", s, s)
		}
	}
}
