// Package browsertest loads pages in a real browser for tests: Debian's
// Chromium, headless, one process per page with a profile directory of its
// own, so tests running in parallel share nothing. It also reads the DOM of
// capprof's HTML report (internal/report) as its script leaves it: the heat
// map's rows and cells, whose data attributes are the contract between the
// page and its tests.
package browsertest
