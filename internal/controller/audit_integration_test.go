//go:build integration

package controller_test

import (
	"testing"

	"github.com/capprof/capprof/internal/caps"
	"github.com/capprof/capprof/internal/check"
	"github.com/capprof/capprof/internal/testenv"
	"github.com/capprof/capprof/internal/tracer"
)

// TestAuditedDropsNoauditChecksInTheKernel records one workload with audit
// all and audited attached at once, so both see the same checks: the
// audited recording must get every check the other does but the NOAUDIT
// ones, which the kernel counts per capability instead.
func TestAuditedDropsNoauditChecksInTheKernel(t *testing.T) {
	for _, tt := range []struct {
		name string
		mode tracer.Mode
	}{
		{name: "stream", mode: tracer.Stream},
		{name: "unique", mode: tracer.Unique},
	} {
		t.Run(tt.name, func(t *testing.T) {
			cg := testenv.NewCgroup(t)
			allCfg := configIn(cg)
			allCfg.Tracer.Mode = tt.mode
			auditedCfg := allCfg
			auditedCfg.Tracer.Audit = tracer.Audited
			all := start(t, allCfg)
			audited := start(t, auditedCfg)
			// Each dmesg run as nobody commits memory (mmap, brk, execve:
			// NOAUDIT CAP_SYS_ADMIN) and is denied CAP_SYSLOG (audited).
			runIn(t, cg, "setpriv", dmesgLoop(20)...)
			auditedChecks, auditedStats := audited.stop(t)
			allChecks, allStats := all.stop(t)
			if allStats.Lost != 0 || auditedStats.Lost != 0 {
				t.Fatalf("lost events: all %d, audited %d", allStats.Lost, auditedStats.Lost)
			}

			type group struct {
				cap    int
				denied bool
				audit  check.Audit
			}
			want := map[group]uint64{}
			var noaudit tracer.CapCounts
			for _, c := range allChecks {
				if c.Audit == check.NotAudited {
					noaudit[c.Cap] += c.Count
					continue
				}
				want[group{c.Cap, c.Denied, c.Audit}] += c.Count
			}
			got := map[group]uint64{}
			for _, c := range auditedChecks {
				got[group{c.Cap, c.Denied, c.Audit}] += c.Count
			}
			if noaudit[capSysAdmin] == 0 {
				t.Fatalf("audit all recorded no NOAUDIT CAP_SYS_ADMIN check among %d records", len(allChecks))
			}
			if want[group{capSyslog, true, check.Audited}] == 0 {
				t.Fatalf("audit all recorded no audited CAP_SYSLOG denial among %d records", len(allChecks))
			}
			for g, n := range got {
				if g.audit == check.NotAudited {
					t.Errorf("audited recorded %d NOAUDIT %s checks", n, caps.Name(g.cap))
				}
			}
			for g, n := range want {
				if got[g] != n {
					t.Errorf("%s denied=%v audit=%d: audited recorded %d, all %d", caps.Name(g.cap), g.denied, g.audit, got[g], n)
				}
			}
			if auditedStats.NoauditSkipped != noaudit {
				t.Errorf("NOAUDIT checks skipped per capability %s, want what audit all recorded: %s",
					&auditedStats.NoauditSkipped, &noaudit)
			}
			t.Logf("all: %d records for %d checks; audited: %d records for %d checks, skipped %s",
				allStats.Records, allStats.Checks, auditedStats.Records, auditedStats.Checks, &auditedStats.NoauditSkipped)
			if n := allStats.NoauditSkipped.Total(); n != 0 {
				t.Errorf("audit all skipped %d checks", n)
			}
		})
	}
}
