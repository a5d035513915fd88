package bench

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// htmlCharts are the charts every report draws.
var htmlCharts = []string{"spectrum", "latency", "throughput"}

// pageShape is what checkHTML finds in a report page.
type pageShape struct {
	title  string
	tables int
	// series holds, per chart, the servers of its series in order, and
	// paths how many lines each drew.
	series map[string][]string
	paths  map[string][]int
}

// parsePage checks that b is a self-contained, well-formed page (strict
// XML, so every element is closed and every reference known), and returns
// its shape. Self-contained: no script, no element that loads anything,
// no src or href attribute, no url() or @import in styles.
func parsePage(b []byte) (pageShape, error) {
	shape := pageShape{series: map[string][]string{}, paths: map[string][]int{}}
	d := xml.NewDecoder(bytes.NewReader(b))
	d.Strict = true
	var stack []string
	chart := ""
	sawRoot := false
	for {
		tok, err := d.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return shape, fmt.Errorf("not well-formed: %w", err)
		}
		switch tok := tok.(type) {
		case xml.StartElement:
			name := tok.Name.Local
			if len(stack) == 0 {
				if name != "html" || sawRoot {
					return shape, fmt.Errorf("root element %q, want one html", name)
				}
				sawRoot = true
			}
			switch name {
			case "script", "link", "img", "image", "iframe", "object", "embed", "use", "foreignObject", "audio", "video", "source":
				return shape, fmt.Errorf("element %s in a self-contained page", name)
			}
			attrs := map[string]string{}
			for _, a := range tok.Attr {
				if a.Name.Local == "src" || a.Name.Local == "href" || a.Name.Local == "srcset" {
					return shape, fmt.Errorf("%s has %s=%q", name, a.Name.Local, a.Value)
				}
				if strings.Contains(a.Value, "url(") {
					return shape, fmt.Errorf("%s loads %q", name, a.Value)
				}
				attrs[a.Name.Local] = a.Value
			}
			switch {
			case name == "table":
				shape.tables++
			case name == "svg" && attrs["class"] == "chart":
				chart = attrs["data-chart"]
				if _, dup := shape.series[chart]; dup || chart == "" {
					return shape, fmt.Errorf("chart %q twice or unnamed", chart)
				}
				shape.series[chart] = []string{}
				shape.paths[chart] = []int{}
			case name == "g" && attrs["class"] == "series":
				if chart == "" {
					return shape, fmt.Errorf("series %q outside a chart", attrs["data-server"])
				}
				shape.series[chart] = append(shape.series[chart], attrs["data-server"])
				shape.paths[chart] = append(shape.paths[chart], 0)
			case name == "path" && chart != "" && slices.Contains(stack, "g"):
				shape.paths[chart][len(shape.paths[chart])-1]++
			}
			stack = append(stack, name)
		case xml.EndElement:
			stack = stack[:len(stack)-1]
			if tok.Name.Local == "svg" {
				chart = ""
			}
		case xml.CharData:
			text := string(tok)
			if len(stack) > 0 && stack[len(stack)-1] == "style" && (strings.Contains(text, "url(") || strings.Contains(text, "@import")) {
				return shape, fmt.Errorf("style loads something: %q", text)
			}
			if len(stack) > 0 && stack[len(stack)-1] == "title" && slices.Equal(stack[:len(stack)-1], []string{"html", "head"}) {
				shape.title = text
			}
		}
	}
	if !sawRoot {
		return shape, fmt.Errorf("no html element")
	}
	return shape, nil
}

// checkPage checks a report page: self-contained, titled, with tables, and
// every chart holding one series per server, in order.
func checkPage(t *testing.T, b []byte, servers []string) pageShape {
	t.Helper()
	shape, err := parsePage(b)
	if err != nil {
		t.Fatalf("page: %v\n%s", err, b)
	}
	if !strings.HasPrefix(string(b), "<!DOCTYPE html>") || shape.title == "" || shape.tables == 0 {
		t.Errorf("page has doctype %v, title %q, %d tables; want all", strings.HasPrefix(string(b), "<!DOCTYPE html>"), shape.title, shape.tables)
	}
	for _, c := range htmlCharts {
		got, ok := shape.series[c]
		if !ok {
			t.Errorf("no %s chart", c)
			continue
		}
		if !reflect.DeepEqual(got, servers) {
			t.Errorf("%s chart: series %q, want one per server %q", c, got, servers)
		}
	}
	if len(shape.series) != len(htmlCharts) {
		t.Errorf("charts %v, want %v", shape.series, htmlCharts)
	}
	return shape
}

// plotReport is a report of the given latencies, spread over the slots of
// a three-slot timeline, with server figures.
func plotReport(t *testing.T, values ...int64) *Report {
	t.Helper()
	l := NewLatencies(1, 3)
	rec := l.Recorder(0)
	for i, v := range values {
		rec.Record(i%3, v)
	}
	rec.Flush()
	r := fullReport()
	if err := r.setLatencies(l, 1e9); err != nil {
		t.Fatal(err)
	}
	return r
}

func TestWriteHTML(t *testing.T) {
	tests := []struct {
		name      string
		rep       *Report
		wantPaths []int // per chart, in htmlCharts order
	}{
		{"a run", plotReport(t, 120, 130, 150, 900, 2000, 35000), []int{1, 2, 1}},
		{"nothing delivered", plotReport(t), []int{0, 0, 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b bytes.Buffer
			if err := tt.rep.WriteHTML(&b); err != nil {
				t.Fatal(err)
			}
			shape := checkPage(t, b.Bytes(), []string{tt.rep.Addr})
			for i, c := range htmlCharts {
				if got := shape.paths[c]; !reflect.DeepEqual(got, []int{tt.wantPaths[i]}) {
					t.Errorf("%s chart draws %v lines, want [%d]", c, got, tt.wantPaths[i])
				}
			}
			for _, w := range []string{"peers against 127.0.0.1:2022", "9998 in 0.567s"} {
				if !strings.Contains(b.String(), w) {
					t.Errorf("page lacks the table's %q", w)
				}
			}
		})
	}
}

func TestWriteCompareHTML(t *testing.T) {
	ss := []Series{
		{"campfire -loops 1", []*Report{plotReport(t, 100, 200, 300), plotReport(t, 110, 210, 5000)}},
		{`odd <name> & "quotes"`, []*Report{plotReport(t, 50, 60)}},
		{"conventional", []*Report{plotReport(t, 400, 500, 600, 700)}},
	}
	var b bytes.Buffer
	if err := WriteCompareHTML(&b, ss); err != nil {
		t.Fatal(err)
	}
	shape := checkPage(t, b.Bytes(), []string{"campfire -loops 1", `odd <name> & "quotes"`, "conventional"})
	if shape.tables != 2 {
		t.Errorf("%d tables, want the comparison and the runs", shape.tables)
	}
	for _, w := range []string{"2 runs merged", "<b>205</b> <small>(200–210) ×0.41</small>", "goal ≤ 0.85×"} {
		if !strings.Contains(b.String(), w) {
			t.Errorf("page lacks %q", w)
		}
	}
	if err := WriteCompareHTML(io.Discard, ss[:1]); err == nil {
		t.Errorf("WriteCompareHTML accepted one server")
	}
}

// TestParsePage checks that the page checker catches what it is for.
func TestParsePage(t *testing.T) {
	const head = `<!DOCTYPE html><html><head><title>t</title></head><body>`
	tests := []struct {
		name string
		give string
	}{
		{"script", head + `<script>alert(1)</script></body></html>`},
		{"external image", head + `<img src="http://example.com/x.png"/></body></html>`},
		{"stylesheet", `<!DOCTYPE html><html><head><link rel="stylesheet" href="x.css"/></head><body></body></html>`},
		{"style import", `<!DOCTYPE html><html><head><style>@import "x.css";</style></head><body></body></html>`},
		{"css url", head + `<div style="background:url(x.png)"></div></body></html>`},
		{"unclosed element", head + `<p>text</body></html>`},
		{"unknown entity", head + `<p>&nbsp;</p></body></html>`},
		{"not html", `<svg></svg>`},
		{"series outside a chart", head + `<svg><g class="series" data-server="x"></g></svg></body></html>`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := parsePage([]byte(tt.give)); err == nil {
				t.Errorf("parsePage accepted %s", tt.give)
			}
		})
	}
}

func TestLatencyAxis(t *testing.T) {
	tests := []struct {
		lo, hi     float64
		wantLo     float64
		wantHi     float64
		wantLabels []string
	}{
		{300, 1800, 200, 2000, []string{"200µs", "500µs", "1ms", "2ms"}},
		{1, 1, 1, 2, []string{"1µs", "2µs"}},
		{0, 90, 1, 100, []string{"1µs", "2µs", "5µs", "10µs", "20µs", "50µs", "100µs"}},
		{40, 3e6, 20, 5e6, []string{"20µs", "100µs", "1ms", "10ms", "100ms", "1s", "5s"}},
		{300, 1.5e6, 200, 2e6, []string{"200µs", "1ms", "10ms", "100ms", "1s", "2s"}},
	}
	for _, tt := range tests {
		a, ticks := latencyAxis(tt.lo, tt.hi, spectrumH-padBottom, padTop)
		var labels []string
		for _, tk := range ticks {
			labels = append(labels, tk.label)
		}
		if a.lo != tt.wantLo || a.hi != tt.wantHi || !reflect.DeepEqual(labels, tt.wantLabels) {
			t.Errorf("latencyAxis(%v, %v) = %v..%v %q; want %v..%v %q", tt.lo, tt.hi, a.lo, a.hi, labels, tt.wantLo, tt.wantHi, tt.wantLabels)
		}
		if p := a.pos(a.lo); p != spectrumH-padBottom {
			t.Errorf("pos(lo) = %v, want the bottom (%d)", p, spectrumH-padBottom)
		}
	}
}
