package browsertest

import (
	"bytes"
	"context"
	"net/url"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"golang.org/x/net/html"

	"github.com/capprof/capprof/internal/prereq"
)

// Browser runs Debian's chromium.
type Browser struct{ path string }

// timeout bounds one page load: generous, as the machine may be busy.
const timeout = 3 * time.Minute

// Chromium returns the browser, or skips the test (fails it with CI=true)
// when the chromium package is not installed.
func Chromium(t testing.TB) *Browser {
	t.Helper()
	prereq.RequireCommands(t, "chromium")
	path, _ := exec.LookPath("chromium")
	return &Browser{path: path}
}

// DOM loads the page (a local file), runs its scripts, the timers they set
// included (virtual time: no waiting when idle), and returns the DOM they
// left, parsed.
func (b *Browser) DOM(t testing.TB, page string) *html.Node {
	t.Helper()
	out := b.run(t, "--dump-dom", "--virtual-time-budget=60000", fileURL(t, page))
	doc, err := html.Parse(bytes.NewReader(out))
	if err != nil {
		t.Fatalf("parse the DOM of %s: %v", page, err)
	}
	return doc
}

// Screenshot loads the page in a window of width × height pixels and
// writes what it shows to out as PNG.
func (b *Browser) Screenshot(t testing.TB, page, out string, width, height int) {
	t.Helper()
	abs, err := filepath.Abs(out)
	if err != nil {
		t.Fatal(err)
	}
	b.run(t, "--screenshot="+abs, "--window-size="+strconv.Itoa(width)+","+strconv.Itoa(height),
		"--hide-scrollbars", fileURL(t, page))
}

// run runs chromium headless with args and returns its standard output.
// As root, Chromium needs --no-sandbox; --disable-dev-shm-usage keeps it
// off a small /dev/shm; the profile directory is the test's own.
func (b *Browser) run(t testing.TB, args ...string) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	base := []string{
		"--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
		"--disable-extensions", "--user-data-dir=" + t.TempDir(),
	}
	cmd := exec.CommandContext(ctx, b.path, append(base, args...)...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("chromium %v: %v\n%s", args, err, stderr.Bytes())
	}
	return stdout.Bytes()
}

func fileURL(t testing.TB, page string) string {
	t.Helper()
	abs, err := filepath.Abs(page)
	if err != nil {
		t.Fatal(err)
	}
	return (&url.URL{Scheme: "file", Path: abs}).String()
}
