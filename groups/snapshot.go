package groups

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"math"

	"campfire/protocol"
)

// SnapshotVersion is the version of the encoding AppendSnapshot writes.
// Restore reads this version only; any change to the encoding bumps it.
const SnapshotVersion = 1

// snapshotMagic starts every snapshot, so that other data is told apart
// from a snapshot of another version.
const snapshotMagic = "campsnap"

// Restore's errors wrap one of these.
var (
	// ErrBadSnapshot: the data is not a whole snapshot (truncated,
	// checksum mismatch, a value out of range, or a key the key function
	// refused).
	ErrBadSnapshot = errors.New("bad camp snapshot")
	// ErrSnapshotVersion: a snapshot of another version of the encoding.
	ErrSnapshotVersion = errors.New("unsupported camp snapshot version")
	// ErrConfigMismatch: a snapshot of a camp with another id range or
	// camper limit than the Config given.
	ErrConfigMismatch = errors.New("camp snapshot of another configuration")
)

// The head byte of a group in a snapshot.
const (
	headCampers   = 0x07 // bits 0-2: how many campers, 1..GroupSize
	headSession   = 0x08 // a session runs
	headHostShift = 4    // bits 4-5: the host's seat, with headSession
	headReserved  = 0xc0 // must be 0
)

// AppendSnapshot appends the camp's whole state to dst, in a compact,
// versioned binary encoding, and returns the extended slice. key appends
// the encoding of connection p (in the server, its node, epoch and
// connection id); it must only append, and Restore's key must read it back
// from exactly those bytes. The snapshot has everything that decides a
// later result, so a camp restored from it answers every later call as
// this one would, byte for byte: the same seats, group numbers, events and
// event order. Equal states give equal snapshots.
//
// The encoding, version 1; numbers are unsigned varints unless marked:
//
//	"campsnap" version(byte)
//	id range: letter(byte) digits min max; camper limit (0 = none)
//	draining(byte 0/1) group slots, campers, non-empty groups
//	each non-empty group, by ascending number:
//	  number minus the previous one's
//	  head(byte): campers (bits 0-2), session (bit 3), host's seat (bits 4-5)
//	  with a session: cap, remaining
//	  each camper in seat order:
//	    id, check-in unix nanoseconds minus the previous camper's (signed)
//	    key length, key
//	CRC-32C of all the above (4 bytes, little-endian)
//
// It costs one pass over the group table plus key per camper, and
// allocates nothing when dst has room: BenchmarkSnapshot has the figures
// at 19,000 campers (about 10 bytes per camper plus the keys).
func (c *Camp[P]) AppendSnapshot(dst []byte, key func(dst []byte, p P) []byte) []byte {
	start := len(dst)
	dst = append(dst, snapshotMagic...)
	dst = append(dst, SnapshotVersion, c.ids.Letter)
	dst = binary.AppendUvarint(dst, uint64(c.ids.Digits))
	dst = binary.AppendUvarint(dst, uint64(c.ids.Min))
	dst = binary.AppendUvarint(dst, uint64(c.ids.Max))
	dst = binary.AppendUvarint(dst, uint64(max(c.maxCampers, 0)))
	var draining byte
	if c.draining {
		draining = 1
	}
	dst = append(dst, draining)
	dst = binary.AppendUvarint(dst, uint64(c.groups.len()))
	dst = binary.AppendUvarint(dst, uint64(len(c.byID)))
	dst = binary.AppendUvarint(dst, uint64(c.live))

	prevNum, prevSince := 0, int64(0)
	for num, g := range c.groups.all {
		if g.n == 0 {
			continue
		}
		dst = binary.AppendUvarint(dst, uint64(num-prevNum))
		prevNum = num
		head := byte(g.n)
		if g.session {
			head |= headSession | byte(g.seat(g.host))<<headHostShift
		}
		dst = append(dst, head)
		if g.session {
			dst = binary.AppendUvarint(dst, uint64(g.max))
			dst = binary.AppendUvarint(dst, uint64(g.remaining))
		}
		for j := range g.n {
			dst = binary.AppendUvarint(dst, uint64(g.ids[j]))
			dst = binary.AppendVarint(dst, g.since[j]-prevSince) // wraps, and so does Restore
			prevSince = g.since[j]
			dst = appendKey(dst, key, g.conns[j])
		}
	}
	sum := crc32.Checksum(dst[start:], crc32.MakeTable(crc32.Castagnoli))
	return binary.LittleEndian.AppendUint32(dst, sum)
}

// appendKey appends key's encoding of p, preceded by its length. It leaves
// one byte for the length, enough for a key shorter than 128 bytes, and
// moves the key only when it needs more.
func appendKey[P comparable](dst []byte, key func([]byte, P) []byte, p P) []byte {
	at := len(dst)
	dst = key(append(dst, 0), p)
	n := len(dst) - at - 1
	if n < 0 {
		panic("groups: AppendSnapshot's key function shortened dst")
	}
	if n < 0x80 {
		dst[at] = byte(n)
		return dst
	}
	var lenBuf [binary.MaxVarintLen64]byte
	l := binary.PutUvarint(lenBuf[:], uint64(n))
	dst = append(dst, lenBuf[1:l]...)
	copy(dst[at+l:], dst[at+1:at+1+n]) // copy moves overlapping bytes right
	copy(dst[at:], lenBuf[:l])
	return dst
}

// seat returns the index of id, who must be in g.
func (g *group[P]) seat(id protocol.CampID) int {
	i := 0
	for g.ids[i] != id {
		i++
	}
	return i
}

// Restore returns the camp that data, written by AppendSnapshot, holds.
// cfg must be the Config of the camp that wrote it (id range and camper
// limit; ErrConfigMismatch otherwise). key decodes one connection from
// exactly the bytes the snapshot's key function appended (a slice of data,
// so it copies what it keeps); no two campers may decode to the same
// connection, and a connection must be in no other live camp, since
// Restore writes its Seat (a restore that fails leaves seats that no camp
// counts). An error wraps ErrBadSnapshot, ErrSnapshotVersion or
// ErrConfigMismatch, and says what is wrong where; no input makes Restore
// panic, and a camp it returns is whole.
//
// Restore checks the checksum and every value, builds the map, the seats
// and the heaps in one pass, and allocates little more than the camp itself:
// BenchmarkRestore has the figures at 19,000 campers.
func Restore[P Conn](cfg Config, data []byte, key func(b []byte) (P, error)) (*Camp[P], error) {
	c := New[P](cfg)
	if err := c.restore(data, key); err != nil {
		return nil, err
	}
	return c, nil
}

// restore fills c, which must be new, from data.
func (c *Camp[P]) restore(data []byte, key func([]byte) (P, error)) error {
	head := len(snapshotMagic) + 1
	if !bytes.HasPrefix(data, []byte(snapshotMagic)) {
		return fmt.Errorf("%w: does not start with %q", ErrBadSnapshot, snapshotMagic)
	}
	if len(data) < head {
		return fmt.Errorf("%w: truncated after %d bytes", ErrBadSnapshot, len(data))
	}
	if v := data[head-1]; v != SnapshotVersion {
		return fmt.Errorf("%w: version %d, this build reads %d", ErrSnapshotVersion, v, SnapshotVersion)
	}
	if len(data) < head+4 {
		return fmt.Errorf("%w: truncated after %d bytes", ErrBadSnapshot, len(data))
	}
	end := len(data) - 4
	want := binary.LittleEndian.Uint32(data[end:])
	if got := crc32.Checksum(data[:end], crc32.MakeTable(crc32.Castagnoli)); got != want {
		return fmt.Errorf("%w: checksum %08x, want %08x (%d bytes)", ErrBadSnapshot, got, want, len(data))
	}
	d := decoder{b: data[:end], off: head}

	var ids protocol.IDRange
	ids.Letter = d.byte("id letter", math.MaxUint8)
	ids.Digits = int(d.uvarint("id digits", 10))
	ids.Min = protocol.CampID(d.uvarint("lowest id", math.MaxUint32))
	ids.Max = protocol.CampID(d.uvarint("highest id", math.MaxUint32))
	maxCampers := int(d.uvarint("camper limit", math.MaxInt))
	if d.err != nil {
		return d.err
	}
	if ids != c.ids || maxCampers != max(c.maxCampers, 0) {
		return fmt.Errorf("%w: snapshot %s, config %s", ErrConfigMismatch, describe(ids, maxCampers), describe(c.ids, c.maxCampers))
	}

	// A new group number is only ever taken when every group before it is
	// full, so a camp of at most limit campers has at most ceil(limit/4).
	limit := uint64(0)
	if c.ids.Max >= c.ids.Min {
		limit = uint64(c.ids.Max-c.ids.Min) + 1
	}
	if c.maxCampers > 0 {
		limit = min(limit, uint64(c.maxCampers))
	}
	c.draining = d.byte("draining", 1) == 1
	slots := int(d.uvarint("group slots", (limit+GroupSize-1)/GroupSize))
	// Every camper takes at least 3 bytes (id, time, key length) and every
	// group 2 more, so that corrupt counts cannot make Restore allocate
	// more than the data could describe.
	campers := int(d.uvarint("campers", min(limit, uint64(d.left()/3))))
	live := int(d.uvarint("groups", min(uint64(slots), uint64(campers), uint64(d.left()/5))))
	if d.err != nil {
		return d.err
	}

	c.groups.reset(slots)
	c.byID = make(map[protocol.CampID]int32, campers)
	num, since := 0, int64(0)
	for range live {
		step := int(d.uvarint("group number step", uint64(slots-num)))
		head := d.byte("group head", math.MaxUint8)
		if d.err != nil {
			return d.err
		}
		if step == 0 {
			return d.errorf("group number step 0 after group %d", num)
		}
		num += step
		g := c.groups.at(num)
		g.n = int(head & headCampers)
		host := int(head>>headHostShift) & (GroupSize - 1)
		switch {
		case head&headReserved != 0:
			return d.errorf("group %d: head %#02x has reserved bits set", num, head)
		case g.n < 1 || g.n > GroupSize:
			return d.errorf("group %d: %d campers, want 1 to %d", num, g.n, GroupSize)
		case head&headSession == 0 && host != 0:
			return d.errorf("group %d: head %#02x has a host but no session", num, head)
		case head&headSession != 0 && host >= g.n:
			return d.errorf("group %d: host in seat %d of %d", num, host+1, g.n)
		}
		if head&headSession != 0 {
			g.session = true
			g.max = int32(d.uvarint("session cap", protocol.MaxPeerSession))
			g.remaining = int32(d.uvarint("session remaining", uint64(g.max)))
			if d.err != nil {
				return d.err
			}
			if g.remaining < 1 {
				return d.errorf("group %d: session of %d with %d messages left", num, g.max, g.remaining)
			}
			c.runs++
		}
		for j := range g.n {
			id := protocol.CampID(d.uvarint("camp id", uint64(c.ids.Max)))
			since += d.varint("check-in time")
			k := d.bytes("key", int(d.uvarint("key length", uint64(d.left()))))
			if d.err != nil {
				return d.err
			}
			if id < c.ids.Min {
				return d.errorf("group %d: id %d below %s", num, id, c.ids.Format(c.ids.Min))
			}
			if other, ok := c.byID[id]; ok {
				return d.errorf("group %d: %s already in group %d", num, c.ids.Format(id), other)
			}
			p, err := key(k)
			if err != nil {
				return fmt.Errorf("%w: key of %s: %w", ErrBadSnapshot, c.ids.Format(id), err)
			}
			if on, at, ok := c.find(p); ok {
				return d.errorf("group %d: %s has the connection of %s", num, c.ids.Format(id), c.ids.Format(c.groups.at(on).ids[at]))
			}
			g.ids[j], g.since[j], g.conns[j] = id, since, p
			c.byID[id] = int32(num)
			*p.Seat() = Seat{num: int32(num)}
		}
		if g.session {
			g.host = g.ids[host]
		}
	}
	switch {
	case len(c.byID) != campers:
		return d.errorf("%d campers in the groups, header says %d", len(c.byID), campers)
	case d.left() != 0:
		return d.errorf("%d bytes after the last group", d.left())
	}

	// Numbers pushed in ascending order are a heap as they stand.
	for num, g := range c.groups.all {
		switch n := g.n; {
		case n == 0:
			c.free.push(num)
		case n < GroupSize:
			c.seats.push(num)
		}
	}
	c.live = live
	return nil
}

// describe says what a camp's Config is, for ErrConfigMismatch.
func describe(ids protocol.IDRange, maxCampers int) string {
	if maxCampers <= 0 {
		return fmt.Sprintf("ids %s, no camper limit", ids)
	}
	return fmt.Sprintf("ids %s, at most %d campers", ids, maxCampers)
}

// decoder reads a snapshot's values. Its first error sticks: later reads
// return zero values, and the caller checks err before it uses them.
type decoder struct {
	b   []byte
	off int
	err error
}

// left is the number of bytes not read yet.
func (d *decoder) left() int { return len(d.b) - d.off }

// errorf sets (or returns the earlier) error, wrapping ErrBadSnapshot and
// saying where in the data it is.
func (d *decoder) errorf(format string, args ...any) error {
	if d.err == nil {
		d.err = fmt.Errorf("%w: %s at byte %d", ErrBadSnapshot, fmt.Sprintf(format, args...), d.off)
	}
	return d.err
}

// byte reads one byte, at most max.
func (d *decoder) byte(what string, max byte) byte {
	if d.err != nil {
		return 0
	}
	if d.left() < 1 {
		d.errorf("%s: truncated", what)
		return 0
	}
	v := d.b[d.off]
	if v > max {
		d.errorf("%s %d: above %d", what, v, max)
		return 0
	}
	d.off++
	return v
}

// uvarint reads an unsigned varint in its shortest form, at most max.
func (d *decoder) uvarint(what string, max uint64) uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b[d.off:])
	switch {
	case n == 0:
		d.errorf("%s: truncated", what)
	case n < 0:
		d.errorf("%s: varint overflows 64 bits", what)
	case n > 1 && d.b[d.off+n-1] == 0:
		d.errorf("%s: varint not in its shortest form", what)
	case v > max:
		d.errorf("%s %d: above %d", what, v, max)
	}
	if d.err != nil {
		return 0
	}
	d.off += n
	return v
}

// varint reads a signed (zig-zag) varint in its shortest form.
func (d *decoder) varint(what string) int64 {
	u := d.uvarint(what, math.MaxUint64)
	return int64(u>>1) ^ -int64(u&1)
}

// bytes reads n bytes.
func (d *decoder) bytes(what string, n int) []byte {
	if d.err != nil {
		return nil
	}
	if d.left() < n {
		d.errorf("%s: truncated", what)
		return nil
	}
	b := d.b[d.off : d.off+n : d.off+n]
	d.off += n
	return b
}
