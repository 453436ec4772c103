package machine

import (
	"fmt"
	"strings"
)

// Mermaid renders the transition table as a Mermaid state diagram, one line
// per edge in table order, so docs/states.md can be checked against it.
func Mermaid() string {
	var b strings.Builder
	b.WriteString("stateDiagram-v2\n")
	fmt.Fprintf(&b, "    [*] --> %s\n", Idle)
	for _, e := range Events {
		for _, src := range e.Src {
			fmt.Fprintf(&b, "    %s --> %s: %s\n", src, e.Dst, e.Name)
		}
	}
	return b.String()
}
