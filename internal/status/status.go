// Package status is `luma status` without the CLI: Read gathers what each
// server reports (its containers, the deploy records and locks in
// luma-proxy's store, the proxy's routes) through the driver interfaces;
// Of and Text decide and print where an app stands without any I/O, so
// every verdict is unit-tested.
package status

import (
	"fmt"
	"strings"
	"time"

	"github.com/luma-deploy/luma/drivers"
	"github.com/luma-deploy/luma/internal/naming"
	"github.com/luma-deploy/luma/machine"
)

// Verdicts.
const (
	Running = "RUNNING"
	Mixed   = "MIXED"
	Stopped = "STOPPED"
)

// ServerInput is what one server reported for one app.
type ServerInput struct {
	Name       string
	Containers []drivers.Container // labelled luma.project and luma.app
	Record     *machine.Record     // nil before the first deploy
	Lock       *drivers.Lock       // nil when no deploy holds it
	Route      *drivers.Route      // nil when the proxy serves no route
	// Certificates of the app's HTTPS hosts on this server.
	Certificates []drivers.Certificate
	Err          error // the server could not be read
	// ProxyErr: luma-proxy did not answer, so Record, Lock and Route are
	// unknown (not absent).
	ProxyErr error
}

// Server is the status of one app on one server.
type Server struct {
	Name    string        `json:"name"`
	State   machine.State `json:"state"`
	Active  string        `json:"active,omitempty"`
	Release string        `json:"release,omitempty"`
	Running int           `json:"running"`
	Desired int           `json:"desired"`
	Blue    int           `json:"blue"`
	Green   int           `json:"green"`
	Legacy  int           `json:"legacy,omitempty"` // containers from before blue-green
	Targets []string      `json:"targets,omitempty"`
	Deploy  string        `json:"deploy,omitempty"` // in progress / interrupted, in words
	Lock    *drivers.Lock `json:"lock,omitempty"`
	LastErr string        `json:"last_error,omitempty"`
	Outcome string        `json:"outcome,omitempty"`
	Updated time.Time     `json:"updated,omitempty"`
	// Timings is how long each state of the last deploy took, in seconds.
	Timings map[machine.State]float64 `json:"timings_seconds,omitempty"`
	Unreach string                    `json:"unreachable,omitempty"`
	// ProxyDown: luma-proxy did not answer; State is Unknown.
	ProxyDown string `json:"proxy_error,omitempty"`
	// Certificates of the app's HTTPS hosts, as this server's proxy has them.
	Certificates []drivers.Certificate `json:"certificates,omitempty"`
}

// Unknown is the state of a server whose luma-proxy, which keeps the
// deploy records, did not answer.
const Unknown machine.State = "unknown"

// App is the status of one app across its servers.
type App struct {
	App     string   `json:"app"`
	Status  string   `json:"status"`
	Active  string   `json:"active,omitempty"`
	Release string   `json:"release,omitempty"`
	Running int      `json:"running"`
	Desired int      `json:"desired"`
	Blue    int      `json:"blue"`
	Green   int      `json:"green"`
	Servers []Server `json:"servers"`
	Advice  []string `json:"advice,omitempty"` // what to do about a MIXED app
}

// Of computes an app's status; replicas is the desired count per server.
func Of(app string, replicas int, inputs []ServerInput, now time.Time) App {
	a := App{App: app}
	actives, releases := map[string]bool{}, map[string]bool{}
	for _, in := range inputs {
		s := server(in, replicas, now)
		a.Servers = append(a.Servers, s)
		a.Running += s.Running
		a.Desired += s.Desired
		a.Blue += s.Blue
		a.Green += s.Green
		if s.Active != "" {
			actives[s.Active] = true
		}
		if s.Release != "" {
			releases[s.Release] = true
		}
	}
	a.Active, a.Release = only(actives), only(releases)
	a.Status, a.Advice = verdict(app, a, actives, releases)
	return a
}

func server(in ServerInput, replicas int, now time.Time) Server {
	s := Server{Name: in.Name, State: machine.Idle, Desired: replicas}
	if in.Err != nil {
		s.Unreach = in.Err.Error()
		return s
	}
	if in.ProxyErr != nil {
		s.State, s.ProxyDown = Unknown, in.ProxyErr.Error()
	}
	if r := in.Record; r != nil {
		s.State, s.Active, s.Release = r.State, r.Active, r.Release
		s.LastErr, s.Outcome, s.Updated = r.Error, r.Outcome, r.UpdatedAt
		s.Timings = seconds(r.Timings)
		if r.State != machine.Idle && !machine.Switched(r.State) {
			s.Active, s.Release = r.FromColor, r.Previous // the old set still serves
		}
	}
	if in.Route != nil {
		s.Targets = in.Route.Targets
	}
	s.Certificates = in.Certificates
	for _, c := range in.Containers {
		if !c.Running() {
			continue
		}
		switch c.Labels[naming.LabelColor] {
		case naming.Blue:
			s.Blue++
		case naming.Green:
			s.Green++
		default:
			s.Legacy++
		}
	}
	// The route is what serves. A dead run may have swapped it without
	// recording the switch, so it outranks the record.
	if color, rel := routed(in); color != "" {
		s.Active, s.Release = color, rel
	}
	if s.Active == "" {
		s.Active = onlyColor(s)
	}
	switch s.Active {
	case naming.Blue:
		s.Running = s.Blue
	case naming.Green:
		s.Running = s.Green
	default:
		s.Running = s.Legacy
	}
	s.Lock = liveLock(in.Lock, now)
	s.Deploy = deployWords(s, in.Record)
	return s
}

// routed is the color and release of the containers the proxy's route
// targets, when they all share one; "" when there is no route or it points
// at containers of several colors or at legacy ones.
func routed(in ServerInput) (color, release string) {
	if in.Route == nil || len(in.Route.Targets) == 0 {
		return "", ""
	}
	byName := map[string]drivers.Container{}
	for _, c := range in.Containers {
		byName[c.Name] = c
	}
	for i, t := range in.Route.Targets {
		name := t
		if j := strings.LastIndexByte(t, ':'); j >= 0 {
			name = t[:j]
		}
		c, ok := byName[name]
		if !ok || c.Labels[naming.LabelColor] == "" {
			return "", ""
		}
		if i == 0 {
			color, release = c.Labels[naming.LabelColor], c.Labels[naming.LabelRelease]
		} else if c.Labels[naming.LabelColor] != color || c.Labels[naming.LabelRelease] != release {
			return "", ""
		}
	}
	return color, release
}

// onlyColor guesses the active color when no record names it (containers
// from before the store existed): the one color that runs, if only one does.
func onlyColor(s Server) string {
	switch {
	case s.Blue > 0 && s.Green == 0:
		return naming.Blue
	case s.Green > 0 && s.Blue == 0:
		return naming.Green
	}
	return ""
}

func liveLock(l *drivers.Lock, now time.Time) *drivers.Lock {
	if l == nil || !now.Before(l.Expires) {
		return nil
	}
	return l
}

// deployWords says what a non-idle machine state means for the user.
func deployWords(s Server, r *machine.Record) string {
	if r == nil || r.State == machine.Idle {
		return ""
	}
	if s.Lock != nil {
		return fmt.Sprintf("in progress: %s (%s → %s), by %s", r.State, r.FromColor, r.ToColor, s.Lock.Holder)
	}
	switch {
	case machine.Switched(r.State):
		return fmt.Sprintf("interrupted in %s after the switch: the next `luma deploy %s` finishes it", r.State, r.App)
	case r.State == machine.Switching:
		// The run may have died with the route already swapped: say where
		// traffic is (s.Active follows the route) rather than "before".
		on, back := s.Active, "puts it back on "+r.FromColor
		if on == "" {
			on = "no version"
		}
		if r.FromColor == "" {
			back = "takes the new route down"
		}
		return fmt.Sprintf("interrupted in switching, traffic on %s: the next `luma deploy %s` %s and rolls back", on, r.App, back)
	}
	return fmt.Sprintf("interrupted in %s before the switch: the next `luma deploy %s` rolls it back", r.State, r.App)
}

func verdict(app string, a App, actives, releases map[string]bool) (string, []string) {
	var advice []string
	if a.Running == 0 {
		return Stopped, []string{fmt.Sprintf("no container of %s runs: run `luma deploy %s`", app, app)}
	}
	mixed := false
	// Servers may serve one release in different colors (a server that
	// was put back on the old set while the others finished a switch):
	// that is no fault, and no deploy would make the colors agree.
	if len(releases) > 1 || len(actives) > 1 && len(releases) != 1 {
		mixed = true
		advice = append(advice, fmt.Sprintf("servers serve different colors or releases: run `luma deploy %s` to converge", app))
	}
	for _, s := range a.Servers {
		switch {
		case s.Unreach != "":
			mixed = true
			advice = append(advice, fmt.Sprintf("[%s] unreachable: %s", s.Name, s.Unreach))
		case s.ProxyDown != "":
			mixed = true
			advice = append(advice, fmt.Sprintf("[%s] %s", s.Name, proxyDown(s.ProxyDown)))
		case s.Running < s.Desired:
			mixed = true
			advice = append(advice, fmt.Sprintf("[%s] %d/%d replicas running: check `docker logs` of the stopped ones, then `luma deploy %s`", s.Name, s.Running, s.Desired, app))
		case s.Deploy != "" && s.Lock == nil:
			mixed = true
			advice = append(advice, fmt.Sprintf("[%s] deploy %s", s.Name, s.Deploy))
		}
	}
	if mixed {
		return Mixed, advice
	}
	return Running, nil
}

func only(set map[string]bool) string {
	if len(set) != 1 {
		return ""
	}
	for k := range set {
		return k
	}
	return ""
}

func seconds(t map[machine.State]time.Duration) map[machine.State]float64 {
	if len(t) == 0 {
		return nil
	}
	out := make(map[machine.State]float64, len(t))
	for k, v := range t {
		out[k] = v.Seconds()
	}
	return out
}

// proxyDown says that luma-proxy did not answer and what to run.
func proxyDown(err string) string {
	return fmt.Sprintf("luma-proxy is not answering (%s): deploy state, locks and routes unknown; run `luma setup` to start it", err)
}
