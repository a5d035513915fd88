package client

import "testing"

func TestEditDistance(t *testing.T) {
	tests := []struct {
		a, b string
		want int
	}{
		{"", "", 0},
		{"", "help", 4},
		{"mission", "mission", 0},
		{"mision", "mission", 1},
		{"misison", "mission", 1}, // a swap is one edit
		{"chekout", "checkout", 1},
		{"compelte", "complete", 1},
		{"hello", "help", 2},
		{"session", "mission", 2},
		{"kitten", "sitting", 3},
	}
	for _, tt := range tests {
		if got := editDistance(tt.a, tt.b); got != tt.want {
			t.Errorf("editDistance(%q, %q) = %d, want %d", tt.a, tt.b, got, tt.want)
		}
		if got := editDistance(tt.b, tt.a); got != tt.want {
			t.Errorf("editDistance(%q, %q) = %d, want %d", tt.b, tt.a, got, tt.want)
		}
	}
}

func TestNearestCommand(t *testing.T) {
	tests := []struct {
		give string
		want string
	}{
		{"mision", "mission"},
		{"missions", "mission"},
		{"chekout", "checkout"},
		{"peersesion", "peersession"},
		{"compelte", "complete"},
		{"drect", "direct"},
		{"mesage", "message"},
		{"hlep", "help"},
		{"qiut", "quit"},
		// Ordinary words stay words.
		{"hello", ""},
		{"hey", ""},
		{"hi", ""},
		{"yes", ""},
		{"thanks", ""},
		{"ready", ""},
		{"supercalifragilisticexpialidocious-and-then-some-more-letters-to-pass-64", ""},
	}
	for _, tt := range tests {
		if got := nearestCommand(tt.give); got != tt.want {
			t.Errorf("nearestCommand(%q) = %q, want %q", tt.give, got, tt.want)
		}
	}
}
