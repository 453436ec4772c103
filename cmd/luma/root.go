package main

import (
	"io"

	"github.com/charmbracelet/log"
	"github.com/spf13/cobra"
)

// globals are the flags every command shares.
type globals struct {
	config  string
	verbose bool
	out     *printer
	log     *log.Logger
	stdout  io.Writer
	stderr  io.Writer
}

func newRootCmd(stdout, stderr io.Writer) *cobra.Command {
	g := &globals{stdout: stdout, stderr: stderr, out: newPrinter(stdout)}
	root := &cobra.Command{
		Use:   "luma",
		Short: "Zero-downtime blue-green deploys of Docker apps to your own servers",
		Long: `Luma deploys Docker apps to your own servers over SSH. Each deploy starts the
new version beside the old one, health-checks it, switches traffic atomically
in luma-proxy, drains in-flight requests, stops the old containers gracefully,
and rolls back by itself when anything fails.

Exit codes: 0 ok, 1 error (an invalid luma.yml changes nothing), 2 bad usage,
3 deploy failed and rolled back, 4 deploy stopped after the switch (run it
again to finish), 5 another deploy holds the lock, 130 interrupted.`,
		Version:       version(),
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRun: func(cmd *cobra.Command, args []string) {
			g.log = log.NewWithOptions(stderr, log.Options{Prefix: "luma"})
			if g.verbose {
				g.log.SetLevel(log.DebugLevel)
			}
		},
	}
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.PersistentFlags().StringVarP(&g.config, "config", "c", "luma.yml", "path to the config file")
	root.PersistentFlags().BoolVar(&g.verbose, "verbose", false, "print debug output")
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return exitWith(exitUsage, err)
	})
	root.AddCommand(
		newInitCmd(g),
		newValidateCmd(g),
		newSetupCmd(g),
		newDeployCmd(g),
		newStatusCmd(g),
		newRemoveCmd(g),
		newPruneCmd(g),
		newProxyCmd(g),
		newRollbackCmd(g),
		newReleasesCmd(g),
		newLockCmd(g),
		newExecCmd(g),
		newLogsCmd(g),
	)
	return root
}
