package config

import (
	"errors"
	"strings"
	"testing"
)

// FuzzParse checks that no input panics and that every failure is a
// positioned *Errors. `go test` runs the seeds; explore with
// go test -fuzz=FuzzParse -fuzztime=30s ./config/
func FuzzParse(f *testing.F) {
	f.Add(Template("shop"))
	f.Add(blog(ok))
	f.Add(blog(ok) + "---\nname: other\n")
	f.Add("name: x\napps:\n  base: &b {image: i, servers: [s]}\n  a:\n    <<: [*b, *b]\n")
	f.Add("a: &a [*a]\n")
	f.Add("name: [a\n")
	f.Add("\x00\xff")
	f.Add("")
	for _, tc := range errorCases {
		f.Add(tc.in)
	}
	f.Fuzz(func(t *testing.T, in string) {
		c, err := Parse("luma.yml", []byte(in))
		if err == nil {
			if c == nil || c.Name == "" || len(c.Apps)+len(c.Services) == 0 {
				t.Fatalf("accepted an incomplete config: %+v", c)
			}
			return
		}
		var errs *Errors
		if !errors.As(err, &errs) || len(*errs) == 0 {
			t.Fatalf("error is %T, not *Errors: %v", err, err)
		}
		for _, e := range *errs {
			if e.File != "luma.yml" || e.Line < 1 || e.Msg == "" || strings.Contains(e.Msg, "\n") {
				t.Fatalf("malformed error %+v", *e)
			}
		}
	})
}
