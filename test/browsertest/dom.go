package browsertest

import (
	"strings"
	"testing"

	"golang.org/x/net/html"
)

// Attr returns the value of n's attribute key, "" when it has none.
func Attr(n *html.Node, key string) string {
	for _, a := range n.Attr {
		if a.Key == key {
			return a.Val
		}
	}
	return ""
}

// Find returns the element nodes under n (n included) that match, in
// document order.
func Find(n *html.Node, match func(*html.Node) bool) []*html.Node {
	var out []*html.Node
	var walk func(*html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.ElementNode && match(n) {
			out = append(out, n)
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(n)
	return out
}

// Text returns the text under n.
func Text(n *html.Node) string {
	var b strings.Builder
	var walk func(*html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.TextNode {
			b.WriteString(n.Data)
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(n)
	return b.String()
}

// ByID returns the element whose id is id, or nil.
func ByID(doc *html.Node, id string) *html.Node {
	if found := Find(doc, func(n *html.Node) bool { return Attr(n, "id") == id }); len(found) > 0 {
		return found[0]
	}
	return nil
}

// HeatCells returns the class of every cell of the report's heat map, by
// workload (profile ID) and capability (Kubernetes name): for each row
// g[data-workload] under div#heat, its rect.cell elements' data-cap and
// class c-<class>.
func HeatCells(doc *html.Node) map[string]map[string]string {
	out := map[string]map[string]string{}
	heat := ByID(doc, "heat")
	if heat == nil {
		return out
	}
	for _, row := range Find(heat, func(n *html.Node) bool { return n.Data == "g" && Attr(n, "data-workload") != "" }) {
		cells := map[string]string{}
		for _, c := range Find(row, func(n *html.Node) bool { return n.Data == "rect" }) {
			for _, cls := range strings.Fields(Attr(c, "class")) {
				if v, ok := strings.CutPrefix(cls, "c-"); ok {
					cells[Attr(c, "data-cap")] = v
				}
			}
		}
		out[Attr(row, "data-workload")] = cells
	}
	return out
}

// CheckCells fails t unless the heat map shows each wanted cell (workload
// → capability → class) as wanted.
func CheckCells(t testing.TB, doc *html.Node, want map[string]map[string]string) {
	t.Helper()
	got := HeatCells(doc)
	for id, cells := range want {
		for capName, class := range cells {
			if got[id][capName] != class {
				t.Errorf("heat map: %s, %s is %q, want %q (the row shows %v)", id, capName, got[id][capName], class, got[id])
			}
		}
	}
}
