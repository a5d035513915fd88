package server

import (
	"context"
	"errors"
	"time"

	"campfire/server/web"
)

// Snapshot copies the camp for the status page and /api/camp. The copy is
// made on the loop that holds the camp, through gnet's task queue, so no
// HTTP goroutine ever touches the camp; the web package asks at most a few
// times a second, whatever the number of viewers.
func (s *Server) Snapshot(ctx context.Context) (*web.Snapshot, error) {
	cs := s.camp
	if cs == nil {
		return nil, errors.New("no camp: this server runs the echo service")
	}
	snap := &web.Snapshot{Started: s.started, Draining: cs.r.draining.Load()}
	err := cs.r.onLoop0(ctx, func(*campLoop) {
		k := cs.core
		snap.Time = time.Now()
		snap.Totals = web.Totals{
			Connections: int(cs.r.conns.Load()),
			Campers:     k.camp.Len(),
			Groups:      k.camp.Groups(),
			Sessions:    k.camp.Sessions(),
			Messages:    k.messages,
		}
		snap.Groups = make([]web.Group, 0, k.camp.Groups())
		for g := range k.camp.Each {
			wg := web.Group{Number: g.Number, Campers: make([]web.Camper, len(g.Members))}
			for i, m := range g.Members {
				wg.Campers[i] = web.Camper{ID: k.ids.Format(m.ID), Remote: remoteAddr(m.Conn.campConn).String(), Since: m.Since}
			}
			if g.Session.Running() {
				wg.Session = &web.Session{Host: k.ids.Format(g.Session.Host), Max: g.Session.Max, Used: g.Session.Used()}
			}
			snap.Groups = append(snap.Groups, wg)
		}
	})
	if err != nil {
		return nil, err
	}
	return snap, nil
}

// Health is 200's condition for /healthz: serving, not draining.
func (s *Server) Health() (ok bool, why string) {
	if s.camp != nil && s.camp.r.draining.Load() {
		return false, "draining"
	}
	select {
	case <-s.done:
		return false, "stopped"
	default:
	}
	return true, ""
}
