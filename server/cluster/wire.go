package cluster

import (
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"strings"
)

// The log's message format. One JetStream message carries the entries one
// node produced in one go:
//
//	version  1 byte (wireVersion)
//	epoch    8 bytes, little endian: the sender's epoch
//	name     1 byte length, then the sender's node name
//	entries  until the end, each: kind (1 byte), length (uvarint), body
//
// A data entry's body is the server's record, opaque here. A node-up entry
// has an empty body: the sender announces itself. A node-down entry's body
// is the epoch (8 bytes) and then the name of the node declared down.
const (
	wireVersion = 1
	headerMin   = 1 + 8 + 1
)

// Kind says what an entry is.
type Kind uint8

// The kinds of entry. Data entries are the server's; the others are the
// package's own membership records, delivered to the server in log order
// because they change the camp too.
const (
	// KindData is a server record, appended with Append.
	KindData Kind = iota + 1
	// KindNodeUp says the node (Node, Epoch) has joined the camp.
	KindNodeUp
	// KindNodeDown says the node (Node, Epoch) has left or is declared
	// dead: every camper it held must be checked out.
	KindNodeDown
)

func (k Kind) String() string {
	switch k {
	case KindData:
		return "data"
	case KindNodeUp:
		return "node-up"
	case KindNodeDown:
		return "node-down"
	}
	return fmt.Sprintf("Kind(%d)", uint8(k))
}

var errShort = errors.New("truncated")

// appendHeader starts a log message from node name at epoch.
func appendHeader(dst []byte, name string, epoch uint64) []byte {
	dst = append(dst, wireVersion)
	dst = binary.LittleEndian.AppendUint64(dst, epoch)
	dst = append(dst, byte(len(name)))
	return append(dst, name...)
}

// appendEntry adds one entry to a log message.
func appendEntry(dst []byte, kind Kind, body []byte) []byte {
	dst = append(dst, byte(kind))
	dst = binary.AppendUvarint(dst, uint64(len(body)))
	return append(dst, body...)
}

// entrySize is how many bytes appendEntry adds for a body of n bytes.
func entrySize(n int) int {
	size := 2
	for v := uint64(n); v >= 0x80; v >>= 7 {
		size++
	}
	return size + n
}

// nodeDownBody encodes the body of a node-down entry.
func nodeDownBody(name string, epoch uint64) []byte {
	b := binary.LittleEndian.AppendUint64(make([]byte, 0, 8+len(name)), epoch)
	return append(b, name...)
}

// message is a decoded log message header; rest holds the entries.
type message struct {
	name  []byte
	epoch uint64
	rest  []byte
}

func decodeHeader(b []byte) (message, error) {
	var m message
	if len(b) < headerMin {
		return m, errShort
	}
	if b[0] != wireVersion {
		return m, fmt.Errorf("version %d: want %d", b[0], wireVersion)
	}
	m.epoch = binary.LittleEndian.Uint64(b[1:9])
	n := int(b[9])
	if n == 0 || len(b) < headerMin+n {
		return m, errShort
	}
	m.name = b[headerMin : headerMin+n]
	m.rest = b[headerMin+n:]
	return m, nil
}

// next cuts the next entry off m.rest; ok is false at the end.
func (m *message) next() (kind Kind, body []byte, ok bool, err error) {
	if len(m.rest) == 0 {
		return 0, nil, false, nil
	}
	kind = Kind(m.rest[0])
	size, n := binary.Uvarint(m.rest[1:])
	if n <= 0 || size > uint64(len(m.rest)-1-n) {
		return 0, nil, false, errShort
	}
	start := 1 + n
	body = m.rest[start : start+int(size) : start+int(size)]
	m.rest = m.rest[start+int(size):]
	return kind, body, true, nil
}

func decodeNodeDown(body []byte) (name []byte, epoch uint64, err error) {
	if len(body) < 9 {
		return nil, 0, errShort
	}
	return body[8:], binary.LittleEndian.Uint64(body), nil
}

// Heartbeats go over core NATS, not the log:
//
//	version  1 byte
//	epoch    8 bytes
//	applied  8 bytes: the last log sequence the node has taken in
//	name     the rest
func appendHeartbeat(dst []byte, name string, epoch, applied uint64) []byte {
	dst = append(dst, wireVersion)
	dst = binary.LittleEndian.AppendUint64(dst, epoch)
	dst = binary.LittleEndian.AppendUint64(dst, applied)
	return append(dst, name...)
}

func decodeHeartbeat(b []byte) (name []byte, epoch, applied uint64, err error) {
	if len(b) < 18 {
		return nil, 0, 0, errShort
	}
	if b[0] != wireVersion {
		return nil, 0, 0, fmt.Errorf("version %d: want %d", b[0], wireVersion)
	}
	return b[17:], binary.LittleEndian.Uint64(b[1:]), binary.LittleEndian.Uint64(b[9:]), nil
}

// members is the replicated membership: for each node name that has
// joined, its epoch and whether it is up. A name that went down keeps its
// last epoch, so that a late announcement of that epoch cannot bring it
// back (a node comes back with a new epoch). It changes only by applying
// log entries, so it is the same on every node after the same sequence,
// and it is saved with every snapshot. A value is never modified once
// published: a change makes a new one.
type members struct {
	names  []string // sorted
	epochs []uint64 // epochs[i] belongs to names[i]
	up     []bool   // up[i]: names[i] is a member at epochs[i]
}

func (m *members) find(name []byte) (int, bool) {
	if m == nil {
		return 0, false
	}
	return slices.BinarySearchFunc(m.names, name, func(a string, b []byte) int { return strings.Compare(a, string(b)) })
}

// epoch returns the epoch name is a member at; false if it is not one.
func (m *members) epoch(name []byte) (uint64, bool) {
	i, ok := m.find(name)
	if !ok || !m.up[i] {
		return 0, false
	}
	return m.epochs[i], true
}

// gone reports whether name went down at epoch.
func (m *members) gone(name []byte, epoch uint64) bool {
	i, ok := m.find(name)
	return ok && !m.up[i] && m.epochs[i] == epoch
}

// with returns a copy of m with name up at epoch.
func (m *members) with(name string, epoch uint64) *members {
	return m.set(name, epoch, true)
}

// down returns a copy of m with name down at epoch.
func (m *members) down(name string, epoch uint64) *members {
	return m.set(name, epoch, false)
}

func (m *members) set(name string, epoch uint64, up bool) *members {
	out := &members{}
	if m != nil {
		out.names, out.epochs, out.up = slices.Clone(m.names), slices.Clone(m.epochs), slices.Clone(m.up)
	}
	i, ok := slices.BinarySearch(out.names, name)
	if ok {
		out.epochs[i], out.up[i] = epoch, up
		return out
	}
	out.names = slices.Insert(out.names, i, name)
	out.epochs = slices.Insert(out.epochs, i, epoch)
	out.up = slices.Insert(out.up, i, up)
	return out
}

// live calls f for each member, in name order, until f returns false.
func (m *members) live(f func(name string, epoch uint64) bool) {
	if m == nil {
		return
	}
	for i, name := range m.names {
		if m.up[i] && !f(name, m.epochs[i]) {
			return
		}
	}
}

// count returns the number of members.
func (m *members) count() int {
	n := 0
	m.live(func(string, uint64) bool { n++; return true })
	return n
}

// first returns the member with the lowest name.
func (m *members) first() (name string, epoch uint64, ok bool) {
	m.live(func(n string, e uint64) bool {
		name, epoch, ok = n, e, true
		return false
	})
	return name, epoch, ok
}

func (m *members) len() int {
	if m == nil {
		return 0
	}
	return len(m.names)
}

// Snapshot objects hold the package's state next to the server's:
//
//	magic    4 bytes "CFS1"
//	seq      8 bytes: the log sequence the snapshot is taken after
//	members  uvarint count, then each: name length (1 byte), name,
//	         epoch (8 bytes), up (1 byte, 0 or 1)
//	data     the rest: the server's snapshot
const snapMagic = "CFS1"

func appendSnapshot(dst []byte, seq uint64, m *members, data []byte) []byte {
	dst = append(dst, snapMagic...)
	dst = binary.LittleEndian.AppendUint64(dst, seq)
	dst = binary.AppendUvarint(dst, uint64(m.len()))
	for i := range m.len() {
		dst = append(dst, byte(len(m.names[i])))
		dst = append(dst, m.names[i]...)
		dst = binary.LittleEndian.AppendUint64(dst, m.epochs[i])
		up := byte(0)
		if m.up[i] {
			up = 1
		}
		dst = append(dst, up)
	}
	return append(dst, data...)
}

func decodeSnapshot(b []byte) (seq uint64, m *members, data []byte, err error) {
	if len(b) < len(snapMagic)+8+1 || string(b[:len(snapMagic)]) != snapMagic {
		return 0, nil, nil, errors.New("not a campfire snapshot")
	}
	b = b[len(snapMagic):]
	seq = binary.LittleEndian.Uint64(b)
	b = b[8:]
	count, n := binary.Uvarint(b)
	if n <= 0 || count > maxName*1024 {
		return 0, nil, nil, errShort
	}
	b = b[n:]
	m = &members{}
	for range count {
		if len(b) < 1 || len(b) < 1+int(b[0])+9 {
			return 0, nil, nil, errShort
		}
		name := string(b[1 : 1+b[0]])
		b = b[1+int(b[0]):]
		if i := len(m.names); i > 0 && m.names[i-1] >= name {
			return 0, nil, nil, errors.New("snapshot members out of order")
		}
		if b[8] > 1 {
			return 0, nil, nil, fmt.Errorf("snapshot member %q: up flag %d", name, b[8])
		}
		m.names = append(m.names, name)
		m.epochs = append(m.epochs, binary.LittleEndian.Uint64(b))
		m.up = append(m.up, b[8] == 1)
		b = b[9:]
	}
	return seq, m, b, nil
}
