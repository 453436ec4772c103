package status

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/luma-deploy/luma/drivers"
)

// Text writes the spec's status block for one app, then one line per
// server and any advice.
func Text(w io.Writer, a App, now time.Time) {
	icon := map[string]string{Running: "✅", Mixed: "⚠️", Stopped: "⛔"}[a.Status]
	fmt.Fprintf(w, "📱 App: %s\n", a.App)
	if a.Active != "" {
		fmt.Fprintf(w, "   Status: %s %s (active: %s)\n", icon, a.Status, a.Active)
	} else {
		fmt.Fprintf(w, "   Status: %s %s\n", icon, a.Status)
	}
	fmt.Fprintf(w, "   Replicas: %d/%d running\n", a.Running, a.Desired)
	fmt.Fprintf(w, "   Colors: %d blue, %d green\n", a.Blue, a.Green)
	names := make([]string, len(a.Servers))
	for i, s := range a.Servers {
		names[i] = s.Name
	}
	fmt.Fprintf(w, "   Servers: %s\n", strings.Join(names, ", "))
	if a.Release != "" {
		fmt.Fprintf(w, "   Release: %s\n", a.Release)
	}
	for _, s := range a.Servers {
		fmt.Fprintf(w, "   [%s] %s\n", s.Name, serverLine(s))
		for _, c := range s.Certificates {
			fmt.Fprintf(w, "   [%s] https://%s: %s\n", s.Name, c.Host, certificateLine(c, now))
		}
	}
	for _, adv := range a.Advice {
		fmt.Fprintf(w, "   → %s\n", adv)
	}
}

func serverLine(s Server) string {
	if s.Unreach != "" {
		return "unreachable: " + s.Unreach
	}
	parts := []string{string(s.State)}
	if s.Active != "" {
		parts = append(parts, "active "+s.Active)
	}
	if s.Release != "" {
		parts = append(parts, "release "+s.Release)
	}
	parts = append(parts, fmt.Sprintf("%d/%d running", s.Running, s.Desired))
	if s.Legacy > 0 {
		parts = append(parts, fmt.Sprintf("%d from before blue-green", s.Legacy))
	}
	line := strings.Join(parts, ", ")
	if s.ProxyDown != "" {
		line += "; " + proxyDown(s.ProxyDown)
	}
	if s.Deploy != "" {
		line += "; deploy " + s.Deploy
	}
	if s.Outcome == "rolled_back" && s.LastErr != "" && s.Deploy == "" {
		line += "; last deploy rolled back: " + s.LastErr
	}
	return line
}

// certificateLine says who issued a host's certificate and when it
// expires, or why there is none.
func certificateLine(c drivers.Certificate, now time.Time) string {
	var line string
	switch {
	case c.NotAfter.IsZero() && c.Source == "custom":
		line = "no certificate: the app's own was not given to luma-proxy (run luma deploy)"
	case c.NotAfter.IsZero():
		line = "no certificate yet (ACME)"
	default:
		left := c.NotAfter.Sub(now)
		when := fmt.Sprintf("in %d days", int(left.Hours()/24))
		if left < 48*time.Hour {
			when = "in " + left.Round(time.Minute).String()
		}
		if left <= 0 {
			when = "EXPIRED"
		}
		line = fmt.Sprintf("certificate by %s (%s), expires %s (%s)", c.Issuer, c.Source, c.NotAfter.UTC().Format(time.DateOnly), when)
	}
	if c.LastError != "" {
		line += fmt.Sprintf("; last attempt failed: %s (next %s)", c.LastError, c.NextAttempt.UTC().Format(time.RFC3339))
	}
	return line
}
