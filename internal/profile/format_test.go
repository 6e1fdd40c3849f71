package profile

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/capprof/capprof/internal/check"
	"gopkg.in/yaml.v3"
)

func TestWriteGolden(t *testing.T) {
	sets := []struct {
		name string
		obs  []Observation
		opts []Option
		// verify is set as every profile's Verification, as capprof run
		// --verify does.
		verify *Verification
		// stopped is set as every profile's Stopped (capprof run
		// --timeout).
		stopped string
		files   []Format
	}{
		{name: "profiles", obs: fixtureObservations(), files: formats[:]},
		{name: "run", obs: runObservations(), opts: []Option{WithCommand("/usr/local/bin/server --port 80")},
			files: []Format{FormatTable, FormatDocker, FormatSystemd}},
		{name: "verified", obs: runObservations(), opts: []Option{WithCommand("/usr/local/bin/server --port 80")},
			verify: &Verification{User: "1000:1000", Recorded: "exit status 0", Advised: "exit status 0", Differences: []string{}, Verified: true,
				Without: []WithoutRun{{Name: "NET_BIND_SERVICE", Exit: "exit status 1", Differences: []string{}, Necessary: true}}},
			files: []Format{FormatTable, FormatYAML, FormatDocker, FormatSystemd, FormatJSON}},
		// A daemon that a timeout ends either way: its checks and its
		// workers' exits tell the runs apart.
		{name: "verified-by-checks", obs: runObservations(), opts: []Option{WithCommand("/usr/local/bin/server --port 80")},
			stopped: "killed at the 3s timeout: 3 processes left (server)",
			verify: &Verification{User: "0:0", Recorded: "exit status 124", Advised: "exit status 124", Differences: []string{}, Verified: true,
				Without: []WithoutRun{{Name: "NET_BIND_SERVICE", Exit: "exit status 124", Necessary: true, Differences: []string{
					"/usr/local/bin/server --port 80: CAP_NET_BIND_SERVICE denied, granted when recorded",
					"/usr/local/bin/server --port 80: exit status 0, exit status 1 (recorded: exit status 0)",
				}}}},
			files: []Format{FormatTable, FormatYAML, FormatJSON}},
		{name: "not-verified", obs: runObservations(), opts: []Option{WithCommand("/usr/local/bin/server --port 80")},
			verify: &Verification{User: "0:0", Recorded: "exit status 0", Advised: "signal: killed", Verified: false,
				Differences: []string{"/usr/local/bin/server --port 80: signal: killed (recorded: exit status 0)"},
				Without:     []WithoutRun{{Name: "NET_BIND_SERVICE", Exit: "signal: killed", Necessary: false}}},
			files: []Format{FormatTable}},
	}
	for _, set := range sets {
		profiles := build(set.obs, set.opts...)
		for i := range profiles {
			profiles[i].Verification = set.verify
			profiles[i].Stopped = set.stopped
		}
		for _, f := range set.files {
			t.Run(set.name+"/"+string(f), func(t *testing.T) {
				var b bytes.Buffer
				if err := Write(&b, f, profiles); err != nil {
					t.Fatal(err)
				}
				golden(t, set.name+"."+string(f), b.Bytes())
			})
		}
	}
}

// jsonOf is the JSON output of profiles, for comparisons and messages.
func jsonOf(t *testing.T, ps []Profile) string {
	t.Helper()
	var b bytes.Buffer
	if err := Write(&b, FormatJSON, ps); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// roundTrip writes profiles as JSON and reads them back.
func roundTrip(t *testing.T, ps []Profile) []Profile {
	t.Helper()
	var b bytes.Buffer
	if err := Write(&b, FormatJSON, ps); err != nil {
		t.Fatal(err)
	}
	got, err := ReadJSON(&b)
	if err != nil {
		t.Fatal(err)
	}
	return got
}

func TestJSONRoundTrip(t *testing.T) {
	want := build(fixtureObservations())
	got := roundTrip(t, want)
	if !reflect.DeepEqual(got, want) {
		t.Errorf("JSON round trip differs\ngot:  %s\nwant: %s", jsonOf(t, got), jsonOf(t, want))
	}
}

// TestJSONSchema pins the top-level keys and the snake_case spelling of
// every key, so that a renamed field cannot slip through a regenerated
// golden file.
func TestJSONSchema(t *testing.T) {
	var b bytes.Buffer
	if err := Write(&b, FormatJSON, build(fixtureObservations())); err != nil {
		t.Fatal(err)
	}
	var doc []map[string]any
	if err := json.Unmarshal(b.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	wantTop := []string{"advice", "capabilities", "checks", "effective", "first_seen", "hosts", "hosts_truncated",
		"id", "images", "images_truncated", "key", "kind", "last_seen", "observations"}
	for _, p := range doc {
		var keys []string
		for k := range p {
			if k != "declared" {
				keys = append(keys, k)
			}
		}
		slices.Sort(keys)
		if !slices.Equal(keys, wantTop) {
			t.Errorf("%v: keys %v, want %v (+ declared)", p["id"], keys, wantTop)
		}
	}
	snake := regexp.MustCompile(`^[a-z]+(_[a-z]+)*$`)
	var walk func(v any)
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			for k, x := range v {
				if !snake.MatchString(k) {
					t.Errorf("key %q is not snake_case", k)
				}
				walk(x)
			}
		case []any:
			for _, x := range v {
				walk(x)
			}
		}
	}
	walk(doc)
}

func TestReadJSONError(t *testing.T) {
	if _, err := ReadJSON(strings.NewReader("{")); err == nil || !strings.HasPrefix(err.Error(), "read profiles: ") {
		t.Errorf("ReadJSON error = %v", err)
	}
}

// TestYAMLParses decodes the yaml and patch outputs and checks that they say
// what the advice says, in the places Kubernetes reads.
func TestYAMLParses(t *testing.T) {
	profiles := build(fixtureObservations())
	type caps struct {
		Drop []string `yaml:"drop"`
		Add  []string `yaml:"add"`
	}
	type secCtx struct {
		Privileged   *bool `yaml:"privileged"`
		Capabilities caps  `yaml:"capabilities"`
	}
	type container struct {
		Name            string `yaml:"name"`
		SecurityContext secCtx `yaml:"securityContext"`
	}
	type podSpec struct {
		Containers []container `yaml:"containers"`
	}
	type template struct {
		Spec podSpec `yaml:"spec"`
	}
	type patch struct {
		Spec struct {
			Template    *template `yaml:"template"`
			JobTemplate *struct {
				Spec struct {
					Template template `yaml:"template"`
				} `yaml:"spec"`
			} `yaml:"jobTemplate"`
		} `yaml:"spec"`
	}

	docs := writeDocs(t, FormatYAML, profiles)
	for i, p := range profiles {
		var doc struct {
			SecurityContext *secCtx `yaml:"securityContext"`
		}
		if err := yaml.Unmarshal([]byte(docs[i]), &doc); err != nil {
			t.Fatalf("%s: decode yaml: %v", p.ID, err)
		}
		if p.Kind == KeyHost {
			if doc.SecurityContext != nil {
				t.Errorf("%s: a host process got a securityContext", p.ID)
			}
			continue
		}
		if doc.SecurityContext == nil {
			t.Fatalf("%s: no securityContext", p.ID)
		}
		sc := doc.SecurityContext
		if !slices.Equal(sc.Capabilities.Drop, p.Advice.Drop) || !slices.Equal(sc.Capabilities.Add, p.Advice.Add) {
			t.Errorf("%s: yaml says %+v, advice %+v", p.ID, sc.Capabilities, p.Advice)
		}
		wantPriv := p.Advice.Diff != nil && p.Advice.Diff.PrivilegedDeclared
		if (sc.Privileged != nil) != wantPriv || (sc.Privileged != nil && *sc.Privileged) {
			t.Errorf("%s: privileged = %v, want false set only when privileged was declared", p.ID, sc.Privileged)
		}
	}
	docs = writeDocs(t, FormatPatch, profiles)
	patched := 0
	for i, p := range profiles {
		var doc patch
		if err := yaml.Unmarshal([]byte(docs[i]), &doc); err != nil {
			t.Fatalf("%s: decode patch: %v", p.ID, err)
		}
		var tmpl *template
		switch {
		case doc.Spec.Template != nil:
			tmpl = doc.Spec.Template
		case doc.Spec.JobTemplate != nil:
			tmpl = &doc.Spec.JobTemplate.Spec.Template
		}
		if noPatch(&p) != "" {
			if tmpl != nil {
				t.Errorf("%s: patched although %s", p.ID, noPatch(&p))
			}
			continue
		}
		patched++
		if tmpl == nil || len(tmpl.Spec.Containers) != 1 {
			t.Fatalf("%s: patch has no container: %+v", p.ID, doc)
		}
		c := tmpl.Spec.Containers[0]
		if c.Name != p.Key.Container || !slices.Equal(c.SecurityContext.Capabilities.Add, p.Advice.Add) ||
			!slices.Equal(c.SecurityContext.Capabilities.Drop, []string{"ALL"}) {
			t.Errorf("%s: patch container %+v, advice %+v", p.ID, c, p.Advice)
		}
		if p.Key.WorkloadKind == KindCronJob && doc.Spec.JobTemplate == nil {
			t.Errorf("%s: a CronJob patch must go through spec.jobTemplate", p.ID)
		}
	}
	if patched != 3 {
		t.Errorf("patched %d workloads, want 3 (Deployment, DaemonSet, CronJob)", patched)
	}
}

// writeDocs writes profiles in a YAML format and splits the output into its
// documents, one per profile. (A decoder would not do: a comment-only
// document before the first "---" is no document at all in YAML.)
func writeDocs(t *testing.T, f Format, profiles []Profile) []string {
	t.Helper()
	var out bytes.Buffer
	if err := Write(&out, f, profiles); err != nil {
		t.Fatal(err)
	}
	docs := regexp.MustCompile(`(?m)^---\n`).Split(out.String(), -1)
	if len(docs) != len(profiles) {
		t.Fatalf("%s: %d documents for %d profiles", f, len(docs), len(profiles))
	}
	// The stream as a whole parses too.
	dec := yaml.NewDecoder(bytes.NewReader(out.Bytes()))
	for {
		var v any
		if err := dec.Decode(&v); err == io.EOF {
			break
		} else if err != nil {
			t.Fatalf("%s: decode the stream: %v", f, err)
		}
	}
	return docs
}

func TestYAMLScalar(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{name: "capability", in: "NET_BIND_SERVICE", want: "NET_BIND_SERVICE"},
		{name: "container name", in: "web-server.v2", want: "web-server.v2"},
		{name: "number", in: "41", want: `"41"`},
		{name: "boolean word", in: "on", want: `"on"`},
		{name: "null word", in: "Null", want: `"Null"`},
		{name: "empty", in: "", want: `""`},
		{name: "indicator", in: "a: b", want: `"a: b"`},
		{name: "newline", in: "a\nb", want: `"a\nb"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := yamlScalar(tt.in)
			if got != tt.want {
				t.Errorf("yamlScalar(%q) = %s, want %s", tt.in, got, tt.want)
			}
			var back string
			if err := yaml.Unmarshal([]byte("v: "+got), &struct {
				V *string `yaml:"v"`
			}{&back}); err != nil || back != tt.in {
				t.Errorf("yaml reads %s back as %q, %v", got, back, err)
			}
		})
	}
}

// TestHostileNames: names from attributes cannot break out of comments or
// values.
func TestHostileNames(t *testing.T) {
	res := map[string]string{AttrNamespace: "ns", AttrDeploymentName: "web\nspec: {}", AttrContainerName: "c: d\n- x"}
	ps := build([]Observation{{Resource: res, Check: chk(at(0), capChown, "/x", "x", 1, 0)}})
	for _, f := range []Format{FormatYAML, FormatPatch} {
		var b bytes.Buffer
		if err := Write(&b, f, ps); err != nil {
			t.Fatal(err)
		}
		var doc map[string]any
		if err := yaml.Unmarshal(b.Bytes(), &doc); err != nil {
			t.Fatalf("%s: %v\n%s", f, err, b.String())
		}
		if f == FormatPatch && !strings.Contains(b.String(), `- name: "c: d\n- x"`) {
			t.Errorf("%s: container name not quoted:\n%s", f, b.String())
		}
		for _, l := range strings.Split(strings.TrimSpace(b.String()), "\n") {
			if strings.HasPrefix(l, "spec: {}") {
				t.Errorf("%s: a name broke out of its comment:\n%s", f, b.String())
			}
		}
	}
}

func TestParseFormat(t *testing.T) {
	for _, f := range formats {
		if got, err := ParseFormat(string(f)); err != nil || got != f {
			t.Errorf("ParseFormat(%q) = %q, %v", f, got, err)
		}
	}
	_, err := ParseFormat("xml")
	if err == nil || err.Error() != `unknown profile format "xml" (valid: table, yaml, patch, docker, systemd, json, vap, kyverno)` {
		t.Errorf("ParseFormat(xml) error = %v", err)
	}
	if err := Write(io.Discard, "xml", nil); err == nil || !strings.HasPrefix(err.Error(), "write profiles: unknown profile format") {
		t.Errorf("Write(xml) error = %v", err)
	}
}

func TestWriteEmpty(t *testing.T) {
	want := map[Format]string{FormatTable: "no capability checks\n", FormatJSON: "[]\n"}
	for _, f := range formats {
		var b bytes.Buffer
		if err := Write(&b, f, nil); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		if b.String() != want[f] {
			t.Errorf("%s of nothing = %q, want %q", f, b.String(), want[f])
		}
	}
}

type failWriter struct{}

var errDiskFull = errors.New("disk full")

func (failWriter) Write([]byte) (int, error) { return 0, errDiskFull }

func TestWriteError(t *testing.T) {
	ps := build(fixtureObservations())
	for _, f := range formats {
		err := Write(failWriter{}, f, ps)
		if !errors.Is(err, errDiskFull) || !strings.HasPrefix(err.Error(), "write "+string(f)+" profiles: ") {
			t.Errorf("%s: error = %v, want a wrapped write error", f, err)
		}
	}
}

func TestNoPatch(t *testing.T) {
	tests := []struct {
		name string
		key  Key
		want string // substring; "" means a patch
	}{
		{name: "deployment", key: Key{Namespace: "n", WorkloadKind: KindDeployment, Workload: "w", Container: "c"}},
		{name: "statefulset", key: Key{Namespace: "n", WorkloadKind: KindStatefulSet, Workload: "w", Container: "c"}},
		{name: "daemonset", key: Key{Namespace: "n", WorkloadKind: KindDaemonSet, Workload: "w", Container: "c"}},
		{name: "replicaset", key: Key{Namespace: "n", WorkloadKind: KindReplicaSet, Workload: "w", Container: "c"}},
		{name: "cronjob", key: Key{Namespace: "n", WorkloadKind: KindCronJob, Workload: "w", Container: "c"}},
		{name: "job", key: Key{Namespace: "n", WorkloadKind: KindJob, Workload: "w", Container: "c"}, want: "a Job's pod template cannot change"},
		{name: "bare pod", key: Key{Namespace: "n", WorkloadKind: KindPod, Workload: "w", Container: "c"}, want: "bare Pod"},
		{name: "container unknown", key: Key{Namespace: "n", WorkloadKind: KindDeployment, Workload: "w"}, want: "container name is unknown"},
		{name: "unknown kind", key: Key{Namespace: "n", WorkloadKind: "Rollout", Workload: "w", Container: "c"}, want: "unknown workload kind Rollout"},
		{name: "image", key: Key{Image: "i"}, want: "not a Kubernetes workload"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := Profile{Key: tt.key, Kind: tt.key.Kind()}
			got := noPatch(&p)
			if (tt.want == "") != (got == "") || !strings.Contains(got, tt.want) {
				t.Errorf("noPatch = %q, want %q", got, tt.want)
			}
		})
	}
}

// TestTableDetails covers what the fixture does not: truncated lists, a
// window without times, a held set of every capability with nothing needed.
func TestTableDetails(t *testing.T) {
	var obs []Observation
	for i := range maxValues + 1 {
		c := chk(time.Time{}, capSysAdmin, fmt.Sprintf("/bin/x%02d", i), "mmap", 1, fullSet)
		c.Denied, c.Audit = true, check.NotAudited
		c.HostName = fmt.Sprintf("node-%02d", i)
		obs = append(obs, Observation{Check: c})
	}
	var b bytes.Buffer
	if err := Write(&b, FormatTable, build(obs, WithCommand("x"))); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"  window      - .. - (0s)\n",
		"node-14, node-15, ...\n",
		"  holds       ALL\n",
		"  unused      ALL\n",
		"  ignored     not audited: SYS_ADMIN (17)\n",
	} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, b.String())
		}
	}
}
