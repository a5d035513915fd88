package web

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

var screenshotFlag = flag.String("screenshot", "",
	"write TestScreenshot's desktop picture of the camp page to this PNG `file` (and the phone one beside it, as NAME-phone.png), for the README")

// browsers are the names Chromium goes by; CHROMIUM names another.
var browsers = []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "headless-shell"}

// browser is a headless Chromium with one tab, and the console messages of
// that tab that are errors.
type browser struct {
	ctx context.Context

	mu     sync.Mutex
	errors []string
}

// newBrowser starts headless Chromium. It skips the test, saying so, only
// when no Chromium is installed: `make tools` installs Debian's.
func newBrowser(t *testing.T) *browser {
	t.Helper()
	path := os.Getenv("CHROMIUM")
	if path == "" {
		for _, name := range browsers {
			if p, err := exec.LookPath(name); err == nil {
				path = p
				break
			}
		}
	}
	if path == "" {
		t.Skipf("no Chromium found (looked for %s, or $CHROMIUM): install Debian's chromium, as `make tools` does, to run the browser test", strings.Join(browsers, ", "))
	}
	dir, err := os.MkdirTemp("", "campfire-chromium")
	if err != nil {
		t.Fatal(err)
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.UserDataDir(dir),
		chromedp.NoSandbox, // tests run as root in CI, where Chromium's sandbox refuses to start
		chromedp.DisableGPU,
		chromedp.WindowSize(1280, 900),
	)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(allocCtx)
	b := &browser{ctx: ctx}
	// The first Run starts the browser; the console is read from then on.
	if err := chromedp.Do(ctx, chromedp.Navigate("about:blank")); err != nil {
		cancel()
		cancelAlloc()
		t.Fatalf("start %s: %v", path, err)
	}
	consoleDone := make(chan struct{})
	go func() {
		defer close(consoleDone)
		for m, err := range chromedp.Console(ctx) {
			if err != nil {
				return
			}
			if m.Type == chromedp.ConsoleError || m.IsException() {
				b.mu.Lock()
				b.errors = append(b.errors, m.String())
				b.mu.Unlock()
			}
		}
	}()
	t.Cleanup(func() {
		cancel()
		cancelAlloc()
		<-consoleDone
		// Chromium's helpers may still write into dir for a moment after it exits.
		deadline := time.Now().Add(10 * time.Second)
		for os.RemoveAll(dir) != nil && time.Now().Before(deadline) {
			time.Sleep(50 * time.Millisecond)
		}
	})
	return b
}

// do runs actions, failing the test on an error.
func (b *browser) do(t *testing.T, what string, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// within waits, in the page, until the JavaScript condition holds, for at
// most d.
//
// After a navigation chromedp may still hold the execution context of the
// page before, and Chromium then answers the poll with "Cannot find
// context with specified id" (seen once in make test, in
// TestBrowserRefused, whose polls follow a Navigate): that one error is
// polled past, until d is up; any other fails the test at once.
func (b *browser) within(t *testing.T, d time.Duration, what, cond string) {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		left := time.Until(deadline)
		if left <= 0 {
			t.Fatalf("%s: not within %v: the page's execution context stayed gone", what, d)
		}
		_, err := chromedp.Run(b.ctx, chromedp.Poll[chromedp.Void](cond,
			chromedp.WithPollingTimeout(left), chromedp.WithPollingInterval(25*time.Millisecond)))
		if err == nil {
			return
		}
		if !strings.Contains(err.Error(), "Cannot find context with specified id") {
			t.Fatalf("%s: not within %v: %v", what, d, err)
		}
		t.Logf("%s: %v; polling again", what, err)
	}
}

func eval[T any](t *testing.T, b *browser, expr string) T {
	t.Helper()
	v, err := chromedp.Run(b.ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		t.Fatalf("evaluate %s: %v", expr, err)
	}
	return v
}

// noConsoleErrors fails the test if the page wrote an error to the console
// (a script error, a blocked resource, a failed request, a CSP violation).
func (b *browser) noConsoleErrors(t *testing.T) {
	t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, e := range b.errors {
		t.Errorf("console: %s", e)
	}
}

// screenshot captures the viewport at width×height (phone: a mobile
// viewport) and checks that it is a PNG of that size with something drawn.
func (b *browser) screenshot(t *testing.T, width, height int64, phone bool) []byte {
	t.Helper()
	var opts []chromedp.EmulateViewportOption
	if phone {
		opts = append(opts, chromedp.EmulateMobile, chromedp.EmulatePortrait)
	}
	b.do(t, "set the viewport", chromedp.EmulateViewport(width, height, opts...))
	// Let the page lay itself out again at the new width.
	b.within(t, 5*time.Second, "relayout", fmt.Sprintf("window.innerWidth === %d", width))
	shot, err := chromedp.Run(b.ctx, chromedp.CaptureScreenshot())
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	img, err := png.Decode(bytes.NewReader(shot))
	if err != nil {
		t.Fatalf("screenshot is not a PNG: %v", err)
	}
	if got := img.Bounds().Size(); got.X != int(width) || got.Y != int(height) {
		t.Errorf("screenshot is %v, want %dx%d", got, width, height)
	}
	// A blank page compresses to a few KiB; one with the camp drawn on it
	// is tens of KiB.
	if len(shot) < 20_000 {
		t.Errorf("screenshot is only %d bytes: is the page drawn?", len(shot))
	}
	if overflow := eval[bool](t, b, `document.documentElement.scrollWidth > window.innerWidth`); overflow {
		t.Errorf("at %dpx the page is wider than the screen", width)
	}
	return shot
}

func writeFile(t *testing.T, path string, data []byte) {
	t.Helper()
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestBrowser loads the camp page in headless Chromium and checks that it
// shows the scripted camp and follows it live.
func TestBrowser(t *testing.T) {
	b := newBrowser(t)
	f := newFakeCamp(time.Now)
	for i := 1; i <= 10; i++ {
		f.checkin(fmt.Sprintf("J%03d", i), fmt.Sprintf("127.0.0.1:%d", 50000+i))
	}
	f.session(1, "J001", 5, 2)
	// The defaults, which the "within 2 s" promise is made with.
	ts := startServer(t, Config{Source: f, Version: "campfire test"})

	b.do(t, "load the page", chromedp.Navigate(ts.url+"/"), chromedp.WaitVisible(`[data-camper="J010"]`))
	if got := eval[int](t, b, `document.querySelectorAll('#grid [data-group]').length`); got != 3 {
		t.Errorf("%d group cards, want 3", got)
	}
	if got := eval[string](t, b, `document.getElementById('campers').textContent`); got != "10" {
		t.Errorf("campers shows %q, want 10", got)
	}
	if got := eval[string](t, b, `document.querySelector('[data-group="3"]').textContent`); !strings.Contains(got, "J009") || !strings.Contains(got, "J010") || !strings.Contains(got, "free") {
		t.Errorf("group 3 reads %q, want J009, J010 and free seats", got)
	}
	if got := eval[string](t, b, `document.querySelector('[data-group="1"] .session').textContent`); got != "Session by J001 · 2 / 5 messages" {
		t.Errorf("group 1's session reads %q", got)
	}
	if got := eval[int](t, b, `document.querySelectorAll('[data-group="1"] .host').length`); got != 1 {
		t.Errorf("%d hosts marked in group 1, want 1", got)
	}

	f.checkin("J011", "127.0.0.1:50011")
	b.within(t, 2*time.Second, "J011's check-in shows", `!!document.querySelector('[data-group="3"] [data-camper="J011"]')`)
	f.leave("J002")
	b.within(t, 2*time.Second, "J002's leaving shows", `!document.querySelector('[data-camper="J002"]') && document.getElementById('campers').textContent === '10'`)
	f.leave("J001")
	b.within(t, 2*time.Second, "the host's leaving ends the session", `document.querySelector('[data-group="1"] .session').textContent === 'No session'`)

	// Messages per second: a rate appears once a second of snapshots is
	// in, and follows the messages.
	f.mu.Lock()
	f.msgRate = 250
	f.mu.Unlock()
	b.within(t, 5*time.Second, "a message rate shows", `parseFloat(document.getElementById('rate').textContent) > 0`)

	// A draining server says so.
	f.setHealth(false, "draining", true)
	b.within(t, 2*time.Second, "draining shows", `document.getElementById('statustext').textContent === 'draining' && document.getElementById('banner').classList.contains('on')`)

	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "desktop.png"), b.screenshot(t, 1280, 900, false))
	writeFile(t, filepath.Join(dir, "phone.png"), b.screenshot(t, 390, 844, true))
	b.noConsoleErrors(t)
}

// TestBrowserLargeCamp checks the page at 19,000 campers: it draws one
// page of groups, pages on, finds a camper, and stays responsive.
func TestBrowserLargeCamp(t *testing.T) {
	b := newBrowser(t)
	f := newFakeCamp(time.Now)
	start := time.Now().Add(-time.Hour)
	for i := range 19000 { // seated in order, four to a group, as a load test's check-ins are
		g := f.groups[i/4+1]
		if g == nil {
			g = &Group{Number: i/4 + 1}
			f.groups[g.Number] = g
		}
		g.Campers = append(g.Campers, Camper{
			ID:     fmt.Sprintf("J%05d", i+1),
			Remote: fmt.Sprintf("127.0.0.%d:%d", 1+i%200, 20000+i),
			Since:  start.Add(time.Duration(i) * 100 * time.Millisecond),
		})
	}
	f.connections = 19000
	ts := startServer(t, Config{Source: f})

	b.do(t, "load the page", chromedp.EmulateViewport(1280, 900), chromedp.Navigate(ts.url+"/#size=48"), chromedp.WaitVisible(`[data-camper="J00001"]`))
	if got := eval[int](t, b, `document.querySelectorAll('#grid [data-group]').length`); got != 48 {
		t.Errorf("%d cards drawn, want one page of 48", got)
	}
	if got := eval[string](t, b, `document.getElementById('pageinfo').textContent`); got != "page 1 of 99" {
		t.Errorf("pager reads %q, want page 1 of 99 (4,750 groups)", got)
	}
	if got := eval[string](t, b, `document.getElementById('campers').textContent`); got != "19,000" {
		t.Errorf("campers shows %q", got)
	}
	b.do(t, "next page", chromedp.Click(chromedp.CSS(`#next`)))
	b.within(t, 5*time.Second, "page 2", `!!document.querySelector('[data-group="49"]') && !document.querySelector('[data-group="1"]')`)
	b.do(t, "find a camper", chromedp.SendKeys(chromedp.CSS(`#q`), "J18999"))
	b.within(t, 5*time.Second, "the camper found", `document.querySelectorAll('#grid [data-group]').length === 1 && !!document.querySelector('[data-camper="J18999"]')`)
	if got := eval[string](t, b, `location.hash`); got != "#page=1&size=48&q=J18999" {
		t.Errorf("location.hash %q: the view should be a link", got)
	}
	// Cleared, at phone width: one page of groups, the pager fits.
	eval[chromedp.Void](t, b, `(() => { const q = document.getElementById('q'); q.value = ''; q.dispatchEvent(new Event('input')); })()`)
	b.within(t, 5*time.Second, "every group again", `document.getElementById('pageinfo').textContent === 'page 1 of 99'`)
	shot := b.screenshot(t, 390, 844, true)
	writeFile(t, filepath.Join(t.TempDir(), "phone.png"), shot)
	// The page answers at once: its main thread is not stuck rendering.
	ctx, cancel := context.WithTimeout(b.ctx, 2*time.Second)
	defer cancel()
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[int](`1 + 1`)); err != nil {
		t.Errorf("the page does not answer: %v", err)
	}
	b.noConsoleErrors(t)
}

// TestScreenshot draws a camp of a few dozen campers at desktop and phone
// width. With -screenshot FILE it writes the pictures the README shows:
//
//	go test ./server/web -run TestScreenshot -args -screenshot=$PWD/docs/camp-page.png
func TestScreenshot(t *testing.T) {
	b := newBrowser(t)
	now := time.Now()
	f := newFakeCamp(time.Now)
	f.started = now.Add(-2*time.Hour - 14*time.Minute)
	f.msgRate = 6.4 // a class of forty, chatting
	// Eleven full groups, then a few leave, as in a real class.
	var ids []string
	for n := 1; n <= 44; n++ {
		id := fmt.Sprintf("J%03d", n*7%384+1)
		ids = append(ids, id)
		ago := time.Duration(95-n*2)*time.Minute + time.Duration(n*17%60)*time.Second
		f.checkinSince(id, fmt.Sprintf("10.1.%d.%d:%d", (n+3)/4, 10+n*3, 40000+n*137), now.Add(-ago))
	}
	for _, i := range []int{14, 33, 41, 43} {
		f.leave(ids[i])
	}
	first := func(g int) string {
		f.mu.Lock()
		defer f.mu.Unlock()
		return f.groups[g].Campers[g%len(f.groups[g].Campers)].ID
	}
	f.session(1, first(1), 20, 13)
	f.session(3, first(3), 5, 1)
	f.session(6, first(6), 100, 64)
	f.session(7, first(7), 3, 2)
	ts := startServer(t, Config{Source: f, Version: "campfire v1.0.0 revision 3f2a9c1e7b40"})

	b.do(t, "load the page", chromedp.EmulateViewport(1280, 900), chromedp.Navigate(ts.url+"/#size=12"),
		chromedp.WaitVisible(`[data-group="11"]`))
	b.within(t, 5*time.Second, "a message rate", `parseFloat(document.getElementById('rate').textContent) > 0`)

	desktop := b.screenshot(t, 1280, 1000, false) // tall enough for all eleven groups
	phone := b.screenshot(t, 390, 844, true)
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "desktop.png"), desktop)
	writeFile(t, filepath.Join(dir, "phone.png"), phone)
	if *screenshotFlag != "" {
		writeFile(t, *screenshotFlag, desktop)
		writeFile(t, strings.TrimSuffix(*screenshotFlag, ".png")+"-phone.png", phone)
		t.Logf("wrote %s and its -phone.png", *screenshotFlag)
	}
	b.noConsoleErrors(t)
}

// TestBrowserRefused checks that a page turned away (too many viewers)
// says so and comes back by itself once there is room.
func TestBrowserRefused(t *testing.T) {
	b := newBrowser(t)
	f, _ := scriptedCamp()
	ts := startServer(t, Config{Source: f, MaxViewers: 1})
	other := ts.openStream(t, "")
	other.nextCamp(t, func(string) bool { return true })

	b.do(t, "load the page", chromedp.Navigate(ts.url+"/"))
	b.within(t, 5*time.Second, "refused shows", `document.getElementById('statustext').textContent === 'offline, retrying'`)
	other.close()
	b.within(t, 15*time.Second, "back once there is room", `document.getElementById('statustext').textContent === 'live' && !!document.querySelector('[data-camper="J005"]')`)
	// The refusal itself is a console error (the browser reports the 503);
	// nothing else may be.
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, e := range b.errors {
		if !strings.Contains(e, "the server responded with a status of 503") {
			t.Errorf("console: %s", e)
		}
	}
}
