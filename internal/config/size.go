package config

import (
	"math"
	"strconv"
	"strings"
)

// sizeUnits are the units a size may be written in, binary and decimal.
var sizeUnits = map[string]int64{
	"": 1, "b": 1,
	"k": 1 << 10, "kb": 1000, "kib": 1 << 10,
	"m": 1 << 20, "mb": 1000 * 1000, "mib": 1 << 20,
	"g": 1 << 30, "gb": 1000 * 1000 * 1000, "gib": 1 << 30,
}

// parseSize reads "10MiB", "1g", "512 KB" or a plain number of bytes. 0
// means no limit.
func parseSize(s string) (int64, bool) {
	s = strings.TrimSpace(s)
	i := strings.IndexFunc(s, func(r rune) bool { return (r < '0' || r > '9') && r != '.' })
	num, unit := s, ""
	if i >= 0 {
		num, unit = s[:i], strings.ToLower(strings.TrimSpace(s[i:]))
	}
	mult, ok := sizeUnits[unit]
	if !ok || num == "" {
		return 0, false
	}
	f, err := strconv.ParseFloat(num, 64)
	if err != nil || f < 0 || f*float64(mult) > math.MaxInt64/2 {
		return 0, false
	}
	return int64(f * float64(mult)), true
}

// size reads a byte size, e.g. max_body_size: 100MiB.
func (d *decoder) size(e entry) (int64, bool) {
	n, ok := d.scalar(e, `a size such as "100MiB"`)
	if !ok {
		return 0, false
	}
	v, ok := parseSize(n.Value)
	if !ok {
		d.errorf(e.val, e.path, `invalid size %s: use a number and a unit, e.g. "100MiB", "1GiB", "512KB" (0 for no limit)`, quote(n.Value))
		return 0, false
	}
	return v, true
}
