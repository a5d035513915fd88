package groups

// Digest returns a hash of the camp's logical state: every non-empty group
// by number, its campers' ids and check-in times in seat order, its
// session (host, cap, remaining) and whether the camp is draining. Equal
// states have equal digests, so replicas fed the same log can be compared
// by it. The connections (P), map order and heap layout do not count, nor
// do empty groups above the highest non-empty one: the next new group
// takes the lowest free number either way.
//
// It is not a cryptographic hash, but a change of any single value always
// changes it (each step of the hash is a bijection of its state), and
// other changes collide only by chance, about once in 2^64. It costs one
// walk of the group table, O(groups + campers), about 5 ns per camper
// (0.1 ms at 19,000 campers on a 2-core EPYC; BenchmarkDigest), and
// allocates nothing: fine after every batch of log entries at debug level,
// too much for every request in production.
func (c *Camp[P]) Digest() uint64 {
	// Two independent lanes, the groups and ids in one and the check-in
	// times in the other, let the CPU mix two words at once.
	a, b := digest(digestSeed), digest(digestSeed)
	for num, g := range c.groups.all {
		if g.n == 0 {
			continue
		}
		w := uint64(num)<<32 | uint64(g.n)<<1
		if g.session {
			a.add(w | 1)
			a.add(uint64(g.host)<<32 | uint64(g.remaining))
			a.add(uint64(g.max))
		} else {
			a.add(w)
		}
		for j := range g.n {
			a.add(uint64(g.ids[j]))
			b.add(uint64(g.since[j]))
		}
	}
	// No group header is 0, so this ends the groups unambiguously.
	a.add(0)
	if c.draining {
		a.add(1)
	} else {
		a.add(0)
	}
	return (a ^ digest(b.sum())).sum()
}

// digestSeed starts every digest; change it with the digest's definition,
// so that digests of two definitions do not compare equal by accident.
const digestSeed = 0x63616d7064696731 // "campdig1"

// digest is a 64-bit hash of a sequence of 64-bit words.
type digest uint64

// add mixes w into d. For a fixed d it is injective in w, and for a fixed w
// a bijection of d (xor, a multiplication by an odd number, an xorshift),
// so two sequences that differ in one word always hash differently.
func (d *digest) add(w uint64) {
	x := (uint64(*d) ^ w) * 0x9e3779b97f4a7c15
	*d = digest(x ^ x>>29)
}

// sum returns the hash, with a final mix (splitmix64's) so that every bit
// of the state reaches every bit of the result.
func (d digest) sum() uint64 {
	x := uint64(d)
	x = (x ^ x>>30) * 0xbf58476d1ce4e5b9
	x = (x ^ x>>27) * 0x94d049bb133111eb
	return x ^ x>>31
}
