package logs

import (
	"fmt"
	"time"
)

// ParseSince reads --since: a duration before now (10m, 1h30m) or an
// RFC 3339 time (2025-01-02T15:04:05Z, fractions and offsets allowed).
func ParseSince(s string, now time.Time) (time.Time, error) {
	if d, err := time.ParseDuration(s); err == nil {
		if d < 0 {
			return time.Time{}, fmt.Errorf("--since %q: a duration before now must be positive", s)
		}
		return now.Add(-d), nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("--since %q: want a duration such as 10m or 2h, or an RFC 3339 time such as 2025-01-02T15:04:05Z", s)
	}
	return t, nil
}
