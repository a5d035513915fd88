package bench

import (
	"bufio"
	"fmt"
	"html"
	"io"
	"math"
	"runtime"
	"strconv"
	"strings"

	"github.com/HdrHistogram/hdrhistogram-go"
)

// The HTML report is one self-contained page: no scripts, no fonts, no
// stylesheets or images from elsewhere. Its charts are inline SVG drawn
// here, by a few dozen lines of axis and path code, rather than by a
// charting module: three kinds of line chart need no dependency. The page
// is also well-formed XML (every element closed, only numeric character
// references), so a test can check it with encoding/xml.

// plotSeries is one server's data as the charts draw it: its runs merged.
type plotSeries struct {
	name  string
	color string
	runs  int
	total *hdrhistogram.Histogram
	slots []*hdrhistogram.Histogram
	slot  float64 // seconds per slot
}

// palette colours the servers in order; the reference of a comparison
// (the last) takes refColor.
var palette = [...]string{"#e8590c", "#1971c2", "#2f9e44", "#9c36b5", "#c2255c", "#0c8599", "#5c940d"}

const refColor = "#495057"

// newPlotSeries merges the runs of one server for the charts.
func newPlotSeries(name, color string, runs []*Report) (plotSeries, error) {
	p := plotSeries{name: name, color: color, runs: len(runs)}
	hists := make([]string, len(runs))
	tls := make([]*Timeline, len(runs))
	for i, r := range runs {
		hists[i], tls[i] = r.Histogram, r.Timeline
	}
	var err error
	if p.total, err = mergeEncoded(hists, histDigits); err != nil {
		return p, fmt.Errorf("%s: %w", name, err)
	}
	tl, err := mergeTimelines(tls)
	if err != nil {
		return p, fmt.Errorf("%s: %w", name, err)
	}
	if tl != nil {
		p.slot = tl.Slot
		for _, e := range tl.Histograms {
			h, err := mergeEncoded([]string{e}, slotDigits)
			if err != nil {
				return p, fmt.Errorf("%s: %w", name, err)
			}
			p.slots = append(p.slots, h)
		}
	}
	return p, nil
}

// page is what the HTML report shows.
type page struct {
	title  string
	params string
	series []plotSeries
	tables []table
	lines  []string // verdicts and notes, under the tables
}

// WriteHTML writes the report of one run as a self-contained HTML page.
func (r *Report) WriteHTML(w io.Writer) error {
	s, err := newPlotSeries(r.Addr, palette[0], []*Report{r})
	if err != nil {
		return err
	}
	t := table{caption: "the run", header: []string{"figure", "value"}, text: true}
	for _, row := range r.rows() {
		t.rows = append(t.rows, []string{row.name, row.value})
	}
	return writePage(w, page{
		title:  fmt.Sprintf("campfire bench: %s against %s", r.Scenario, r.Addr),
		params: params(r),
		series: []plotSeries{s},
		tables: []table{t},
	})
}

// WriteCompareHTML writes a comparison of servers as a self-contained HTML
// page: every server's runs merged into one line per chart, and the tables
// Compare prints.
func WriteCompareHTML(w io.Writer, ss []Series) error {
	if err := checkSeries(ss); err != nil {
		return err
	}
	p := page{
		title:  "campfire bench: " + seriesNames(ss),
		params: params(ss[0].Runs[0]),
		tables: []table{compareTable(ss), runsTable(ss)},
	}
	for i, s := range ss {
		color := palette[i%len(palette)]
		if i == len(ss)-1 {
			color = refColor
		}
		ps, err := newPlotSeries(s.Name, color, s.Runs)
		if err != nil {
			return err
		}
		p.series = append(p.series, ps)
	}
	lines, _, err := goals(ss)
	if err != nil {
		return err
	}
	p.lines = append(lines, seriesNotes(ss)...)
	return writePage(w, p)
}

func seriesNames(ss []Series) string {
	names := make([]string, len(ss))
	for i, s := range ss {
		names[i] = s.Name
	}
	return strings.Join(names, " vs ")
}

// params describes the load of a run in one line.
func params(r *Report) string {
	load := "as fast as possible"
	if r.Scenario == ScenarioPeers.String() {
		load = fmt.Sprintf("closed loop, %d in flight per sender", r.Depth)
	}
	if r.RequestedRate > 0 {
		load = fmt.Sprintf("%s msgs/s offered", siFormat(r.RequestedRate))
	}
	if r.Scenario == ScenarioEcho.String() {
		load = fmt.Sprintf("%d in flight per connection", r.Depth)
	}
	return fmt.Sprintf("%s · %d connections · %d-byte messages · %s · %gs window after %gs warmup · nproc %d",
		r.Scenario, r.Conns, r.Size, load, r.Window, r.Warmup, runtime.NumCPU())
}

const pageStyle = `
body{margin:0;background:#f8f9fa;color:#212529;font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif}
main{max-width:1140px;margin:0 auto;padding:24px 20px 40px}
h1{font-size:22px;margin:0 0 4px}
h2{font-size:16px;margin:0 0 2px}
.params{color:#495057;margin:0 0 14px}
.legend{display:flex;flex-wrap:wrap;gap:18px;margin:0 0 16px;padding:10px 14px;background:#fff;border:1px solid #dee2e6;border-radius:6px}
.legend span{display:inline-flex;align-items:center;gap:7px;font-weight:600}
.legend i{display:inline-block;width:22px;height:4px;border-radius:2px}
.legend small{font-weight:400;color:#6c757d}
section{background:#fff;border:1px solid #dee2e6;border-radius:6px;padding:14px 16px 8px;margin:0 0 16px}
.sub{color:#6c757d;font-size:13px;margin:0 0 6px}
svg{display:block;width:100%;height:auto}
svg text{font-size:12px;fill:#495057;font-variant-numeric:tabular-nums}
svg text.title{fill:#868e96}
svg .grid{stroke:#e9ecef;stroke-width:1}
svg .frame{stroke:#adb5bd;stroke-width:1;fill:none}
svg .series path{fill:none;stroke-linejoin:round;stroke-linecap:round}
table{border-collapse:collapse;width:100%;font-variant-numeric:tabular-nums;font-size:13px;margin:4px 0 10px}
caption{text-align:left;color:#6c757d;padding:0 0 4px}
th,td{padding:3px 8px;border-bottom:1px solid #e9ecef;text-align:right;white-space:nowrap}
th{background:#f1f3f5;font-weight:600}
th:first-child,td:first-child,table.text td{text-align:left}
tr:hover td{background:#fff9db}
td b{font-weight:600}
td small{color:#868e96;font-size:12px}
.lines{margin:4px 0 8px;padding-left:18px}
.met{color:#2b8a3e}
.missed{color:#c92a2a}
`

// writePage writes p as HTML.
func writePage(w io.Writer, p page) error {
	b := bufio.NewWriter(w)
	e := html.EscapeString
	fmt.Fprintf(b, "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\"/>\n<title>%s</title>\n<style>%s</style>\n</head>\n<body>\n<main>\n", e(p.title), pageStyle)
	fmt.Fprintf(b, "<h1>%s</h1>\n<p class=\"params\">%s</p>\n", e(p.title), e(p.params))
	b.WriteString("<div class=\"legend\">")
	for _, s := range p.series {
		runs := "1 run"
		if s.runs != 1 {
			runs = fmt.Sprintf("%d runs merged", s.runs)
		}
		fmt.Fprintf(b, "<span><i style=\"background:%s\"></i>%s <small>%s, %s samples</small></span>", s.color, e(s.name), runs, siFormat(float64(s.total.TotalCount())))
	}
	b.WriteString("</div>\n")

	section(b, "Latency by percentile",
		"HdrHistogram style: the horizontal axis is 1/(1−percentile) on a log scale, so each step right is ten times rarer; latency on a log scale.",
		func(b *bufio.Writer) { spectrumChart(b, p.series) })
	section(b, "Latency over the window",
		"p99 (solid) and p50 (dashed) of the messages sent in each slot of the window; latency on a log scale.",
		func(b *bufio.Writer) { latencyChart(b, p.series) })
	section(b, "Throughput over the window",
		"Deliveries per second of the messages sent in each slot (a mean over the runs where they were repeated).",
		func(b *bufio.Writer) { throughputChart(b, p.series) })

	b.WriteString("<section>\n")
	for _, t := range p.tables {
		writeHTMLTable(b, t)
	}
	if len(p.lines) > 0 {
		b.WriteString("<ul class=\"lines\">\n")
		for _, l := range p.lines {
			class := ""
			switch {
			case strings.HasSuffix(l, ": met"):
				class = " class=\"met\""
			case strings.Contains(l, "NOT met"):
				class = " class=\"missed\""
			}
			fmt.Fprintf(b, "<li%s>%s</li>\n", class, e(l))
		}
		b.WriteString("</ul>\n")
	}
	b.WriteString("</section>\n</main>\n</body>\n</html>\n")
	return b.Flush()
}

func section(b *bufio.Writer, title, sub string, chart func(*bufio.Writer)) {
	fmt.Fprintf(b, "<section>\n<h2>%s</h2>\n<p class=\"sub\">%s</p>\n", html.EscapeString(title), html.EscapeString(sub))
	chart(b)
	b.WriteString("</section>\n")
}

func writeHTMLTable(b *bufio.Writer, t table) {
	e := html.EscapeString
	class := ""
	if t.text {
		class = " class=\"text\""
	}
	fmt.Fprintf(b, "<table%s>\n<caption>%s</caption>\n<thead><tr>", class, e(t.caption))
	for _, h := range t.header {
		fmt.Fprintf(b, "<th>%s</th>", e(h))
	}
	b.WriteString("</tr></thead>\n<tbody>\n")
	for _, row := range t.rows {
		b.WriteString("<tr>")
		for i, c := range row {
			if !t.figures || i == 0 {
				fmt.Fprintf(b, "<td>%s</td>", e(c))
				continue
			}
			// A figure: its median stands out from its range and ratio.
			med, rest, _ := strings.Cut(c, " ")
			fmt.Fprintf(b, "<td><b>%s</b>", e(med))
			if rest != "" {
				fmt.Fprintf(b, " <small>%s</small>", e(rest))
			}
			b.WriteString("</td>")
		}
		b.WriteString("</tr>\n")
	}
	b.WriteString("</tbody>\n</table>\n")
}

// Chart geometry, in SVG user units (the SVG scales to the page's width).
const (
	chartW     = 1100
	padLeft    = 64
	padRight   = 32
	padTop     = 12
	padBottom  = 46
	spectrumH  = 400
	timelineH  = 280
	spectrumN  = 240 // points along the percentile axis
	minLatency = 1   // µs: the floor of the log latency axes
	minTickGap = 20  // pixels between two labels of a vertical axis
)

// axis maps data values to pixels, on a linear or a log10 scale.
type axis struct {
	lo, hi   float64
	log      bool
	px0, px1 float64
}

func (a axis) pos(v float64) float64 {
	var t float64
	if a.log {
		t = (math.Log10(v) - math.Log10(a.lo)) / (math.Log10(a.hi) - math.Log10(a.lo))
	} else {
		t = (v - a.lo) / (a.hi - a.lo)
	}
	return a.px0 + t*(a.px1-a.px0)
}

// tick is a value on an axis and its label.
type tick struct {
	v     float64
	label string
}

// latencyAxis is a log axis over latencies lo..hi µs, widened to whole
// 1-2-5 steps, with ticks on them (or on decades when it spans many).
func latencyAxis(lo, hi, px0, px1 float64) (axis, []tick) {
	lo, hi = max(lo, minLatency), max(hi, minLatency)
	steps := []float64{1, 2, 5}
	floor := func(v float64) float64 {
		d := math.Pow(10, math.Floor(math.Log10(v)))
		for i := len(steps) - 1; i >= 0; i-- {
			if steps[i]*d <= v*(1+1e-9) {
				return steps[i] * d
			}
		}
		return d
	}
	ceil := func(v float64) float64 {
		d := math.Pow(10, math.Floor(math.Log10(v)))
		for _, s := range append(steps, 10) {
			if s*d >= v*(1-1e-9) {
				return s * d
			}
		}
		return 10 * d
	}
	a := axis{lo: floor(lo), hi: ceil(hi), log: true, px0: px0, px1: px1}
	if a.hi <= a.lo {
		a.hi = ceil(a.lo * 1.01)
	}
	// Over many decades only the decades and the ends are marked.
	decades := math.Log10(a.hi / a.lo)
	var ts []tick
	for d := math.Pow(10, math.Floor(math.Log10(a.lo))); d <= a.hi; d *= 10 {
		for _, s := range steps {
			v := s * d
			end := math.Abs(v-a.lo) < a.lo*1e-9 || math.Abs(v-a.hi) < a.hi*1e-9
			if v < a.lo*(1-1e-9) || v > a.hi*(1+1e-9) || (decades > 3.5 && s != 1 && !end) {
				continue
			}
			ts = append(ts, tick{v, formatLatency(v)})
		}
	}
	// Labels closer than minTickGap overlap: keep the first, unless the
	// second is a decade (an end of the axis gives way to it).
	var kept []tick
	for _, t := range ts {
		if n := len(kept); n > 0 && math.Abs(a.pos(t.v)-a.pos(kept[n-1].v)) < minTickGap {
			if lg := math.Log10(t.v); lg == math.Round(lg) {
				kept[n-1] = t
			}
			continue
		}
		kept = append(kept, t)
	}
	return a, kept
}

// linearTicks returns hi rounded up to a 1-2-5 step of about hi/n, and
// the ticks from 0 to it, unlabelled, with the format for their labels.
func linearTicks(hi float64, n int) (top float64, ts []tick, format func(float64) string) {
	if hi <= 0 {
		hi = 1
	}
	raw := hi / float64(n)
	d := math.Pow(10, math.Floor(math.Log10(raw)))
	step := 10 * d
	for _, s := range []float64{1, 2, 5} {
		if s*d >= raw {
			step = s * d
			break
		}
	}
	top = math.Ceil(hi/step) * step
	for v := 0.0; v <= top*(1+1e-9); v += step {
		ts = append(ts, tick{v, ""})
	}
	return top, ts, siFormat
}

// formatLatency writes µs as µs, ms or s.
func formatLatency(us float64) string {
	switch {
	case us >= 1e6:
		return strconv.FormatFloat(us/1e6, 'g', 4, 64) + "s"
	case us >= 1e3:
		return strconv.FormatFloat(us/1e3, 'g', 4, 64) + "ms"
	}
	return strconv.FormatFloat(us, 'g', 4, 64) + "µs"
}

// siFormat writes a count with k or M.
func siFormat(v float64) string {
	switch {
	case math.Abs(v) >= 1e6:
		return strconv.FormatFloat(v/1e6, 'g', 3, 64) + "M"
	case math.Abs(v) >= 1e3:
		return strconv.FormatFloat(v/1e3, 'g', 3, 64) + "k"
	}
	return strconv.FormatFloat(v, 'g', 3, 64)
}

// frame is one chart's SVG element and plot area.
type frame struct {
	b      *bufio.Writer
	x, y   axis
	height float64
}

func openChart(b *bufio.Writer, kind string, height float64, x, y axis, xt, yt []tick, xLabel, yLabel string) frame {
	fmt.Fprintf(b, "<svg class=\"chart\" data-chart=%q viewBox=\"0 0 %d %g\" role=\"img\" xmlns=\"http://www.w3.org/2000/svg\">\n", kind, chartW, height)
	top, bottom, left, right := float64(padTop), height-padBottom, float64(padLeft), float64(chartW-padRight)
	for _, t := range yt {
		py := y.pos(t.v)
		fmt.Fprintf(b, "<line class=\"grid\" x1=\"%g\" y1=\"%.1f\" x2=\"%g\" y2=\"%.1f\"/>", left, py, right, py)
		fmt.Fprintf(b, "<text x=\"%g\" y=\"%.1f\" text-anchor=\"end\" dominant-baseline=\"middle\">%s</text>\n", left-8, py, html.EscapeString(t.label))
	}
	for _, t := range xt {
		px := x.pos(t.v)
		fmt.Fprintf(b, "<line class=\"grid\" x1=\"%.1f\" y1=\"%g\" x2=\"%.1f\" y2=\"%g\"/>", px, top, px, bottom)
		fmt.Fprintf(b, "<text x=\"%.1f\" y=\"%g\" text-anchor=\"middle\">%s</text>\n", px, bottom+16, html.EscapeString(t.label))
	}
	fmt.Fprintf(b, "<rect class=\"frame\" x=\"%g\" y=\"%g\" width=\"%g\" height=\"%g\"/>\n", left, top, right-left, bottom-top)
	fmt.Fprintf(b, "<text class=\"title\" x=\"%g\" y=\"%g\" text-anchor=\"middle\">%s</text>\n", (left+right)/2, height-6, html.EscapeString(xLabel))
	fmt.Fprintf(b, "<text class=\"title\" x=\"14\" y=\"%g\" text-anchor=\"middle\" transform=\"rotate(-90 14 %g)\">%s</text>\n", (top+bottom)/2, (top+bottom)/2, html.EscapeString(yLabel))
	return frame{b: b, x: x, y: y, height: height}
}

func (f frame) close() { f.b.WriteString("</svg>\n") }

// point is a data point; a NaN y breaks the line.
type point struct{ x, y float64 }

// line draws pts as one path in the series' colour.
func (f frame) line(pts []point, color string, width float64, dash string) {
	var d strings.Builder
	pen := false
	for _, p := range pts {
		if math.IsNaN(p.y) {
			pen = false
			continue
		}
		cmd := 'L'
		if !pen {
			cmd = 'M'
		}
		fmt.Fprintf(&d, "%c%.1f %.1f", cmd, f.x.pos(p.x), f.y.pos(p.y))
		pen = true
	}
	if d.Len() == 0 {
		return
	}
	dashAttr := ""
	if dash != "" {
		dashAttr = fmt.Sprintf(" stroke-dasharray=%q", dash)
	}
	fmt.Fprintf(f.b, "<path d=%q stroke=%q stroke-width=\"%g\"%s/>\n", d.String(), color, width, dashAttr)
}

// series wraps one server's lines in a group that names it.
func (f frame) series(s plotSeries, draw func()) {
	fmt.Fprintf(f.b, "<g class=\"series\" data-server=%q><title>%s</title>\n", html.EscapeString(s.name), html.EscapeString(s.name))
	draw()
	f.b.WriteString("</g>\n")
}

// spectrumPoints samples a histogram from p50 to p99.99, evenly on the
// 1/(1−q) log scale.
func spectrumPoints(h *hdrhistogram.Histogram) []point {
	if h.TotalCount() == 0 {
		return nil
	}
	pts := make([]point, 0, spectrumN+1)
	lo, hi := math.Log10(2), math.Log10(1e4)
	for i := range spectrumN + 1 {
		x := math.Pow(10, lo+(hi-lo)*float64(i)/spectrumN)
		q := 100 * (1 - 1/x)
		pts = append(pts, point{x, max(float64(h.ValueAtQuantile(q)), minLatency)})
	}
	return pts
}

func spectrumChart(b *bufio.Writer, ss []plotSeries) {
	lines := make([][]point, len(ss))
	lo, hi := math.Inf(1), 0.0
	for i, s := range ss {
		lines[i] = spectrumPoints(s.total)
		for _, p := range lines[i] {
			lo, hi = min(lo, p.y), max(hi, p.y)
		}
	}
	if hi == 0 {
		lo, hi = 1, 1000
	}
	x := axis{lo: 2, hi: 1e4, log: true, px0: padLeft, px1: chartW - padRight}
	y, yt := latencyAxis(lo, hi, spectrumH-padBottom, padTop)
	var xt []tick
	for _, q := range []string{"50%", "90%", "99%", "99.9%", "99.99%"} {
		v, _ := strconv.ParseFloat(strings.TrimSuffix(q, "%"), 64)
		xt = append(xt, tick{1 / (1 - v/100), q})
	}
	f := openChart(b, "spectrum", spectrumH, x, y, xt, yt, "percentile", "latency")
	for i, s := range ss {
		f.series(s, func() { f.line(lines[i], s.color, 2.5, "") })
	}
	f.close()
}

// slotTicks returns the time axis of the timelines and its ticks: from 0
// to the end of the longest.
func slotTicks(ss []plotSeries) (axis, []tick) {
	end := 0.0
	for _, s := range ss {
		end = max(end, s.slot*float64(len(s.slots)))
	}
	if end == 0 {
		end = 1
	}
	top, ts, _ := linearTicks(end, 10)
	for i := range ts {
		ts[i].label = strconv.FormatFloat(ts[i].v, 'g', 4, 64) + "s"
	}
	return axis{lo: 0, hi: top, px0: padLeft, px1: chartW - padRight}, ts
}

func latencyChart(b *bufio.Writer, ss []plotSeries) {
	type lines struct{ p50, p99 []point }
	all := make([]lines, len(ss))
	lo, hi := math.Inf(1), 0.0
	for i, s := range ss {
		for k, h := range s.slots {
			t := (float64(k) + 0.5) * s.slot
			if h.TotalCount() == 0 {
				all[i].p50 = append(all[i].p50, point{t, math.NaN()})
				all[i].p99 = append(all[i].p99, point{t, math.NaN()})
				continue
			}
			p50 := max(float64(h.ValueAtQuantile(50)), minLatency)
			p99 := max(float64(h.ValueAtQuantile(99)), minLatency)
			all[i].p50 = append(all[i].p50, point{t, p50})
			all[i].p99 = append(all[i].p99, point{t, p99})
			lo, hi = min(lo, p50), max(hi, p99)
		}
	}
	if hi == 0 {
		lo, hi = 1, 1000
	}
	x, xt := slotTicks(ss)
	y, yt := latencyAxis(lo, hi, timelineH-padBottom, padTop)
	f := openChart(b, "latency", timelineH, x, y, xt, yt, "time in the window", "latency")
	for i, s := range ss {
		f.series(s, func() {
			f.line(all[i].p50, s.color, 1.5, "5 4")
			f.line(all[i].p99, s.color, 2.5, "")
		})
	}
	f.close()
}

func throughputChart(b *bufio.Writer, ss []plotSeries) {
	all := make([][]point, len(ss))
	hi := 0.0
	for i, s := range ss {
		for k, h := range s.slots {
			v := float64(h.TotalCount()) / s.slot / float64(max(s.runs, 1))
			all[i] = append(all[i], point{(float64(k) + 0.5) * s.slot, v})
			hi = max(hi, v)
		}
	}
	x, xt := slotTicks(ss)
	top, yt, format := linearTicks(hi*1.08, 5)
	for i := range yt {
		yt[i].label = format(yt[i].v)
	}
	y := axis{lo: 0, hi: top, px0: timelineH - padBottom, px1: padTop}
	f := openChart(b, "throughput", timelineH, x, y, xt, yt, "time in the window", "deliveries / s")
	for i, s := range ss {
		f.series(s, func() { f.line(all[i], s.color, 2.5, "") })
	}
	f.close()
}
