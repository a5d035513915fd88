package server

import "context"

// PeakPending is the most unsent output any connection of s's camp
// service had after a flush, for tests of the output limit.
func PeakPending(s *Server) (int, error) {
	peak := 0
	err := s.camp.r.forEachLoop(context.Background(), true, func(l *campLoop) { peak = max(peak, l.peak) })
	return peak, err
}

// MaxReplySize is the longest reply one request can get.
func MaxReplySize() int { return maxReplySize() }
