package protocol_test

import (
	"fmt"

	"campfire/protocol"
)

// A connection's buffer holds whatever has arrived: here a telnet user's
// Enter, a short-form request, a full-form one with an Id and a body, and
// half of a third. Parse cuts one frame at a time out of it; the caller
// drops what was consumed and keeps the rest for when more arrives.
func ExampleParser_Parse() {
	buf := []byte("\r\ncheckin j004\r\n" +
		"MESSAGE CAMP/1.0\r\nId: 17\r\nContent-Length: 9\r\n\r\nhello all\r\n" +
		"mission da")
	var p protocol.Parser
	var f protocol.Frame
	for {
		n, ok, err := p.Parse(buf, &f)
		if err != nil {
			fmt.Println(protocol.StatusOf(err), err)
			return
		}
		if n == 0 {
			fmt.Printf("need more after %q\n", buf)
			return
		}
		buf = buf[n:]
		if !ok {
			continue // an empty line
		}
		r := f.Request()
		cmd, err := protocol.ParseArgs(&r, protocol.DefaultIDs())
		if err != nil {
			fmt.Println(protocol.StatusBadRequest, err)
			continue
		}
		fmt.Printf("%v full=%v id=%q camper=%d text=%q\n", r.Method, r.Full, r.ID, cmd.ID, cmd.Text)
	}
	// Output:
	// CHECKIN full=false id="" camper=4 text=""
	// MESSAGE full=true id="17" camper=0 text="hello all"
	// need more after "mission da"
}

// A MESSAGE event is built once into one buffer and can then be written to
// every member of the group.
func ExampleAppendEvent() {
	var b []byte
	b = protocol.AppendEvent(b, protocol.EventMessage, []byte("J003"))
	b = protocol.AppendHeaderInt(b, protocol.HeaderGroup, 1)
	b = protocol.AppendBody(b, []byte("hello all"))
	fmt.Printf("%q\n", b)
	// Output:
	// "MESSAGE J003 CAMP/1.0\r\nGroup: 1\r\nContent-Length: 9\r\n\r\nhello all\r\n"
}

// Camp ids are read in either case and written upper-case, zero-padded to
// the range's width.
func ExampleIDRange_Parse() {
	ids, err := protocol.ParseIDRange("J001-J384")
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, s := range []string{"j004", "J384", "J385", "J04"} {
		id, err := ids.Parse([]byte(s))
		if err != nil {
			fmt.Println(err)
			continue
		}
		fmt.Println(s, "is", ids.Format(id))
	}
	// Output:
	// j004 is J004
	// J384 is J384
	// bad arguments: "J385" is not a camp id in J001-J384
	// bad arguments: "J04" is not a camp id in J001-J384
}
