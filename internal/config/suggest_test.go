package config

import "testing"

func TestSuggest(t *testing.T) {
	for key, want := range map[string]string{
		"replica":      "replicas",
		"helth_check":  "health_check",
		"healthcheck":  "health_check",
		"health-check": "health_check",
		"Replicas":     "replicas",
		"env":          "environment",
		"drainTimeout": "drain_timeout",
		"imag":         "image",
		"serverz":      "servers",
		"zzz":          "",
		"x":            "",
		"ab":           "",
	} {
		if got := suggest(key, appKeys); got != want {
			t.Errorf("suggest(%q) = %q, want %q", key, got, want)
		}
	}
}

func TestLevenshtein(t *testing.T) {
	for _, tt := range []struct {
		a, b string
		want int
	}{{"", "", 0}, {"a", "", 1}, {"kitten", "sitting", 3}, {"replica", "replicas", 1}, {"héllo", "hello", 1}} {
		if got := levenshtein(tt.a, tt.b); got != tt.want {
			t.Errorf("levenshtein(%q, %q) = %d, want %d", tt.a, tt.b, got, tt.want)
		}
	}
}
