package server

import (
	"testing"
	"unsafe"
)

// TestConnSize guards the per-connection footprint: a conn is allocated
// for every connection, and each size class is a step (the echo service's
// conn carries nothing of CAMP).
func TestConnSize(t *testing.T) {
	if got := unsafe.Sizeof(echoConn{}); got > 112 {
		t.Errorf("echo conn is %d bytes, want at most 112", got)
	}
	if got := unsafe.Sizeof(campConn{}); got > 160 {
		t.Errorf("camp conn is %d bytes, want at most 160", got)
	}
}

// TestConnList checks the intrusive list the idle and linger sweeps rely on:
// order by last touch, O(1) removal from anywhere.
func TestConnList(t *testing.T) {
	var l connList[struct{}]
	cs := make([]*echoConn, 4)
	for i := range cs {
		cs[i] = &echoConn{seen: int64(i)}
		l.pushBack(cs[i])
	}
	l.moveToBack(cs[0]) // 1 2 3 0
	l.remove(cs[2])     // 1 3 0
	l.moveToBack(cs[0]) // already last: unchanged
	var got []int64
	for c := l.head; c != nil; c = c.next {
		got = append(got, c.seen)
	}
	want := []int64{1, 3, 0}
	if len(got) != len(want) || l.len != len(want) || l.tail != cs[0] {
		t.Fatalf("list %v (len %d), want %v", got, l.len, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("list %v, want %v", got, want)
		}
	}
	for _, c := range []*echoConn{cs[1], cs[3], cs[0]} {
		l.remove(c)
	}
	if l.head != nil || l.tail != nil || l.len != 0 {
		t.Errorf("emptied list: head %p tail %p len %d", l.head, l.tail, l.len)
	}
}

// TestEchoable checks how much of what is waiting the echo rules send back.
func TestEchoable(t *testing.T) {
	tests := []struct {
		buffered int
		keepOpen bool
		want     int
	}{
		{buffered: 3, want: 0},
		{buffered: 4, want: 4},
		{buffered: 2000, want: 1024},
		{buffered: 3, keepOpen: true, want: 0},
		{buffered: 1024, keepOpen: true, want: 1024},
		{buffered: 1026, keepOpen: true, want: 1024}, // 2 left wait for more
		{buffered: 1028, keepOpen: true, want: 1028}, // 1024, then 4
		{buffered: 3000, keepOpen: true, want: 3000}, // 1024, 1024, 952
		{buffered: 2051, keepOpen: true, want: 2048}, // 3 left wait
	}
	for _, tt := range tests {
		if got := echoable(tt.buffered, tt.keepOpen); got != tt.want {
			t.Errorf("echoable(%d, keepOpen=%v) = %d, want %d", tt.buffered, tt.keepOpen, got, tt.want)
		}
	}
}

// TestConnSizes prints the sizes, for the memory notes.
func TestConnSizes(t *testing.T) {
	t.Logf("echo conn %d B, camp conn %d B, parser %d B", unsafe.Sizeof(echoConn{}), unsafe.Sizeof(campConn{}), unsafe.Sizeof(campState{}))
}
