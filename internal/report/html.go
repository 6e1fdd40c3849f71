package report

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"html/template"
	"io"
)

// The page's parts, inlined into every page: it must read offline.
var (
	//go:embed assets/page.html
	pageHTML string
	//go:embed assets/report.css
	reportCSS string
	//go:embed assets/report.js
	reportJS string
)

var page = template.Must(template.New("page").Parse(pageHTML))

// Write writes the page.
func (r *Report) Write(w io.Writer, meta Meta) error {
	m, err := r.newModel(meta)
	if err != nil {
		return err
	}
	// json.Marshal escapes <, > and &, so the data cannot close its script
	// element.
	data, err := json.Marshal(m)
	if err != nil {
		return fmt.Errorf("encode report data: %w", err)
	}
	err = page.Execute(w, struct {
		CSS  template.CSS
		JS   template.JS
		Data template.JS
	}{template.CSS(reportCSS), template.JS(reportJS), template.JS(data)})
	if err != nil {
		return fmt.Errorf("write report: %w", err)
	}
	return nil
}
