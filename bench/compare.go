package bench

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"runtime"
	"slices"
	"strings"
	"text/tabwriter"
)

// Goals the gnet server is held to against the conventional one (the last
// server of a comparison), on the medians of their runs.
const (
	goalCPURatio  = 0.85 // CPU per delivered message, against the conventional server's
	goalP50       = 1000 // µs: the median latency
	goalRSSPerCon = 1024 // bytes per checked-in connection under the compared load
)

// LoadReport reads a report written with -json.
func LoadReport(name string) (*Report, error) {
	b, err := os.ReadFile(name)
	if err != nil {
		return nil, err
	}
	var r Report
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("report %s: %w", name, err)
	}
	return &r, nil
}

// Series is one server of a comparison and the reports of its runs (the
// same load repeated).
type Series struct {
	Name string
	Runs []*Report
}

// figure is one row of the comparison: how to read it from a report, how
// to print it, and whether its ratio between servers means anything.
type figure struct {
	name   string
	format string
	get    func(*Report) (float64, bool) // false: the report has no such figure
	ratio  bool
}

func always(f func(*Report) float64) func(*Report) (float64, bool) {
	return func(r *Report) (float64, bool) { return f(r), true }
}

func srvFig(f func(*ServerFigures) float64) func(*Report) (float64, bool) {
	return func(r *Report) (float64, bool) {
		if r.Server == nil {
			return 0, false
		}
		return f(r.Server), true
	}
}

// thread reads the share of the window that the server's n-th busiest
// thread spent on a CPU (wait false) or waiting for one (wait true), in %.
func thread(n int, wait bool) func(*Report) (float64, bool) {
	return func(r *Report) (float64, bool) {
		s := r.Server
		if s == nil || len(s.Threads) <= n || s.Wall <= 0 {
			return 0, false
		}
		t := s.Threads[n]
		if wait {
			return 100 * t.Wait / s.Wall, true
		}
		return 100 * t.Run / s.Wall, true
	}
}

var figures = []figure{
	{"connections checked in", "%.0f", always(func(r *Report) float64 { return float64(r.CheckedIn) }), true},
	{"connect /s", "%.0f", always(func(r *Report) float64 { return r.ConnectRate }), true},
	{"check-in /s", "%.0f", always(func(r *Report) float64 { return r.CheckinRate }), true},
	{"requested msgs /s", "%.0f", always(func(r *Report) float64 { return r.RequestedRate }), false},
	{"offered msgs /s", "%.0f", always(func(r *Report) float64 { return r.OfferedRate }), true},
	{"delivered msgs /s", "%.0f", always(func(r *Report) float64 { return r.DeliveredRate }), true},
	{"latency p50 µs", "%.0f", always(func(r *Report) float64 { return float64(r.Latency.P50) }), true},
	{"latency p90 µs", "%.0f", always(func(r *Report) float64 { return float64(r.Latency.P90) }), true},
	{"latency p99 µs", "%.0f", always(func(r *Report) float64 { return float64(r.Latency.P99) }), true},
	{"latency p99.9 µs", "%.0f", always(func(r *Report) float64 { return float64(r.Latency.P999) }), true},
	{"latency max µs", "%.0f", always(func(r *Report) float64 { return float64(r.Latency.Max) }), true},
	{"errors", "%.0f", always(func(r *Report) float64 { return float64(sumErrors(r)) }), false},
	{"machine busy %", "%.1f", always(func(r *Report) float64 { return 100 * r.Busy }), false},
	{"hypervisor steal %", "%.1f", always(func(r *Report) float64 { return 100 * r.Steal }), false},
	{"others' CPU %", "%.1f", always(func(r *Report) float64 { return 100 * r.Others }), false},
	{"server RSS idle MiB", "%.1f", srvFig(func(s *ServerFigures) float64 { return mib(s.RSSBefore) }), true},
	{"server RSS checked in MiB", "%.1f", srvFig(func(s *ServerFigures) float64 { return mib(s.RSSCheckedIn) }), true},
	{"server RSS at end MiB", "%.1f", srvFig(func(s *ServerFigures) float64 { return mib(s.RSSEnd) }), true},
	{"server RSS / conn bytes", "%.0f", srvFig(func(s *ServerFigures) float64 { return s.RSSPerConn }), true},
	{"server CPU s in window", "%.2f", srvFig(func(s *ServerFigures) float64 { return s.CPU }), true},
	{"server CPU user s", "%.2f", srvFig(func(s *ServerFigures) float64 { return s.CPUUser }), true},
	{"server CPU system s", "%.2f", srvFig(func(s *ServerFigures) float64 { return s.CPU - s.CPUUser }), true},
	{"server CPU µs / delivered msg", "%.2f", srvFig(func(s *ServerFigures) float64 { return s.CPUPerMsg }), true},
	{"busiest thread on CPU %", "%.1f", thread(0, false), true},
	{"busiest thread waiting for CPU %", "%.1f", thread(0, true), true},
	{"2nd busiest thread on CPU %", "%.1f", thread(1, false), true},
	{"2nd busiest thread waiting %", "%.1f", thread(1, true), true},
}

// spread is a figure over the runs of one server.
type spread struct {
	n             int
	med, min, max float64
}

func spreadOf(runs []*Report, get func(*Report) (float64, bool)) spread {
	var vs []float64
	for _, r := range runs {
		if v, ok := get(r); ok {
			vs = append(vs, v)
		}
	}
	if len(vs) == 0 {
		return spread{}
	}
	slices.Sort(vs)
	med := vs[len(vs)/2]
	if len(vs)%2 == 0 {
		med = (vs[len(vs)/2-1] + vs[len(vs)/2]) / 2
	}
	return spread{n: len(vs), med: med, min: vs[0], max: vs[len(vs)-1]}
}

func (s spread) format(f string) string {
	switch {
	case s.n == 0:
		return "-"
	case s.n == 1 || s.min == s.max:
		return fmt.Sprintf(f, s.med)
	}
	return fmt.Sprintf(f+" ("+f+"–"+f+")", s.med, s.min, s.max)
}

// table is a grid of text cells, printed as text or as HTML.
type table struct {
	caption string
	header  []string
	rows    [][]string
	text    bool // cells are prose: align left
	figures bool // cells are "median (range) ×ratio": the median stands out
}

// compareTable has a row per figure and a column per server: the median
// of its runs, their range, and the median's ratio to the last server's.
func compareTable(ss []Series) table {
	ref := ss[len(ss)-1]
	t := table{
		caption: fmt.Sprintf("median (lowest–highest) over each server's runs; ×: the median's ratio to %s's", ref.Name),
		header:  []string{"figure"},
		figures: true,
	}
	for _, s := range ss {
		t.header = append(t.header, fmt.Sprintf("%s, %s", s.Name, plural(len(s.Runs), "run", "runs")))
	}
	for _, f := range figures {
		row := []string{f.name}
		b := spreadOf(ref.Runs, f.get)
		for i, s := range ss {
			a := spreadOf(s.Runs, f.get)
			cell := a.format(f.format)
			if i < len(ss)-1 && f.ratio && a.n > 0 && b.n > 0 && b.med != 0 {
				cell += fmt.Sprintf(" ×%.2f", a.med/b.med)
			}
			row = append(row, cell)
		}
		if rowEmpty(row[1:]) {
			continue
		}
		t.rows = append(t.rows, row)
	}
	return t
}

func rowEmpty(cells []string) bool {
	for _, c := range cells {
		if c != "-" {
			return false
		}
	}
	return true
}

// runsTable has one row per run, in the order each server's reports were
// given, with the figures that vary most from run to run and the steal
// that explains much of it.
func runsTable(ss []Series) table {
	t := table{
		caption: "every run",
		header: []string{"server", "run", "delivered /s", "p50 µs", "p99 µs", "p99.9 µs", "max µs",
			"CPU µs / msg", "busiest thread CPU %", "its wait %", "steal %", "others %", "machine busy %"},
	}
	for _, s := range ss {
		for i, r := range s.Runs {
			cell := func(get func(*Report) (float64, bool), f string) string {
				if v, ok := get(r); ok {
					return fmt.Sprintf(f, v)
				}
				return "-"
			}
			t.rows = append(t.rows, []string{
				s.Name, fmt.Sprint(i + 1), fmt.Sprintf("%.0f", r.DeliveredRate),
				fmt.Sprint(r.Latency.P50), fmt.Sprint(r.Latency.P99), fmt.Sprint(r.Latency.P999), fmt.Sprint(r.Latency.Max),
				cell(srvFig(func(s *ServerFigures) float64 { return s.CPUPerMsg }), "%.2f"),
				cell(thread(0, false), "%.1f"), cell(thread(0, true), "%.1f"),
				fmt.Sprintf("%.1f", 100*r.Steal), fmt.Sprintf("%.1f", 100*r.Others), fmt.Sprintf("%.1f", 100*r.Busy),
			})
		}
	}
	return t
}

// goals returns the verdict on each goal for every server but the last,
// against the last, on the medians of their runs, and whether all were met.
func goals(ss []Series) ([]string, bool, error) {
	ref := ss[len(ss)-1]
	for _, s := range ss {
		for _, r := range s.Runs {
			if r.Server == nil {
				return nil, false, fmt.Errorf("compare: %s: every run needs -server-pid figures", s.Name)
			}
		}
	}
	cpu := func(s Series) spread {
		return spreadOf(s.Runs, srvFig(func(f *ServerFigures) float64 { return f.CPUPerMsg }))
	}
	rss := func(s Series) spread {
		return spreadOf(s.Runs, srvFig(func(f *ServerFigures) float64 { return f.RSSPerConn }))
	}
	lat := func(s Series, f func(*Report) float64) float64 { return spreadOf(s.Runs, always(f)).med }
	p50 := func(r *Report) float64 { return float64(r.Latency.P50) }
	p99 := func(r *Report) float64 { return float64(r.Latency.P99) }
	theirCPU, theirRSS, theirP99 := cpu(ref).med, rss(ref).med, lat(ref, p99)
	var lines []string
	ok := true
	for _, s := range ss[:len(ss)-1] {
		ourP50, ourP99 := lat(s, p50), lat(s, p99)
		met := ourP50 <= goalP50
		ok = ok && met
		lines = append(lines, fmt.Sprintf("latency p50: %s %.0f µs (goal ≤ %d µs): %s",
			s.Name, ourP50, goalP50, verdict(met, fmt.Sprintf("%.0f µs over", ourP50-goalP50))))
		met = ourP99 <= theirP99
		ok = ok && met
		lines = append(lines, fmt.Sprintf("latency p99: %s %.0f µs, %s %.0f µs (goal ≤ the %s server's): %s",
			s.Name, ourP99, ref.Name, theirP99, ref.Name, verdict(met, fmt.Sprintf("%.2f× its p99", ourP99/theirP99))))
		if theirCPU > 0 {
			ratio := cpu(s).med / theirCPU
			met := ratio <= goalCPURatio
			ok = ok && met
			lines = append(lines, fmt.Sprintf("CPU per delivered message: %s uses %.2f× the %s server's (goal ≤ %.2f×): %s",
				s.Name, ratio, ref.Name, goalCPURatio, verdict(met, fmt.Sprintf("%.2f× over the goal", ratio/goalCPURatio))))
		} else {
			ok = false
			lines = append(lines, fmt.Sprintf("CPU per delivered message: no figure for %s", ref.Name))
		}
		ours := rss(s).med
		met = ours < goalRSSPerCon
		ok = ok && met
		lines = append(lines, fmt.Sprintf("RSS per checked-in connection: %s %.0f bytes, %s %.0f bytes (goal < %d): %s",
			s.Name, ours, ref.Name, theirRSS, goalRSSPerCon, verdict(met, fmt.Sprintf("%.0f bytes over", ours-goalRSSPerCon))))
	}
	return lines, ok, nil
}

// Compare writes the servers side by side, the last being the reference
// the others are measured against: each figure's median over a server's
// runs with its range and the ratios to the reference, then every run on
// its own line with the hypervisor steal during it, then the verdict on
// each goal. It reports whether every goal was met.
func Compare(w io.Writer, ss []Series) (bool, error) {
	if err := checkSeries(ss); err != nil {
		return false, err
	}
	if err := writeTable(w, compareTable(ss), true); err != nil {
		return false, err
	}
	fmt.Fprintln(w)
	if err := writeTable(w, runsTable(ss), true); err != nil {
		return false, err
	}
	fmt.Fprintf(w, "\nnproc %d (harness and servers share these cores)\n", runtime.NumCPU())
	for _, n := range seriesNotes(ss) {
		fmt.Fprintf(w, "note: %s\n", n)
	}
	lines, ok, err := goals(ss)
	if err != nil {
		return false, err
	}
	for _, l := range lines {
		fmt.Fprintln(w, l)
	}
	return ok, nil
}

func checkSeries(ss []Series) error {
	if len(ss) < 2 {
		return fmt.Errorf("compare: want at least two servers, have %d", len(ss))
	}
	for _, s := range ss {
		if len(s.Runs) == 0 {
			return fmt.Errorf("compare: %s has no runs", s.Name)
		}
	}
	return nil
}

// seriesNotes are the runs' notes, each once, with its server's name.
func seriesNotes(ss []Series) []string {
	var out []string
	for _, s := range ss {
		for _, r := range s.Runs {
			for _, n := range r.Notes {
				if n := s.Name + ": " + n; !slices.Contains(out, n) {
					out = append(out, n)
				}
			}
		}
	}
	return out
}

// writeTable writes t as aligned text, numbers right-aligned if right.
func writeTable(w io.Writer, t table, right bool) error {
	flags := uint(0)
	if right {
		flags = tabwriter.AlignRight
	}
	if t.caption != "" {
		fmt.Fprintf(w, "%s:\n", t.caption)
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', flags)
	fmt.Fprintln(tw, strings.Join(t.header, "\t")+"\t")
	for _, row := range t.rows {
		fmt.Fprintln(tw, strings.Join(row, "\t")+"\t")
	}
	return tw.Flush()
}

func verdict(met bool, miss string) string {
	if met {
		return "met"
	}
	return "NOT met, " + miss
}

func sumErrors(r *Report) int64 {
	var n int64
	for _, v := range r.Errors {
		n += v
	}
	return n
}

func mib(b int64) float64 { return float64(b) / (1 << 20) }

// compareSpec is one NAME=FILE of -compare.
type compareSpec struct{ name, file string }

// parseCompare splits "-compare NAME=FILE,NAME=FILE,...". A name given
// again adds a run to that server; servers keep the order in which their
// names first appear, and the last is the reference.
func parseCompare(s string) ([]compareSpec, error) {
	var out []compareSpec
	names := map[string]bool{}
	for p := range strings.SplitSeq(s, ",") {
		name, file, ok := strings.Cut(p, "=")
		if !ok || name == "" || file == "" {
			return nil, fmt.Errorf("-compare %q: want NAME=FILE,NAME=FILE[,...]", s)
		}
		out = append(out, compareSpec{name, file})
		names[name] = true
	}
	if len(names) < 2 {
		return nil, fmt.Errorf("-compare %q: want at least two servers (names)", s)
	}
	return out, nil
}

// loadSeries reads the reports of specs into one Series per name.
func loadSeries(specs []compareSpec) ([]Series, error) {
	var out []Series
	for _, sp := range specs {
		r, err := LoadReport(sp.file)
		if err != nil {
			return nil, err
		}
		i := slices.IndexFunc(out, func(s Series) bool { return s.Name == sp.name })
		if i < 0 {
			out = append(out, Series{Name: sp.name})
			i = len(out) - 1
		}
		out[i].Runs = append(out[i].Runs, r)
	}
	return out, nil
}

// compareFiles prints the comparison of saved reports, and writes it as
// HTML to htmlFile unless that is "".
func compareFiles(spec, htmlFile string, stdout, stderr io.Writer) int {
	specs, err := parseCompare(spec)
	if err != nil {
		fmt.Fprintf(stderr, "campfire bench: %v\n", err)
		return 2
	}
	ss, err := loadSeries(specs)
	if err != nil {
		fmt.Fprintf(stderr, "campfire bench: %v\n", err)
		return 1
	}
	met, err := Compare(stdout, ss)
	if err != nil {
		fmt.Fprintf(stderr, "campfire bench: %v\n", err)
		return 1
	}
	if htmlFile != "" {
		if err := writeFile(htmlFile, func(w io.Writer) error { return WriteCompareHTML(w, ss) }); err != nil {
			fmt.Fprintf(stderr, "campfire bench: %v\n", err)
			return 1
		}
		fmt.Fprintf(stdout, "report: %s\n", htmlFile)
	}
	if !met {
		return 3
	}
	return 0
}

// writeFile creates name and fills it with write.
func writeFile(name string, write func(io.Writer) error) error {
	f, err := os.Create(name)
	if err != nil {
		return err
	}
	if err := write(f); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", name, err)
	}
	return f.Close()
}
