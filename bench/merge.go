package bench

import (
	"fmt"
	"strconv"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
)

// setLatencies summarizes l's samples into r and keeps them, encoded, with
// the timeline of slots of width slot.
func (r *Report) setLatencies(l *Latencies, slot time.Duration) error {
	total := l.Merged()
	r.Latency = Summarize(total)
	var err error
	if r.Histogram, err = encodeHist(total); err != nil {
		return err
	}
	if r.Timeline == nil {
		r.Timeline = &Timeline{}
	}
	r.Timeline.Slot = slot.Seconds()
	r.Timeline.Histograms = make([]string, len(l.Timeline()))
	for i, h := range l.Timeline() {
		if r.Timeline.Histograms[i], err = encodeHist(h); err != nil {
			return err
		}
	}
	return nil
}

// derive computes the rates and notes of r from its counts; a merged
// report calls it again.
func (r *Report) derive(cfg Config) {
	window := cfg.Duration
	r.ConnectRate = rate(int64(r.Connected), seconds(r.ConnectTime))
	r.CheckinRate = rate(int64(r.CheckedIn), seconds(r.CheckinTime))
	r.OfferedRate = rate(r.Sent, window)
	r.DeliveredRate = rate(r.Delivered, window)
	r.BytesRate = rate(r.Bytes, window)
	r.Procs = max(cfg.Procs, 1)
	r.Notes = nil
	switch cfg.Scenario {
	case ScenarioPeers:
		r.Notes = offeredNote(r.OfferedRate, cfg.Rate)
		if r.Missed > 0 {
			r.Notes = append(r.Notes, "senders fell behind and skipped "+strconv.FormatInt(r.Missed, 10)+" sends")
		}
		if r.Senders == 0 {
			r.Notes = append(r.Notes, "no peer session started: nothing was sent")
		}
	case ScenarioEcho:
		if cfg.Rate > 0 {
			r.Notes = append(r.Notes, "echo is closed-loop (-depth payloads in flight per connection): -rate is ignored")
		}
	case ScenarioCheckin:
		r.Notes = append(r.Notes, "checkin: delivered counts connect-checkin-checkout cycles; latency is the whole cycle")
	}
}

func seconds(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }

// mergeReports merges the reports of a -procs run's workers into one, as
// if one process had made every connection: counts and errors are summed,
// histograms merged exactly, and the times of the parallel phases are the
// slowest worker's.
func mergeReports(cfg Config, parts []*Report) (*Report, error) {
	if len(parts) == 0 {
		return nil, fmt.Errorf("merge: no reports")
	}
	first := parts[0]
	out := &Report{
		Scenario: first.Scenario, Addr: cfg.Addr, Conns: cfg.Conns, Sources: first.Sources,
		Size: first.Size, Depth: first.Depth, Warmup: first.Warmup, Window: first.Window,
		RequestedRate: cfg.Rate, Errors: map[string]int64{},
	}
	hists := make([]string, 0, len(parts))
	timelines := make([]*Timeline, 0, len(parts))
	for _, p := range parts {
		out.Connected += p.Connected
		out.ConnectTime = max(out.ConnectTime, p.ConnectTime)
		out.CheckedIn += p.CheckedIn
		out.CheckinTime = max(out.CheckinTime, p.CheckinTime)
		out.Sent += p.Sent
		out.Senders += p.Senders
		out.Missed += p.Missed
		out.Delivered += p.Delivered
		out.Bytes += p.Bytes
		for k, v := range p.Errors {
			out.Errors[k] += v
		}
		hists = append(hists, p.Histogram)
		timelines = append(timelines, p.Timeline)
	}
	total, err := mergeEncoded(hists, histDigits)
	if err != nil {
		return nil, err
	}
	out.Latency = Summarize(total)
	if out.Histogram, err = encodeHist(total); err != nil {
		return nil, err
	}
	if out.Timeline, err = mergeTimelines(timelines); err != nil {
		return nil, err
	}
	out.derive(cfg)
	return out, nil
}

// mergeTimelines merges timelines slot by slot: the histograms exactly,
// the sent counts summed. Timelines must share their slot width; a shorter
// one counts as empty past its end.
func mergeTimelines(ts []*Timeline) (*Timeline, error) {
	var out *Timeline
	var slots [][]string
	for _, t := range ts {
		if t == nil {
			continue
		}
		if out == nil {
			out = &Timeline{Slot: t.Slot}
		} else if t.Slot != out.Slot {
			return nil, fmt.Errorf("merge timelines: slots of %gs and %gs", out.Slot, t.Slot)
		}
		for i, h := range t.Histograms {
			if i == len(slots) {
				slots = append(slots, nil)
			}
			slots[i] = append(slots[i], h)
		}
		if len(t.Sent) > len(out.Sent) {
			out.Sent = append(out.Sent, make([]int64, len(t.Sent)-len(out.Sent))...)
		}
		for i, v := range t.Sent {
			out.Sent[i] += v
		}
	}
	if out == nil {
		return nil, nil
	}
	out.Histograms = make([]string, len(slots))
	for i, hs := range slots {
		h, err := mergeEncoded(hs, slotDigits)
		if err != nil {
			return nil, err
		}
		if out.Histograms[i], err = encodeHist(h); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// mergeEncoded decodes and merges encoded histograms into a new one of the
// harness's range and the given precision; empty strings are skipped.
func mergeEncoded(encoded []string, digits int) (*hdrhistogram.Histogram, error) {
	out := hdrhistogram.New(histMin, histMax, digits)
	for _, e := range encoded {
		if e == "" {
			continue
		}
		h, err := decodeHist(e)
		if err != nil {
			return nil, err
		}
		if dropped := out.Merge(h); dropped > 0 {
			return nil, fmt.Errorf("merge histograms: %d values out of range", dropped)
		}
	}
	return out, nil
}

func encodeHist(h *hdrhistogram.Histogram) (string, error) {
	b, err := h.Encode(hdrhistogram.V2CompressedEncodingCookieBase)
	if err != nil {
		return "", fmt.Errorf("encode histogram: %w", err)
	}
	return string(b), nil
}

func decodeHist(s string) (*hdrhistogram.Histogram, error) {
	h, err := hdrhistogram.Decode([]byte(s))
	if err != nil {
		return nil, fmt.Errorf("decode histogram: %w", err)
	}
	return h, nil
}
