//go:build integration

package main

import (
	"bytes"
	"flag"
	"image"
	"image/color"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/net/html"

	"github.com/capprof/capprof/test/browsertest"
)

var updateScreenshot = flag.Bool("update-screenshot", false, "write the report's screenshot to docs/report.png")

// starwarsChecks is what the gateway of `make e2e` forwarded of namespace
// default, recorded by that test (test/k8se2e, -report-fixture), gzipped: the
// deathstar Deployment binding port 80 on two nodes, xwing's and
// tiefighter's dmesg refused as uid 65534.
const starwarsChecks = "testdata/starwars-checks.jsonl.gz"

// starwarsCells is what the heat map must show of the demo.
var starwarsCells = map[string]map[string]string{
	"k8s default/Deployment/deathstar/deathstar": {"NET_BIND_SERVICE": "needed"},
	"k8s default/Pod/xwing/spaceship":            {"SYSLOG": "denied-only", "SETUID": "denied-only", "SETPCAP": "ignored"},
}

// TestReportInChromium writes the report of the recorded demo, loads it in
// headless Chromium and reads what its script drew: the heat map's cells,
// the advice and the caveats; then takes a screenshot and finds the heat
// map's colours in it.
func TestReportInChromium(t *testing.T) {
	browser := browsertest.Chromium(t)
	page := filepath.Join(t.TempDir(), "report.html")
	var stdout, stderr bytes.Buffer
	if code := run([]string{"report", "--namespace", "default", "-o", page, starwarsChecks}, &stdout, &stderr); code != 0 {
		t.Fatalf("capprof report: exit %d\n%s", code, stderr.String())
	}
	doc := browser.DOM(t, page)
	browsertest.CheckCells(t, doc, starwarsCells)
	if rows := browsertest.HeatCells(doc); len(rows) != 3 {
		t.Errorf("heat map rows %v, want the 3 workloads of namespace default", rows)
	}
	deathstar := browsertest.Find(doc, func(n *html.Node) bool {
		return n.Data == "details" && browsertest.Attr(n, "data-workload") == "k8s default/Deployment/deathstar/deathstar"
	})
	if len(deathstar) != 1 || browsertest.Attr(deathstar[0], "data-pss") != "restricted" ||
		!strings.Contains(browsertest.Text(deathstar[0]), "add: NET_BIND_SERVICE") {
		t.Errorf("the deathstar's advice is not restricted with NET_BIND_SERVICE added")
	}
	for id, want := range map[string]string{
		"caveat-list":  "Observation window:",
		"denied-table": "SYSLOG",
		"tl":           "NET_BIND_SERVICE",
	} {
		if n := browsertest.ByID(doc, id); n == nil || !strings.Contains(browsertest.Text(n), want) {
			t.Errorf("#%s does not say %q", id, want)
		}
	}

	shot := filepath.Join(t.TempDir(), "report.png")
	browser.Screenshot(t, page, shot, 1200, 900)
	img := readPNG(t, shot)
	if b := img.Bounds(); b.Dx() != 1200 || b.Dy() != 900 {
		t.Errorf("screenshot %v, want 1200x900", b)
	}
	// The heat map's needed and denied-only colours (report.css) are on it.
	for name, c := range map[string]color.RGBA{"needed": {0xe6, 0x55, 0x0d, 0xff}, "denied-only": {0x75, 0x6b, 0xb1, 0xff}} {
		if !hasColor(img, c) {
			t.Errorf("the screenshot has no %s cell (colour %v)", name, c)
		}
	}
	if *updateScreenshot {
		data, err := os.ReadFile(shot)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile("../../docs/report.png", data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func readPNG(t *testing.T, path string) image.Image {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	return img
}

func hasColor(img image.Image, want color.RGBA) bool {
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			if color.RGBAModel.Convert(img.At(x, y)).(color.RGBA) == want {
				return true
			}
		}
	}
	return false
}
