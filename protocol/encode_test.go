package protocol_test

import (
	"testing"

	"campfire/protocol"
)

func TestEncoders(t *testing.T) {
	tests := []struct {
		name string
		give func(dst []byte) []byte
		want string
	}{
		{
			name: "status",
			give: func(dst []byte) []byte { return protocol.AppendStatus(dst, protocol.StatusOK) },
			want: "CAMP/1.0 200 OK\r\n",
		},
		{
			name: "status with a two-word reason",
			give: func(dst []byte) []byte { return protocol.AppendStatus(dst, protocol.StatusNotFound) },
			want: "CAMP/1.0 404 Not Found\r\n",
		},
		{
			name: "status unknown to CAMP",
			give: func(dst []byte) []byte { return protocol.AppendStatus(dst, 299) },
			want: "CAMP/1.0 299 Status\r\n",
		},
		{
			name: "event with argument",
			give: func(dst []byte) []byte { return protocol.AppendEvent(dst, protocol.EventJoined, []byte("J004")) },
			want: "JOINED J004 CAMP/1.0\r\n",
		},
		{
			name: "event without argument",
			give: func(dst []byte) []byte { return protocol.AppendEvent(dst, protocol.EventShutdown, nil) },
			want: "SHUTDOWN CAMP/1.0\r\n",
		},
		{
			name: "event with empty argument",
			give: func(dst []byte) []byte { return protocol.AppendEvent(dst, protocol.EventShutdown, []byte{}) },
			want: "SHUTDOWN CAMP/1.0\r\n",
		},
		{
			name: "request with arguments",
			give: func(dst []byte) []byte {
				return protocol.AppendRequest(dst, protocol.MethodPeerSession, []byte("maxCount=3"))
			},
			want: "PEERSESSION maxCount=3 CAMP/1.0\r\n",
		},
		{
			name: "request without arguments",
			give: func(dst []byte) []byte { return protocol.AppendRequest(dst, protocol.MethodPing, nil) },
			want: "PING CAMP/1.0\r\n",
		},
		{
			name: "header",
			give: func(dst []byte) []byte { return protocol.AppendHeader(dst, protocol.HeaderID, []byte("17")) },
			want: "Id: 17\r\n",
		},
		{
			name: "header string",
			give: func(dst []byte) []byte {
				return protocol.AppendHeaderString(dst, protocol.HeaderReason, protocol.ReasonHostLeft)
			},
			want: "Reason: host-left\r\n",
		},
		{
			name: "header int",
			give: func(dst []byte) []byte { return protocol.AppendHeaderInt(dst, protocol.HeaderGroup, 12) },
			want: "Group: 12\r\n",
		},
		{
			name: "header negative int",
			give: func(dst []byte) []byte { return protocol.AppendHeaderInt(dst, protocol.HeaderDay, -3) },
			want: "Day: -3\r\n",
		},
		{
			name: "no body",
			give: func(dst []byte) []byte { return protocol.AppendBody(dst, nil) },
			want: "\r\n",
		},
		{
			name: "body",
			give: func(dst []byte) []byte { return protocol.AppendBody(dst, []byte("Heap, Stack")) },
			want: "Content-Length: 11\r\n\r\nHeap, Stack\r\n",
		},
		{
			name: "body with line ends",
			give: func(dst []byte) []byte { return protocol.AppendBody(dst, []byte("a\r\nb\n")) },
			want: "Content-Length: 5\r\n\r\na\r\nb\n\r\n",
		},
		{
			name: "error with Id",
			give: func(dst []byte) []byte {
				return protocol.AppendError(dst, protocol.StatusBadRequest, []byte("17"), "bad id")
			},
			want: "CAMP/1.0 400 Bad Request\r\nId: 17\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: 6\r\n\r\nbad id\r\n",
		},
		{
			name: "error without Id",
			give: func(dst []byte) []byte {
				return protocol.AppendError(dst, protocol.StatusNotImplemented, nil, "unknown")
			},
			want: "CAMP/1.0 501 Not Implemented\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: 7\r\n\r\nunknown\r\n",
		},
		{
			name: "whole response",
			give: func(dst []byte) []byte {
				dst = protocol.AppendStatus(dst, protocol.StatusOK)
				dst = protocol.AppendHeader(dst, protocol.HeaderID, []byte("a1"))
				dst = protocol.AppendHeaderInt(dst, protocol.HeaderDay, 4)
				return protocol.AppendBody(dst, []byte("Heap, Stack"))
			},
			want: "CAMP/1.0 200 OK\r\nId: a1\r\nDay: 4\r\nContent-Length: 11\r\n\r\nHeap, Stack\r\n",
		},
		{
			name: "whole event",
			give: func(dst []byte) []byte {
				dst = protocol.AppendEvent(dst, protocol.EventComplete, []byte("J004"))
				dst = protocol.AppendHeaderInt(dst, protocol.HeaderGroup, 1)
				dst = protocol.AppendHeaderString(dst, protocol.HeaderReason, protocol.ReasonLimit)
				return protocol.AppendBody(dst, nil)
			},
			want: "COMPLETE J004 CAMP/1.0\r\nGroup: 1\r\nReason: limit\r\n\r\n",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := string(tt.give(nil)); got != tt.want {
				t.Errorf("got  %q\nwant %q", got, tt.want)
			}
			// The encoders append: what dst held stays in front.
			if got := string(tt.give([]byte("prefix"))); got != "prefix"+tt.want {
				t.Errorf("appending to a prefix: got %q", got)
			}
		})
	}
}

func TestReason(t *testing.T) {
	tests := []struct {
		give int
		want string
	}{
		{give: protocol.StatusOK, want: "OK"},
		{give: protocol.StatusBadRequest, want: "Bad Request"},
		{give: protocol.StatusUnauthorized, want: "Unauthorized"},
		{give: protocol.StatusForbidden, want: "Forbidden"},
		{give: protocol.StatusNotFound, want: "Not Found"},
		{give: protocol.StatusConflict, want: "Conflict"},
		{give: protocol.StatusContentTooLarge, want: "Request Entity Too Large"},
		{give: protocol.StatusHeaderFieldsTooLarge, want: "Request Header Fields Too Large"},
		{give: protocol.StatusNotImplemented, want: "Not Implemented"},
		{give: protocol.StatusServiceUnavailable, want: "Service Unavailable"},
		{give: 0, want: "Status"},
		{give: 500, want: "Status"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			if got := protocol.Reason(tt.give); got != tt.want {
				t.Errorf("Reason(%d) = %q, want %q", tt.give, got, tt.want)
			}
		})
	}
	codes := []struct {
		give int
		want int
	}{
		{give: protocol.StatusOK, want: 200},
		{give: protocol.StatusBadRequest, want: 400},
		{give: protocol.StatusUnauthorized, want: 401},
		{give: protocol.StatusForbidden, want: 403},
		{give: protocol.StatusNotFound, want: 404},
		{give: protocol.StatusConflict, want: 409},
		{give: protocol.StatusContentTooLarge, want: 413},
		{give: protocol.StatusHeaderFieldsTooLarge, want: 431},
		{give: protocol.StatusNotImplemented, want: 501},
		{give: protocol.StatusServiceUnavailable, want: 503},
	}
	for _, tt := range codes {
		if tt.give != tt.want {
			t.Errorf("status constant %d, want %d", tt.give, tt.want)
		}
	}
}
