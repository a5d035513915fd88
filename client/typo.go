package client

import "strings"

// commandNames are the commands the terminal client knows, bare or after a
// slash. /say and /msg, which only exist with the slash, are not here.
func commandNames() []string {
	return []string{"mission", "peersession", "complete", "message", "direct", "ping", "help", "checkout", "quit", "exit", "checkin"}
}

// isCommand reports whether name (lower-case) is a command.
func isCommand(name string) bool {
	for _, c := range commandNames() {
		if c == name {
			return true
		}
	}
	return false
}

// takesArgs reports whether the command name is followed by arguments.
func takesArgs(name string) bool {
	switch name {
	case "mission", "peersession", "message", "direct", "checkin":
		return true
	}
	return false
}

// nearestCommand returns the command that word (lower-case) is most likely
// a typo of, or "" if it is none's. A word is a typo of a command within
// edit distance 2, or 1 for the short names (help, ping, quit, exit): two
// edits of a four-letter word reach ordinary words such as "hello" and
// "hey", which should be said, not questioned.
func nearestCommand(word string) string {
	best, bestDist := "", 3
	for _, c := range commandNames() {
		limit := 2
		if len(c) < 6 {
			limit = 1
		}
		if d := editDistance(word, c); d <= limit && d < bestDist {
			best, bestDist = c, d
		}
	}
	return best
}

// editDistance is the optimal string alignment distance between a and b:
// insertions, deletions, substitutions and swaps of two neighbours each
// count one ("chekout" and "misison" are both one from their command).
func editDistance(a, b string) int {
	if len(a) > 64 || len(b) > 64 {
		return max(len(a), len(b)) // too long to be a typo of a command
	}
	// Three rows of the classic table: two back, one back, this one.
	var rows [3][65]int
	prev2, prev, cur := &rows[0], &rows[1], &rows[2]
	for j := range len(b) + 1 {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				cur[j] = min(cur[j], prev2[j-2]+1)
			}
		}
		prev2, prev, cur = prev, cur, prev2
	}
	return prev[len(b)]
}

// firstWord splits a line into its first word, lower-cased, and the rest,
// trimmed.
func firstWord(text string) (word, rest string) {
	word, rest, _ = strings.Cut(text, " ")
	return strings.ToLower(word), strings.TrimSpace(rest)
}
