package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/luma-deploy/luma/drivers"
	"github.com/luma-deploy/luma/internal/fleet"
	"github.com/luma-deploy/luma/internal/naming"
)

func newLockCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "lock",
		Short: "See and release deploy locks",
		Long: `Each deploy holds a lock per app on every server, a lease it renews every
few seconds: a deploy that dies stops renewing and the next one takes the
lock over once the lease expires (30 s by default).`,
	}
	cmd.AddCommand(newLockStatusCmd(g), newLockReleaseCmd(g))
	return cmd
}

type lockStatusOptions struct{ json bool }

func newLockStatusCmd(g *globals) *cobra.Command {
	opts := &lockStatusOptions{}
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Show the project's deploy locks on every server: holder, since, lease, deploy state",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runLockStatus(cmd.Context(), g, opts)
		},
	}
	cmd.Flags().BoolVar(&opts.json, "json", false, "print JSON for scripts")
	return cmd
}

// serverLock is one lock on one server, for --json.
type serverLock struct {
	Server string `json:"server"`
	drivers.Lock
	Expired bool `json:"expired"`
}

func runLockStatus(ctx context.Context, g *globals, opts *lockStatusOptions) error {
	cfg, err := loadConfig(g)
	if err != nil {
		return err
	}
	f, err := connectServers(ctx, g, cfg, cfg.Servers())
	if err != nil {
		return err
	}
	defer f.Close()
	var mu sync.Mutex
	var locks []serverLock
	now := time.Now()
	err = f.Each(func(s *fleet.Server) error {
		ls, err := s.Proxy.Locks(ctx)
		if err != nil {
			return err
		}
		mu.Lock()
		defer mu.Unlock()
		for _, l := range ls {
			if strings.HasPrefix(l.Key, cfg.Name+"/") {
				locks = append(locks, serverLock{Server: s.Name, Lock: l, Expired: !now.Before(l.Expires)})
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	slices.SortFunc(locks, func(a, b serverLock) int {
		return strings.Compare(a.Key+" "+a.Server, b.Key+" "+b.Server)
	})
	if opts.json {
		enc := json.NewEncoder(g.stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(map[string]any{"project": cfg.Name, "locks": nonNil(locks)})
	}
	if len(locks) == 0 {
		g.out.Println("No deploy lock of %s is held on %s.", cfg.Name, strings.Join(f.Names(), ", "))
		return nil
	}
	for _, l := range locks {
		g.out.Printf(l.Server, "%s", describeLock(l.Lock, now))
	}
	return nil
}

// describeLock says who holds a lock, since when, its deploy's state and
// when its lease ends.
func describeLock(l drivers.Lock, now time.Time) string {
	_, app, _ := strings.Cut(l.Key, "/")
	s := fmt.Sprintf("%s: held by %s since %s (%s ago)", app, l.Holder, l.Since.Local().Format("15:04:05"), ago(now.Sub(l.Since)))
	if l.State != "" {
		s += ", deploy state " + string(l.State)
	}
	if now.Before(l.Expires) {
		return s + fmt.Sprintf(", lease renewed until %s (in %s)", l.Expires.Local().Format("15:04:05"), ago(l.Expires.Sub(now)))
	}
	return s + fmt.Sprintf(", lease expired %s ago: the holder stopped renewing it (died?); the next deploy takes it over", ago(now.Sub(l.Expires)))
}

func ago(d time.Duration) string {
	if d < time.Second {
		return d.Round(time.Millisecond).String()
	}
	return d.Round(time.Second).String()
}

type lockReleaseOptions struct {
	app   string
	force bool
}

func newLockReleaseCmd(g *globals) *cobra.Command {
	opts := &lockReleaseOptions{}
	cmd := &cobra.Command{
		Use:   "release APP --force",
		Short: "Take a stuck deploy lock of APP away from its holder, on every server of the app",
		Long: `Release removes APP's deploy lock on every server of the app, whoever holds it,
and records it in the servers' history. A lock whose holder died frees itself
when its lease expires; release is for when waiting is not an option. If the
holder is in fact still running, it loses its lease: before the switch it
rolls back, after it it finishes.`,
		Args:              cobra.ExactArgs(1),
		ValidArgsFunction: completeApp(g),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.app = args[0]
			return runLockRelease(cmd.Context(), g, opts)
		},
	}
	cmd.Flags().BoolVar(&opts.force, "force", false, "release the lock whoever holds it (required)")
	return cmd
}

func runLockRelease(ctx context.Context, g *globals, opts *lockReleaseOptions) error {
	if !opts.force {
		return exitWith(exitUsage, fmt.Errorf("luma lock release takes a lock from whoever holds it: add --force to do so (`luma lock status` shows the holders)"))
	}
	cfg, a, err := loadApp(g, opts.app)
	if err != nil {
		return err
	}
	f, err := connectServers(ctx, g, cfg, a.Servers)
	if err != nil {
		return err
	}
	defer f.Close()
	key := naming.Key(cfg.Name, opts.app)
	who := drivers.Who(naming.Holder())
	return f.Each(func(s *fleet.Server) error {
		now := time.Now()
		l, err := s.Proxy.ReleaseLock(ctx, key)
		if errors.Is(err, drivers.ErrNotFound) {
			g.out.Printf(s.Name, "No deploy lock of %s is held", opts.app)
			return nil
		}
		if err != nil {
			return fmt.Errorf("release the deploy lock of %s: %w", opts.app, err)
		}
		line := fmt.Sprintf("Released the deploy lock of %s held by %s since %s", opts.app, l.Holder, l.Since.Local().Format("15:04:05"))
		if l.State != "" {
			line += " (deploy state " + string(l.State) + ")"
		}
		if now.Before(l.Expires) {
			line += fmt.Sprintf("; its lease would have expired anyway at %s, in %s", l.Expires.Local().Format("15:04:05"), ago(l.Expires.Sub(now)))
		} else {
			line += fmt.Sprintf("; its lease had expired %s ago", ago(now.Sub(l.Expires)))
		}
		g.out.Printf(s.Name, "%s", line)
		e := drivers.Event{Kind: drivers.EventLockRelease, Project: cfg.Name, App: opts.app, Who: who, At: now, Outcome: "ok",
			Detail: fmt.Sprintf("took the lock from %s, held since %s", l.Holder, l.Since.UTC().Format(time.RFC3339))}
		if l.State != "" {
			e.Detail += ", deploy state " + string(l.State)
		}
		if err := s.Proxy.AppendEvent(ctx, e); err != nil {
			g.out.Printf(s.Name, "Warning: could not add the release to the server's history: %v", err)
		}
		return nil
	})
}
