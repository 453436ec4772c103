package status

import (
	"fmt"
	"io"
	"strings"
)

// Text writes the spec's status block for one app, then one line per
// server and any advice.
func Text(w io.Writer, a App) {
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
