// Package grafana tests deploy/grafana/capprof.json: every query parses,
// and (dashboard_integration_test.go) every query names metrics and labels
// that the real pipeline produces, evaluated by a real Prometheus.
package grafana

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/prometheus/prometheus/promql/parser"

	"github.com/capprof/capprof/test/collectortest"
)

// DashboardFile is the shipped dashboard, relative to the repository root.
const DashboardFile = "deploy/grafana/capprof.json"

// query is one PromQL expression of the dashboard and where it is.
type query struct {
	where  string // panel title, or "variable NAME"
	expr   string
	legend string
}

type dashboard struct {
	Panels []struct {
		Type    string `json:"type"`
		Title   string `json:"title"`
		Targets []struct {
			Expr         string `json:"expr"`
			LegendFormat string `json:"legendFormat"`
		} `json:"targets"`
	} `json:"panels"`
	Templating struct {
		List []struct {
			Name       string `json:"name"`
			Type       string `json:"type"`
			Definition string `json:"definition"`
		} `json:"list"`
	} `json:"templating"`
}

// labelValues is Grafana's label_values(METRIC, LABEL) variable query.
var labelValues = regexp.MustCompile(`^label_values\(\s*([a-zA-Z_:][a-zA-Z0-9_:]*)\s*,\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*\)$`)

// loadQueries reads the dashboard's panel queries and, as selector plus
// grouping, its label_values variables.
func loadQueries(t *testing.T) []query {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(collectortest.Repo(), DashboardFile))
	if err != nil {
		t.Fatal(err)
	}
	var d dashboard
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatalf("%s: %v", DashboardFile, err)
	}
	var qs []query
	for _, p := range d.Panels {
		if p.Type == "row" {
			continue
		}
		if len(p.Targets) == 0 {
			t.Errorf("panel %q has no query", p.Title)
		}
		for _, tg := range p.Targets {
			qs = append(qs, query{where: p.Title, expr: tg.Expr, legend: tg.LegendFormat})
		}
	}
	for _, v := range d.Templating.List {
		if v.Type != "query" {
			continue
		}
		m := labelValues.FindStringSubmatch(v.Definition)
		if m == nil {
			t.Errorf("variable %s: %q is not label_values(METRIC, LABEL)", v.Name, v.Definition)
			continue
		}
		qs = append(qs, query{where: "variable " + v.Name, expr: "count by (" + m[2] + ") (" + m[1] + ")"})
	}
	return qs
}

// grafanaVariables are the values the tests give Grafana's variables.
var grafanaVariables = strings.NewReplacer(
	"$__rate_interval", "1m",
	"$__range", "1h",
	"$namespace", ".*",
)

// expand replaces the dashboard's variables as Grafana would.
func (q query) expand() string { return grafanaVariables.Replace(q.expr) }

// selection is what a query reads: the metrics it selects, the labels it
// matches or groups by, and the labels its legend prints.
type selection struct {
	metrics []string
	labels  []string
	legend  []string
}

var legendLabel = regexp.MustCompile(`\{\{\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*\}\}`)

func parse(q query) (selection, error) {
	expr, err := parser.NewParser(parser.Options{}).ParseExpr(q.expand())
	if err != nil {
		return selection{}, err
	}
	var s selection
	parser.Inspect(expr, func(n parser.Node, _ []parser.Node) error {
		switch n := n.(type) {
		case *parser.VectorSelector:
			for _, m := range n.LabelMatchers {
				if m.Name == "__name__" {
					s.metrics = append(s.metrics, m.Value)
				} else {
					s.labels = append(s.labels, m.Name)
				}
			}
		case *parser.AggregateExpr:
			s.labels = append(s.labels, n.Grouping...)
		}
		return nil
	})
	for _, m := range legendLabel.FindAllStringSubmatch(q.legend, -1) {
		s.legend = append(s.legend, m[1])
	}
	slices.Sort(s.metrics)
	s.metrics = slices.Compact(s.metrics)
	slices.Sort(s.labels)
	s.labels = slices.Compact(s.labels)
	return s, nil
}

// TestQueriesParse checks the dashboard without a Prometheus: each query is
// PromQL that selects a metric, and its legend prints only labels the
// query keeps.
func TestQueriesParse(t *testing.T) {
	qs := loadQueries(t)
	if len(qs) == 0 {
		t.Fatal("the dashboard has no queries")
	}
	for _, q := range qs {
		s, err := parse(q)
		if err != nil {
			t.Errorf("%s: %q: %v", q.where, q.expr, err)
			continue
		}
		if len(s.metrics) == 0 {
			t.Errorf("%s: %q selects no metric by name", q.where, q.expr)
		}
		for _, l := range s.legend {
			if !slices.Contains(s.labels, l) {
				t.Errorf("%s: legend prints {{%s}}, which the query does not group by", q.where, l)
			}
		}
	}
}
