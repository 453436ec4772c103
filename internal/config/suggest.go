package config

import "strings"

// suggest returns the known key a mistyped key most likely meant: within
// edit distance 2 (replica → replicas, helth_check → health_check), or a
// prefix either way (env → environment). Empty when nothing is close.
func suggest(key string, known []string) string {
	k := strings.ToLower(strings.ReplaceAll(key, "-", "_"))
	best, bestDist := "", 3
	for _, c := range known {
		dist := levenshtein(k, c)
		if dist >= len(k) { // "ab" is two edits from anything short
			continue
		}
		if dist < bestDist {
			best, bestDist = c, dist
		}
	}
	if best != "" {
		return best
	}
	if len(k) >= 3 {
		for _, c := range known {
			if strings.HasPrefix(c, k) || strings.HasPrefix(k, c) {
				return c
			}
		}
	}
	return ""
}

// levenshtein counts single-rune edits between a and b.
func levenshtein(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(rb)]
}
