package testenv

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
)

// GetTable reads a list as kubectl get does: the API's Table response,
// whose columns are a resource's printer columns. path is the list's
// (/apis/capprof.dev/v1alpha1/capabilityprofiles for every namespace).
func GetTable(t testing.TB, cfg *rest.Config, path string) metav1.Table {
	t.Helper()
	hc, err := rest.HTTPClientFor(cfg)
	if err != nil {
		t.Fatal(err)
	}
	req, err := http.NewRequest(http.MethodGet, cfg.Host+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.BearerToken != "" {
		req.Header.Set("Authorization", "Bearer "+cfg.BearerToken)
	}
	req.Header.Set("Accept", "application/json;as=Table;v=v1;g=meta.k8s.io")
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatalf("get %s as a table: %v", path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("get %s as a table: %s\n%s", path, resp.Status, body)
	}
	var table metav1.Table
	if err := json.Unmarshal(body, &table); err != nil {
		t.Fatalf("get %s as a table: %v", path, err)
	}
	return table
}

// TableRow is one row of a Table by column name, with the object's
// namespace.
type TableRow struct {
	Namespace string
	Cells     map[string]any
}

// Rows returns the table's rows by column name.
func Rows(t testing.TB, table metav1.Table) []TableRow {
	t.Helper()
	var rows []TableRow
	for _, r := range table.Rows {
		var meta metav1.PartialObjectMetadata
		if err := json.Unmarshal(r.Object.Raw, &meta); err != nil {
			t.Fatalf("table row object: %v", err)
		}
		row := TableRow{Namespace: meta.Namespace, Cells: map[string]any{}}
		for i, c := range table.ColumnDefinitions {
			row.Cells[c.Name] = r.Cells[i]
		}
		rows = append(rows, row)
	}
	return rows
}

// FormatTable prints a table as `kubectl get -A` does: NAMESPACE first, the
// columns of priority 0 upper-cased, dates as ages relative to now, cells
// left-aligned in columns three spaces apart.
func FormatTable(t testing.TB, table metav1.Table, now time.Time) string {
	t.Helper()
	var cols []int
	lines := [][]string{{"NAMESPACE"}}
	for i, c := range table.ColumnDefinitions {
		if c.Priority == 0 {
			cols = append(cols, i)
			lines[0] = append(lines[0], strings.ToUpper(c.Name))
		}
	}
	for _, r := range Rows(t, table) {
		line := []string{r.Namespace}
		for _, i := range cols {
			c := table.ColumnDefinitions[i]
			line = append(line, cellText(r.Cells[c.Name], c.Type, now))
		}
		lines = append(lines, line)
	}
	widths := make([]int, len(lines[0]))
	for _, l := range lines {
		for i, s := range l {
			widths[i] = max(widths[i], len(s))
		}
	}
	var b strings.Builder
	for _, l := range lines {
		for i, s := range l {
			if i == len(l)-1 {
				b.WriteString(s)
			} else {
				fmt.Fprintf(&b, "%-*s   ", widths[i], s)
			}
		}
		b.WriteString("\n")
	}
	return b.String()
}

// cellText is a cell as kubectl prints it: <none> for nothing, a date as an
// age.
func cellText(v any, typ string, now time.Time) string {
	switch v := v.(type) {
	case nil:
		return "<none>"
	case string:
		if v == "" {
			return "<none>"
		}
		if typ == "date" {
			if at, err := time.Parse(time.RFC3339, v); err == nil {
				return age(now.Sub(at))
			}
		}
		return v
	case float64:
		return fmt.Sprint(int64(v))
	}
	return fmt.Sprint(v)
}

// age is kubectl's short duration: 42s, 5m, 3h, 2d.
func age(d time.Duration) string {
	switch {
	case d < 2*time.Minute:
		return fmt.Sprintf("%ds", int(max(d, 0).Seconds()))
	case d < 2*time.Hour:
		return fmt.Sprintf("%dm", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh", int(d.Hours()))
	}
	return fmt.Sprintf("%dd", int(d.Hours()/24))
}
