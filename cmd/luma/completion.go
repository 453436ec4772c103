package main

import (
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/luma-deploy/luma/internal/config"
)

// Shell completion (cobra's `luma completion bash|zsh|fish|powershell`)
// offers the app and server names of the luma.yml that --config names.
// A luma.yml that does not load offers nothing rather than an error in
// the middle of the user's command line.

// completeApps completes app names not already given.
func completeApps(g *globals) cobra.CompletionFunc {
	return func(cmd *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
		cfg, err := config.Load(g.config)
		if err != nil {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		var out []cobra.Completion
		for _, a := range cfg.Apps {
			if strings.HasPrefix(a.Name, toComplete) && !slices.Contains(args, a.Name) {
				out = append(out, a.Name)
			}
		}
		return out, cobra.ShellCompDirectiveNoFileComp
	}
}

// completeApp completes the one app of a command that takes one, then
// nothing (exec's command runs in the container, not here).
func completeApp(g *globals) cobra.CompletionFunc {
	apps := completeApps(g)
	return func(cmd *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
		if len(args) > 0 {
			return nil, cobra.ShellCompDirectiveDefault
		}
		return apps(cmd, args, toComplete)
	}
}

// completeServers completes server names: of the app given first when
// there is one, else of the whole project.
func completeServers(g *globals) cobra.CompletionFunc {
	return func(cmd *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
		cfg, err := config.Load(g.config)
		if err != nil {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		servers := cfg.Servers()
		if len(args) > 0 {
			if a, ok := cfg.App(args[0]); ok {
				servers = a.Servers
			}
		}
		var out []cobra.Completion
		for _, s := range servers {
			if strings.HasPrefix(s, toComplete) {
				out = append(out, s)
			}
		}
		return out, cobra.ShellCompDirectiveNoFileComp
	}
}
