package main

import (
	"errors"
	"fmt"
	"strings"

	"github.com/luma-deploy/luma/internal/config"
	"github.com/spf13/cobra"
)

func newValidateCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "validate",
		Short: "Check luma.yml and print a summary; changes nothing",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := loadConfig(g)
			if err != nil {
				return err
			}
			printSummary(g.out, cfg)
			return nil
		},
	}
}

// loadConfig loads and validates the config; every failure is a usage
// error, so that no command touches a server with a bad config.
func loadConfig(g *globals) (*config.Config, error) {
	cfg, err := config.Load(g.config)
	if err == nil {
		return cfg, nil
	}
	var errs config.Errors
	if errors.As(err, &errs) {
		fmt.Fprintln(g.stderr, errs.Error())
		noun := "errors"
		if len(errs) == 1 {
			noun = "error"
		}
		return nil, exitWith(exitConfig, fmt.Errorf("%s is not valid (%d %s); nothing was changed", g.config, len(errs), noun))
	}
	return nil, exitWith(exitConfig, err)
}

func printSummary(p *printer, cfg *config.Config) {
	p.Println("%s is valid: project %q, %d app(s), %d service(s), %d server(s)",
		cfg.File, cfg.Name, len(cfg.Apps), len(cfg.Services), len(cfg.Servers()))
	for _, a := range cfg.Apps {
		src := a.Image
		if a.Build != nil {
			src = "build " + a.Build.Context
		}
		hosts := "no proxy"
		if a.Proxy != nil {
			hosts = fmt.Sprintf("%s → :%d", strings.Join(a.Proxy.Hosts, ", "), a.Proxy.AppPort)
		}
		p.Println("  app %s: %s, %d replica(s) on %s, %s", a.Name, src, a.Replicas, strings.Join(a.Servers, ", "), hosts)
	}
	for _, s := range cfg.Services {
		p.Println("  service %s: %s on %s", s.Name, s.Image, strings.Join(s.Servers, ", "))
	}
}
