package groups

// numHeap is a set of group numbers (1, 2, ...) with the smallest at hand:
// min is O(1), push and remove are O(log n). It remembers where each number
// sits in the heap, so that any member can be removed, not just the
// smallest. The Camp keeps two: the groups that have a free seat and the
// unused numbers below the highest ever used.
type numHeap struct {
	nums []int // heap-ordered: nums[i] <= nums[2i+1], nums[2i+2]
	at   []int // at[n-1] is n's index in nums, or -1 when n is absent
}

// min returns the smallest number in the set.
func (h *numHeap) min() (int, bool) {
	if len(h.nums) == 0 {
		return 0, false
	}
	return h.nums[0], true
}

// has reports whether n is in the set.
func (h *numHeap) has(n int) bool {
	return n-1 < len(h.at) && h.at[n-1] >= 0
}

// len is the size of the set.
func (h *numHeap) len() int { return len(h.nums) }

// push adds n, which must not be in the set.
func (h *numHeap) push(n int) {
	for len(h.at) < n {
		h.at = append(h.at, -1)
	}
	h.nums = append(h.nums, n)
	h.at[n-1] = len(h.nums) - 1
	h.up(len(h.nums) - 1)
}

// remove takes n out of the set if it is there.
func (h *numHeap) remove(n int) {
	if !h.has(n) {
		return
	}
	i, last := h.at[n-1], len(h.nums)-1
	h.at[n-1] = -1
	if i == last {
		h.nums = h.nums[:last]
		return
	}
	h.nums[i] = h.nums[last]
	h.at[h.nums[i]-1] = i
	h.nums = h.nums[:last]
	if !h.up(i) {
		h.down(i)
	}
}

// up moves the number at i towards the root; it reports whether it moved.
func (h *numHeap) up(i int) bool {
	start := i
	for i > 0 {
		parent := (i - 1) / 2
		if h.nums[parent] <= h.nums[i] {
			break
		}
		h.swap(i, parent)
		i = parent
	}
	return i != start
}

// down moves the number at i towards the leaves.
func (h *numHeap) down(i int) {
	for {
		least, l, r := i, 2*i+1, 2*i+2
		if l < len(h.nums) && h.nums[l] < h.nums[least] {
			least = l
		}
		if r < len(h.nums) && h.nums[r] < h.nums[least] {
			least = r
		}
		if least == i {
			return
		}
		h.swap(i, least)
		i = least
	}
}

func (h *numHeap) swap(i, j int) {
	h.nums[i], h.nums[j] = h.nums[j], h.nums[i]
	h.at[h.nums[i]-1] = i
	h.at[h.nums[j]-1] = j
}
