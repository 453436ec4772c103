package main

import (
	"os"
	"path/filepath"

	"github.com/luma-deploy/luma/internal/config"
	"github.com/spf13/cobra"
)

func newInitCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "init [dir]",
		Short: "Write a commented luma.yml and .luma/secrets; never overwrites",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			dir := "."
			if len(args) == 1 {
				dir = args[0]
			}
			abs, err := filepath.Abs(dir)
			if err != nil {
				return err
			}
			if err := os.MkdirAll(abs, 0o755); err != nil {
				return err
			}
			written, err := config.Init(abs, config.ProjectName(abs))
			if err != nil {
				return err
			}
			for _, f := range written {
				g.out.Println("wrote %s", f)
			}
			g.out.Println("Next: edit luma.yml, then run `luma validate` and `luma setup`.")
			return nil
		},
	}
}
