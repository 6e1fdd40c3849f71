package profile

import (
	"bufio"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// writeYAML writes, per profile, a securityContext fragment preceded by
// comments naming the key, the PSS level, what was left out and the change
// from the declared securityContext. Profiles are separate YAML documents, so
// the whole output parses too. Host processes get a comment instead; the
// command of `capprof run` gets a fragment (it may be meant for a container).
func writeYAML(w *bufio.Writer, profiles []Profile) error {
	for i := range profiles {
		p := &profiles[i]
		if i > 0 {
			w.WriteString("---\n")
		}
		if p.Kind == KeyHost {
			writeComments(w, []string{p.ID + ": " + notContainer})
			continue
		}
		writeComments(w, adviceNotes(p))
		writeSecurityContext(w, p, "")
	}
	return nil
}

// notContainer is what the container formats say of a host process.
const notContainer = "skipped: a host process, not a container (see --format systemd)"

// writeSecurityContext writes the securityContext mapping of the advice,
// each line prefixed by indent. add is always written, even empty: in a
// strategic-merge patch an absent list would keep the declared one.
func writeSecurityContext(w *bufio.Writer, p *Profile, indent string) {
	a := &p.Advice
	w.WriteString(indent + "securityContext:\n")
	if a.Diff != nil && a.Diff.PrivilegedDeclared {
		w.WriteString(indent + "  privileged: false\n")
	}
	w.WriteString(indent + "  capabilities:\n")
	w.WriteString(indent + "    drop: " + yamlFlowList(a.Drop) + "\n")
	w.WriteString(indent + "    add: " + yamlFlowList(a.Add) + "\n")
}

// patchPaths are the fields of each patchable workload kind that lead to its
// pod template's spec.
var patchPaths = map[string][]string{
	KindDeployment:  {"spec", "template", "spec"},
	KindStatefulSet: {"spec", "template", "spec"},
	KindDaemonSet:   {"spec", "template", "spec"},
	KindReplicaSet:  {"spec", "template", "spec"},
	KindCronJob:     {"spec", "jobTemplate", "spec", "template", "spec"},
}

// noPatch says why a profile gets no patch, or "" when it gets one.
func noPatch(p *Profile) string {
	k := &p.Key
	switch {
	case p.Kind != KeyKubernetes:
		return "no patch: not a Kubernetes workload (see --format yaml or docker)"
	case k.WorkloadKind == KindPod:
		return "no patch: a bare Pod's containers cannot change their securityContext; edit its manifest (see --format yaml)"
	case k.WorkloadKind == KindJob:
		return "no patch: a Job's pod template cannot change; edit its manifest (see --format yaml)"
	case k.Container == "":
		return "no patch: the container name is unknown"
	case patchPaths[k.WorkloadKind] == nil:
		return "no patch: unknown workload kind " + k.WorkloadKind
	}
	return ""
}

// writePatch writes one strategic-merge patch document per profile of a
// Kubernetes workload: containers are merged by name, and capabilities.add
// and .drop, which have no patch strategy, are replaced as a whole. Other
// profiles get a comment-only document saying why there is no patch.
func writePatch(w *bufio.Writer, profiles []Profile) error {
	for i := range profiles {
		p := &profiles[i]
		if i > 0 {
			w.WriteString("---\n")
		}
		if why := noPatch(p); why != "" {
			writeComments(w, []string{p.ID + ": " + why})
			continue
		}
		k := &p.Key
		cmd := "kubectl -n " + k.Namespace + " patch " + strings.ToLower(k.WorkloadKind) + " " + k.Workload +
			" --type strategic --patch-file FILE"
		writeComments(w, slices.Insert(adviceNotes(p), 1, cmd))
		indent := ""
		for _, field := range patchPaths[k.WorkloadKind] {
			w.WriteString(indent + field + ":\n")
			indent += "  "
		}
		w.WriteString(indent + "containers:\n")
		w.WriteString(indent + "- name: " + yamlScalar(k.Container) + "\n")
		writeSecurityContext(w, p, indent+"  ")
	}
	return nil
}

// yamlFlowList writes names as a flow sequence: [ALL], [].
func yamlFlowList(names []string) string {
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = yamlScalar(n)
	}
	return "[" + strings.Join(q, ", ") + "]"
}

// plainScalar matches strings that YAML reads back as the same string when
// written plain: a letter first, so never a number, and no indicator
// characters.
var plainScalar = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_.-]*$`)

// yamlSpecial are the plain words YAML 1.1 or 1.2 reads as something other
// than a string.
var yamlSpecial = map[string]bool{
	"true": true, "false": true, "yes": true, "no": true, "on": true, "off": true,
	"y": true, "n": true, "null": true, "nan": true, "inf": true,
}

// yamlScalar writes s plain when that reads back as the string s, else
// double-quoted (Go's escapes are a subset of YAML's double-quoted ones).
func yamlScalar(s string) string {
	if plainScalar.MatchString(s) && !yamlSpecial[strings.ToLower(s)] {
		return s
	}
	return strconv.Quote(s)
}
