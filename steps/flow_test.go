package steps

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"testing"

	"github.com/luma-deploy/luma/machine"
)

// The flow covers every state, each stage fires the event that completes
// its state, and the runner's other edge is the rollback: together they
// take every edge of machine.Events.
func TestFlowCoversTheMachine(t *testing.T) {
	taken := map[string]bool{machine.EvRollback: true} // fail and recovery
	for _, s := range machine.States {
		st, ok := flow[s]
		if !ok {
			t.Fatalf("flow has no stage for %s", s)
		}
		want := machine.Next(s)
		if s == machine.Idle {
			want = machine.EvDeploy
		}
		if st.done != want {
			t.Errorf("flow[%s].done = %q, want %q", s, st.done, want)
		}
		if len(st.steps) == 0 {
			t.Errorf("flow[%s] has no step", s)
		}
		taken[st.done] = true
	}
	for _, e := range machine.Events {
		if !taken[e.Name] {
			t.Errorf("no stage and no runner rule takes %s", e.Name)
		}
	}
}

// docs/states.md shows flow as a table between markers: the code of every
// state is one click from it.
func TestDocsShowFlow(t *testing.T) {
	b, err := os.ReadFile("../docs/states.md")
	if err != nil {
		t.Fatal(err)
	}
	const begin, end = "<!-- flow: generated from steps/flow.go by TestDocsShowFlow -->\n", "<!-- end flow -->"
	_, rest, ok := strings.Cut(string(b), begin)
	if !ok {
		t.Fatalf("docs/states.md lacks %q", begin)
	}
	got, _, ok := strings.Cut(rest, end)
	if want := flowTable(); !ok || got != want {
		t.Errorf("the flow table in docs/states.md differs from steps/flow.go; replace it with:\n%s", want)
	}
}

// flowTable is flow as a Markdown table, in the order of machine.States.
func flowTable() string {
	var b strings.Builder
	b.WriteString("| State | Steps, in order | Then fires | Servers meet |\n|---|---|---|---|\n")
	for _, s := range machine.States {
		st := flow[s]
		var names []string
		for _, f := range st.steps {
			fn := runtime.FuncForPC(reflect.ValueOf(f).Pointer())
			file, _ := fn.FileLine(fn.Entry())
			name := fn.Name()[strings.LastIndex(fn.Name(), ".")+1:]
			names = append(names, fmt.Sprintf("[`%s`](../steps/%s)", name, filepath.Base(file)))
		}
		meet := ""
		if st.meet {
			meet = "yes"
		}
		fmt.Fprintf(&b, "| `%s` | %s | `%s` | %s |\n", s, strings.Join(names, ", "), st.done, meet)
	}
	return b.String()
}
