package groups

import (
	"slices"
	"testing"
)

func TestNumHeap(t *testing.T) {
	tests := []struct {
		name string
		give []int // n > 0 pushes n, n < 0 removes -n
		want []int // the set afterwards, in order
	}{
		{"empty", nil, nil},
		{"pushes in any order", []int{5, 3, 9, 1, 7}, []int{1, 3, 5, 7, 9}},
		{"remove the smallest", []int{4, 2, 6, -2}, []int{4, 6}},
		{"remove from the middle", []int{1, 2, 3, 4, 5, 6, 7, 8, -4, -7}, []int{1, 2, 3, 5, 6, 8}},
		{"remove the last", []int{3, 1, 2, -2}, []int{1, 3}},
		{"remove an absent number", []int{1, 2, -3, -10}, []int{1, 2}},
		{"push again after remove", []int{2, 1, -1, 1, -2, 2}, []int{1, 2}},
		{"remove all", []int{3, 1, 2, -1, -2, -3}, nil},
		{"remove a leaf that must move up", []int{1, 10, 2, 11, 12, 3, 4, -11}, []int{1, 2, 3, 4, 10, 12}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var h numHeap
			for _, n := range tt.give {
				if n > 0 {
					h.push(n)
				} else {
					h.remove(-n)
				}
				checkHeap(t, tt.name, &h, 100)
			}
			var got []int
			for h.len() > 0 {
				n, _ := h.min()
				got = append(got, n)
				h.remove(n)
				checkHeap(t, tt.name, &h, 100)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("drained %v, want %v", got, tt.want)
			}
			if _, ok := h.min(); ok {
				t.Error("min of an empty heap reports ok")
			}
		})
	}
}
