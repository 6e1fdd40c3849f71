package report

import (
	"bytes"
	"encoding/json"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/capprof/capprof/internal/caps"
	"github.com/capprof/capprof/internal/check"
	"github.com/capprof/capprof/internal/proc"
	"github.com/capprof/capprof/internal/profile"
)

var start = time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)

// obs is an audited check in the initial user namespace at start+sec.
func obs(res map[string]string, sec int, capName, exe, syscall string, denied bool, count uint64) profile.Observation {
	id, err := caps.Parse(capName)
	if err != nil {
		panic(err)
	}
	return profile.Observation{Resource: res, Check: check.Check{
		Time: start.Add(time.Duration(sec) * time.Second), Cap: id, Denied: denied, Audit: check.Audited,
		Count: count, UserNS: check.UserNamespace{IsHost: true}, SyscallName: syscall,
		Process: proc.Info{ExecutablePath: exe},
	}}
}

func pod(ns, deployment, podName, container string) map[string]string {
	r := map[string]string{check.AttrNamespace: ns, check.AttrPodName: podName, check.AttrContainerName: container, check.AttrHostName: "node-a"}
	if deployment != "" {
		r[check.AttrDeploymentName] = deployment
	}
	return r
}

const (
	deathstar = "k8s default/Deployment/deathstar/deathstar"
	xwing     = "k8s default/Pod/xwing/spaceship"
)

// demo is the Star Wars demo's checks in small: the deathstar binds port
// 80 as root, xwing's dmesg is refused CAP_SYSLOG, the runtime's setup
// checks are ignored, and a workload of another namespace.
func demo() *Report {
	r := New(nil)
	ds, xw := pod("default", "deathstar", "deathstar-1", "deathstar"), pod("default", "", "xwing", "spaceship")
	r.Add(obs(ds, 0, "NET_BIND_SERVICE", "/bin/httpd", "bind", false, 1))
	r.Add(obs(ds, 90, "NET_BIND_SERVICE", "/bin/httpd", "bind", false, 2))
	setup := obs(xw, 10, "SETPCAP", "/usr/bin/runc", "capset", false, 56)
	setup.Check.RuntimeSetup = true
	r.Add(setup)
	r.Add(obs(xw, 30, "SYSLOG", "/bin/dmesg", "syslog", true, 4))
	r.Add(obs(pod("kube-system", "dns", "dns-1", "dns"), 119, "NET_ADMIN", "/dns", "", false, 1))
	return r
}

func cellsOf(t *testing.T, m model, id string) map[string]string {
	t.Helper()
	for _, w := range m.Workloads {
		if w.ID != id {
			continue
		}
		out := map[string]string{}
		for k := 0; k < len(w.Cells); k += 5 {
			out[m.Caps[w.Cells[k]]] = m.Classes[w.Cells[k+1]]
		}
		return out
	}
	t.Fatalf("no workload %s", id)
	return nil
}

func TestModel(t *testing.T) {
	m, err := demo().newModel(Meta{Inputs: []string{"checks.jsonl"}, Generated: start})
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Caps) != caps.Last+1 || m.Caps[caps.Last] != "CHECKPOINT_RESTORE" {
		t.Errorf("columns %d, last %q: want every capability 0..%d", len(m.Caps), m.Caps[len(m.Caps)-1], caps.Last)
	}
	for _, tc := range []struct {
		name, id string
		want     map[string]string
	}{
		{name: "needed", id: deathstar, want: map[string]string{"NET_BIND_SERVICE": "needed"}},
		{name: "denied-only and ignored", id: xwing, want: map[string]string{"SETPCAP": "ignored", "SYSLOG": "denied-only"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := cellsOf(t, m, tc.id); !equalMaps(got, tc.want) {
				t.Errorf("cells %v, want %v", got, tc.want)
			}
		})
	}
	for _, w := range m.Workloads {
		switch w.ID {
		case deathstar:
			if !slices.Equal(w.Add, []string{"NET_BIND_SERVICE"}) || w.PSS != profile.PSSRestricted || w.Checks != 3 {
				t.Errorf("deathstar: add %v, pss %s, checks %d", w.Add, w.PSS, w.Checks)
			}
			if !strings.Contains(w.Advice, "add: [NET_BIND_SERVICE]") {
				t.Errorf("deathstar advice is not the yaml format's:\n%s", w.Advice)
			}
		case xwing:
			if len(w.Denied) != 1 {
				t.Fatalf("xwing denied attempts %+v, want 1", w.Denied)
			}
			a := w.Denied[0]
			got := []string{m.Caps[a.Cap], m.Classes[a.Class], m.Strings[a.Executables[0]], m.Strings[a.Syscalls[0]]}
			if want := []string{"SYSLOG", "denied-only", "/bin/dmesg", "syslog"}; !slices.Equal(got, want) || a.Denied != 4 || len(a.Executables) != 1 || len(a.Syscalls) != 1 {
				t.Errorf("xwing's denied attempt %v, %d checks; want %v, 4 checks", got, a.Denied, want)
			}
		}
	}
	c := m.Caveats
	if c.WindowSeconds != 119 || c.Checks != 64 || c.Records != 5 || c.First != "2026-03-01T10:00:00Z" {
		t.Errorf("caveats %+v: want a 119 s window from 10:00:00, 64 checks in 5 records", c)
	}
}

func equalMaps(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

func TestTimeline(t *testing.T) {
	tests := []struct {
		name          string
		seconds       []int
		buckets       int
		bucketSeconds int64
	}{
		{name: "one second", seconds: []int{5}, buckets: 1, bucketSeconds: 1},
		{name: "short window: a bucket a second", seconds: []int{0, 9}, buckets: 10, bucketSeconds: 1},
		{name: "long window: at most maxBuckets", seconds: []int{0, 3599}, buckets: maxBuckets, bucketSeconds: 60},
		{name: "uneven window: buckets rounded up, no empty tail", seconds: []int{0, 60}, buckets: 31, bucketSeconds: 2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tl := newTimeline()
			for _, s := range tc.seconds {
				tl.add(7, start.Add(time.Duration(s)*time.Second), false, 1)
				tl.add(7, start.Add(time.Duration(s)*time.Second), true, 2)
			}
			d := tl.data(caps.KubernetesName)
			if d.Buckets != tc.buckets || d.BucketSeconds != tc.bucketSeconds || len(d.Rows) != 1 {
				t.Fatalf("%d buckets of %d s, %d rows; want %d of %d s, 1 row", d.Buckets, d.BucketSeconds, len(d.Rows), tc.buckets, tc.bucketSeconds)
			}
			row := d.Rows[0]
			if row.Name != "SETUID" || row.Granted[0] != 1 || row.Denied[0] != 2 || row.Granted[d.Buckets-1] == 0 {
				t.Errorf("row %+v: want SETUID, 1 granted and 2 denied in the first bucket, the last one not empty", row)
			}
			if int64(d.Buckets)*d.BucketSeconds < int64(tc.seconds[len(tc.seconds)-1]-tc.seconds[0]+1) {
				t.Errorf("%d buckets of %d s do not cover the window", d.Buckets, d.BucketSeconds)
			}
		})
	}
	tl := newTimeline()
	tl.add(7, time.Time{}, false, 3)
	if d := tl.data(caps.KubernetesName); d.Untimed != 3 || d.Buckets != 0 || len(d.Rows) != 0 {
		t.Errorf("checks without a time: %+v, want 3 untimed and no rows", d)
	}
}

func TestKeep(t *testing.T) {
	r := New(func(k profile.Key) bool { return k.Namespace == "default" })
	r.Add(obs(pod("default", "deathstar", "d-1", "deathstar"), 0, "NET_BIND_SERVICE", "/bin/httpd", "bind", false, 1))
	r.Add(obs(pod("kube-system", "dns", "dns-1", "dns"), 100, "NET_ADMIN", "/dns", "", false, 1))
	ps := r.Profiles()
	if len(ps) != 1 || ps[0].ID != deathstar {
		t.Fatalf("profiles %v, want only %s", ps, deathstar)
	}
	if d := r.timeline.data(caps.KubernetesName); len(d.Rows) != 1 || d.Rows[0].Name != "NET_BIND_SERVICE" || d.Buckets != 1 {
		t.Errorf("timeline %+v: want only the kept workload's check", d)
	}
}

func TestAddProfilesKeepsVerification(t *testing.T) {
	b := profile.NewBuilder(profile.WithCommand("/srv/server --port 80"))
	o := obs(nil, 0, "NET_BIND_SERVICE", "/srv/server", "bind", false, 1)
	b.Add(o)
	run := b.Profiles()
	run[0].Verification = &profile.Verification{User: "1000:1000", Recorded: "exit status 0", Advised: "exit status 0", Verified: true,
		Differences: []string{}, Without: []profile.WithoutRun{{Name: "NET_BIND_SERVICE", Exit: "exit status 1", Differences: []string{}, Necessary: true}}}

	r := New(nil)
	r.AddProfiles(run)
	m, err := r.newModel(Meta{Generated: start})
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Workloads) != 1 {
		t.Fatalf("%d workloads, want 1", len(m.Workloads))
	}
	w := m.Workloads[0]
	if w.Verification == nil || !w.Verification.Verified || w.Checks != 1 {
		t.Errorf("workload %+v: want the verification kept and the check counted", w)
	}
	if !strings.Contains(w.Advice, "# verified: as 1000:1000 with exactly [NET_BIND_SERVICE]") {
		t.Errorf("advice without the verification:\n%s", w.Advice)
	}
}

// TestWriteEscapes: names come from the cluster; none can end the data's
// script element or add markup.
func TestWriteEscapes(t *testing.T) {
	r := New(nil)
	evil := "</script><img src=x onerror=alert(1)>"
	r.Add(obs(pod("default", evil, "p", "c"), 0, "CHOWN", evil, "chown", true, 1))
	var page bytes.Buffer
	if err := r.Write(&page, Meta{Inputs: []string{evil}, Generated: start}); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(page.String(), "<img") {
		t.Fatal("a name reached the page as markup")
	}
	found := regexp.MustCompile(`(?s)<script type="application/json" id="data">(.*?)</script>`).FindStringSubmatch(page.String())
	if found == nil {
		t.Fatal("no data element")
	}
	var m model
	if err := json.Unmarshal([]byte(found[1]), &m); err != nil {
		t.Fatalf("the data element is not the model: %v", err)
	}
	if len(m.Workloads) != 1 || !strings.Contains(m.Workloads[0].ID, evil) || m.Inputs[0] != evil {
		t.Errorf("the names did not survive escaping: %+v", m.Workloads)
	}
}

// TestWriteSelfContained: nothing on the page is fetched at view time.
func TestWriteSelfContained(t *testing.T) {
	var page bytes.Buffer
	if err := demo().Write(&page, Meta{Generated: start}); err != nil {
		t.Fatal(err)
	}
	for _, re := range []string{`<script[^>]+src=`, `<link[^>]+href=`, `@import`, `url\(`, `https?://[^"\s]*\.(js|css)`} {
		if m := regexp.MustCompile(re).FindString(page.String()); m != "" {
			t.Errorf("the page loads something: %q", m)
		}
	}
}
