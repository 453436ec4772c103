package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/luma-deploy/luma/internal/config"
	"github.com/spf13/cobra"
)

func newValidateCmd(g *globals) *cobra.Command {
	asJSON := false
	cmd := &cobra.Command{
		Use:   "validate",
		Short: "Check luma.yml and print a summary; changes nothing",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if asJSON {
				return validateJSON(g)
			}
			cfg, err := loadConfig(g)
			if err != nil {
				return err
			}
			printSummary(g.out, cfg)
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the verdict as JSON: the apps and services, or every error with its file, line, column and key")
	return cmd
}

// validateJSON is `luma validate --json`: the summary of a valid config,
// or its errors each with file, line, column and key, for editors and CI.
// An invalid config still exits 1.
func validateJSON(g *globals) error {
	type app struct {
		Name     string   `json:"name"`
		Image    string   `json:"image,omitempty"`
		Build    string   `json:"build,omitempty"`
		Replicas int      `json:"replicas"`
		Servers  []string `json:"servers"`
		Hosts    []string `json:"hosts,omitempty"`
	}
	type problem struct {
		File    string `json:"file"`
		Line    int    `json:"line,omitempty"`
		Col     int    `json:"column,omitempty"`
		Key     string `json:"key,omitempty"`
		Message string `json:"message"`
	}
	enc := json.NewEncoder(g.stdout)
	enc.SetIndent("", "  ")
	cfg, err := config.Load(g.config)
	if err != nil {
		var errs config.Errors
		if !errors.As(err, &errs) {
			errs = config.Errors{{File: g.config, Msg: err.Error()}}
		}
		out := []problem{}
		for _, e := range errs {
			out = append(out, problem{File: e.File, Line: e.Line, Col: e.Col, Key: e.Key, Message: e.Msg})
		}
		if werr := enc.Encode(map[string]any{"valid": false, "errors": out}); werr != nil {
			return werr
		}
		return exitWith(exitConfig, nil)
	}
	apps := []app{}
	for _, a := range cfg.Apps {
		x := app{Name: a.Name, Image: a.Image, Replicas: a.Replicas, Servers: a.Servers}
		if a.Build != nil {
			x.Build = a.Build.Context
		}
		if a.Proxy != nil {
			x.Hosts = a.Proxy.Hosts
		}
		apps = append(apps, x)
	}
	type service struct {
		Name    string   `json:"name"`
		Image   string   `json:"image"`
		Servers []string `json:"servers"`
	}
	services := []service{}
	for _, s := range cfg.Services {
		services = append(services, service{Name: s.Name, Image: s.Image, Servers: s.Servers})
	}
	return enc.Encode(map[string]any{"valid": true, "file": cfg.File, "project": cfg.Name, "apps": apps,
		"services": services, "servers": cfg.Servers()})
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
