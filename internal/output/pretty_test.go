package output

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/capprof/capprof/internal/check"
)

func TestPrettyGolden(t *testing.T) {
	var buf bytes.Buffer
	w, err := New(FormatPretty, &buf)
	if err != nil {
		t.Fatal(err)
	}
	// Two batches: the columns must line up across Write calls.
	checks := fixture()
	if err := w.Write(checks[:1]); err != nil {
		t.Fatal(err)
	}
	if err := w.Write(checks[1:]); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	golden(t, "pretty.golden", buf.Bytes())
}

func TestPrettyLine(t *testing.T) {
	at := time.Date(2025, 1, 2, 3, 4, 5, 6000000, time.UTC)
	tests := []struct {
		name string
		c    check.Check
		want string
	}{
		{
			name: "unknown process shows its pid",
			c:    check.Check{Time: at, Cap: 34, PID: 7, Count: 1},
			want: "03:04:05.006  host          pid 7                  7  CAP_SYSLOG              granted\n",
		},
		{
			name: "long executable name is cut to keep the columns",
			c: func() check.Check {
				c := check.Check{Time: at, Cap: 40, PID: 4194304, Count: 1234567, Denied: true, Audit: check.NotAudited}
				c.Process.ExecutablePath = "/opt/a-very-long-executable-name"
				return c
			}(),
			want: "03:04:05.006  host          a-very-long-exec 4194304  CAP_CHECKPOINT_RESTORE  denied   x1234567 (noaudit)\n",
		},
		{
			name: "short container id is kept whole, audited has no marker",
			c: func() check.Check {
				c := check.Check{Time: at, Cap: 0, PID: 1, Count: 2, Audit: check.Audited}
				c.Container.ID = "abc"
				return c
			}(),
			want: "03:04:05.006  abc           pid 1                  1  CAP_CHOWN               granted  x2\n",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := string(appendPretty(nil, &tt.c))
			if got != tt.want {
				t.Errorf("got  %q\nwant %q", got, tt.want)
			}
			if strings.HasSuffix(strings.TrimSuffix(got, "\n"), " ") {
				t.Errorf("line has trailing blanks: %q", got)
			}
		})
	}
}
