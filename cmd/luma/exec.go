package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/luma-deploy/luma/drivers"
	"github.com/luma-deploy/luma/internal/config"
	"github.com/luma-deploy/luma/internal/shell"
)

type execOptions struct {
	server      string
	replica     int
	interactive bool
	oneOff      bool
}

func newExecCmd(g *globals) *cobra.Command {
	opts := &execOptions{}
	cmd := &cobra.Command{
		Use:   "exec APP [--server S] [--replica N] [-i] [--new] -- CMD...",
		Short: "Run a command in a running container of an app's active color, or in a one-off container (--new)",
		Long: `Runs CMD in a running container of APP's active color (the one luma-proxy
serves) on its first server, or --server S, replica --replica N. With a
terminal it is interactive, with a TTY of the terminal's size; otherwise
stdout and stderr stay apart and stdin is passed only with -i. The
command's exit code is luma's.

With --new, CMD runs in a one-off container of the active release's image
with the app's environment, volumes and network (a migration, a console),
removed afterwards.`,
		Args: func(cmd *cobra.Command, args []string) error {
			dash := cmd.ArgsLenAtDash()
			if len(args) < 2 || (dash != -1 && dash != 1) {
				return exitWith(exitUsage, errors.New("name the app and the command: luma exec APP -- CMD..."))
			}
			return nil
		},
		ValidArgsFunction: completeApp(g),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runExec(cmd.Context(), g, opts, cmd.InOrStdin(), args[0], args[1:])
		},
	}
	cmd.Flags().StringVar(&opts.server, "server", "", "server to run on (default: the app's first)")
	cmd.Flags().IntVar(&opts.replica, "replica", 1, "replica of the active color to run in, from 1")
	cmd.Flags().BoolVarP(&opts.interactive, "interactive", "i", false, "pass stdin to the command when it is not a terminal")
	cmd.Flags().BoolVar(&opts.oneOff, "new", false, "run in a one-off container of the active release, removed afterwards")
	cmd.RegisterFlagCompletionFunc("server", completeServers(g))
	return cmd
}

func runExec(parent context.Context, g *globals, opts *execOptions, stdin io.Reader, appName string, argv []string) error {
	cfg, a, err := loadApp(g, appName)
	if err != nil {
		return err
	}
	server, err := shell.Server(a, opts.server)
	if err != nil {
		return exitWith(exitUsage, err)
	}
	if opts.oneOff && opts.replica != 1 {
		return exitWith(exitUsage, errors.New("--replica picks a running container: a one-off (--new) is a container of its own"))
	}
	if !opts.oneOff {
		if err := shell.Replica(a, opts.replica); err != nil {
			return exitWith(exitUsage, err)
		}
	}
	var env []string
	if opts.oneOff {
		if env, err = appEnv(cfg, a); err != nil {
			return exitWith(exitConfig, err)
		}
	}

	// Without a TTY, Ctrl-C ends the session; with one it is a key the
	// terminal in the container turns into SIGINT.
	ctx, stop := signal.NotifyContext(parent, os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	defer stop()
	f, err := connectServers(ctx, g, cfg, []string{server})
	if err != nil {
		return err
	}
	defer f.Close()
	s := f.Get(server)

	stdio, restore, err := terminal(g, stdin, opts.interactive)
	if err != nil {
		return err
	}
	defer restore()
	code, err := shell.Run(ctx, shell.Options{
		Config: cfg, App: a, Server: server, Replica: opts.replica, New: opts.oneOff,
		Cmd: argv, Env: env, Stdio: stdio, Engine: s.Engine, Store: s.Proxy,
	})
	restore() // before luma prints anything of its own
	var usage *shell.UsageError
	switch {
	case errors.As(err, &usage):
		return exitWith(exitUsage, err)
	case err != nil && ctx.Err() != nil:
		return exitWith(exitInterrupted, errors.New("interrupted"))
	case err != nil:
		return err
	case code != 0:
		g.log.Debug("command exited", "code", code)
		return exitWith(code, nil)
	}
	return nil
}

// appEnv is the app's environment with its secrets, for a one-off.
func appEnv(cfg *config.Config, a *config.App) ([]string, error) {
	secrets, err := loadSecretsIfNeeded(cfg, []*config.App{a})
	if err != nil {
		return nil, err
	}
	env, err := cfg.Env(a.Environment, secrets)
	if err != nil {
		return nil, fmt.Errorf("app %s: %w", a.Name, err)
	}
	return env, nil
}

// terminal is the session's side of luma's streams: with stdin and stdout
// terminals, a TTY session with the local terminal in raw mode (restore
// puts it back; it is safe to call more than once) and its size followed
// on SIGWINCH; else stdout and stderr apart, stdin only when asked.
func terminal(g *globals, stdin io.Reader, interactive bool) (drivers.Stdio, func(), error) {
	s := drivers.Stdio{Stdout: g.stdout, Stderr: g.stderr}
	in, inOK := stdin.(*os.File)
	out, outOK := g.stdout.(*os.File)
	if !inOK || !outOK || !term.IsTerminal(int(in.Fd())) || !term.IsTerminal(int(out.Fd())) {
		if interactive {
			s.Stdin = stdin
		}
		return s, func() {}, nil
	}
	s.Tty, s.Stdin = true, in
	s.Size = size(out)
	state, err := term.MakeRaw(int(in.Fd()))
	if err != nil {
		return s, nil, fmt.Errorf("terminal: %w", err)
	}
	winch := make(chan os.Signal, 1)
	signal.Notify(winch, syscall.SIGWINCH)
	resize := make(chan drivers.Size, 1)
	done := make(chan struct{})
	go func() {
		for {
			select {
			case <-done:
				return
			case <-winch:
				select {
				case resize <- size(out):
				case <-done:
					return
				}
			}
		}
	}()
	s.Resize = resize
	restored := false
	return s, func() {
		if restored {
			return
		}
		restored = true
		signal.Stop(winch)
		close(done)
		term.Restore(int(in.Fd()), state)
	}, nil
}

func size(f *os.File) drivers.Size {
	w, h, err := term.GetSize(int(f.Fd()))
	if err != nil {
		return drivers.Size{}
	}
	return drivers.Size{Rows: uint(h), Cols: uint(w)}
}
