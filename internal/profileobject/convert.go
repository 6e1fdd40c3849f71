package profileobject

import (
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/capprof/capprof/api/v1alpha1"
	"github.com/capprof/capprof/internal/caps"
	"github.com/capprof/capprof/internal/profile"
)

// SpecOf is the spec of a Kubernetes key's profile.
func SpecOf(k profile.Key) v1alpha1.CapabilityProfileSpec {
	return v1alpha1.CapabilityProfileSpec{
		Workload:  v1alpha1.WorkloadReference{Kind: k.WorkloadKind, Name: k.Workload},
		Container: k.Container,
	}
}

// KeyOf is the inverse of SpecOf.
func KeyOf(namespace string, s *v1alpha1.CapabilityProfileSpec) profile.Key {
	return profile.Key{Namespace: namespace, WorkloadKind: s.Workload.Kind, Workload: s.Workload.Name, Container: s.Container}
}

// SourceOf is one writer's evidence: its latest profile of the workload
// container, as its record carried it.
func SourceOf(p *profile.Profile, writer string, now time.Time) v1alpha1.Source {
	s := v1alpha1.Source{
		Name:            writer,
		Updated:         metav1.NewTime(now),
		Checks:          int64(p.Checks),
		Observations:    int64(p.Observations),
		FirstSeen:       timeOf(p.FirstSeen),
		LastSeen:        timeOf(p.LastSeen),
		Hosts:           p.Hosts,
		HostsTruncated:  p.HostsTruncated,
		Images:          p.Images,
		ImagesTruncated: p.ImagesTruncated,
		Effective:       kubernetesNames(p.Effective),
		Declared:        declaredOf(p.Declared),
		Capabilities:    make([]v1alpha1.CapabilityEvidence, 0, len(p.Capabilities)),
	}
	for i := range p.Capabilities {
		s.Capabilities = append(s.Capabilities, capabilityOf(&p.Capabilities[i]))
	}
	return s
}

// ProfileOf is the inverse of SourceOf, for profile.Builder.Restore.
// Capabilities whose names this version does not know are left out.
func ProfileOf(k profile.Key, s *v1alpha1.Source) profile.Profile {
	p := profile.Profile{
		Key:             k,
		FirstSeen:       timeFrom(s.FirstSeen),
		LastSeen:        timeFrom(s.LastSeen),
		Observations:    uint64(s.Observations),
		Checks:          uint64(s.Checks),
		Hosts:           s.Hosts,
		HostsTruncated:  s.HostsTruncated,
		Images:          s.Images,
		ImagesTruncated: s.ImagesTruncated,
		Effective:       s.Effective,
	}
	if d := s.Declared; d != nil {
		p.Declared = &profile.Declared{Add: d.Add, Drop: d.Drop, Privileged: d.Privileged}
	}
	for _, c := range s.Capabilities {
		id, err := caps.Parse(c.Name)
		if err != nil {
			continue
		}
		pc := profile.Capability{Name: caps.Name(id), ID: id, Verdict: c.Verdict}
		for _, e := range c.Evidence {
			pc.Evidence = append(pc.Evidence, profile.Evidence{
				Class:                e.Class,
				Granted:              uint64(e.Granted),
				Denied:               uint64(e.Denied),
				AuditUnknown:         uint64(e.AuditUnknown),
				FirstSeen:            timeFrom(e.FirstSeen),
				LastSeen:             timeFrom(e.LastSeen),
				Executables:          e.Executables,
				ExecutablesTruncated: e.ExecutablesTruncated,
				Syscalls:             e.Syscalls,
				SyscallsTruncated:    e.SyscallsTruncated,
			})
		}
		p.Capabilities = append(p.Capabilities, pc)
	}
	return p
}

func capabilityOf(c *profile.Capability) v1alpha1.CapabilityEvidence {
	out := v1alpha1.CapabilityEvidence{
		Name:      caps.KubernetesName(c.ID),
		Verdict:   c.Verdict,
		Granted:   int64(c.Granted),
		Denied:    int64(c.Denied),
		Ignored:   int64(c.Ignored),
		FirstSeen: timeOf(c.FirstSeen),
		LastSeen:  timeOf(c.LastSeen),
	}
	for _, e := range c.Evidence {
		out.Evidence = append(out.Evidence, v1alpha1.ClassEvidence{
			Class:                e.Class,
			Granted:              int64(e.Granted),
			Denied:               int64(e.Denied),
			AuditUnknown:         int64(e.AuditUnknown),
			FirstSeen:            timeOf(e.FirstSeen),
			LastSeen:             timeOf(e.LastSeen),
			Executables:          e.Executables,
			ExecutablesTruncated: e.ExecutablesTruncated,
			Syscalls:             e.Syscalls,
			SyscallsTruncated:    e.SyscallsTruncated,
		})
	}
	return out
}

// AdviceOf is the object's form of an advice.
func AdviceOf(a *profile.Advice) *v1alpha1.Advice {
	out := &v1alpha1.Advice{
		Add: a.Add, Drop: a.Drop, Denied: a.Denied, Namespaced: a.Namespaced,
		Unused: a.Unused, AuditUnknown: a.AuditUnknown, PSSLevel: a.PSSLevel,
	}
	if d := a.Diff; d != nil {
		out.Diff = &v1alpha1.AdviceDiff{
			Add: d.Add, Drop: d.Drop, DropAllMissing: d.DropAllMissing, PrivilegedDeclared: d.PrivilegedDeclared,
			DeclaredPSSLevel: d.DeclaredPSSLevel, Matches: d.Matches,
		}
	}
	return out
}

func declaredOf(d *profile.Declared) *v1alpha1.DeclaredCapabilities {
	if d == nil {
		return nil
	}
	return &v1alpha1.DeclaredCapabilities{Add: d.Add, Drop: d.Drop, Privileged: d.Privileged}
}

// kubernetesNames turns "CAP_" names into Kubernetes names.
func kubernetesNames(names []string) []string {
	out := make([]string, 0, len(names))
	for _, n := range names {
		out = append(out, strings.TrimPrefix(n, "CAP_"))
	}
	return out
}

// timeOf is nil for the zero time.
func timeOf(t time.Time) *metav1.Time {
	if t.IsZero() {
		return nil
	}
	mt := metav1.NewTime(t)
	return &mt
}

// timeFrom is the inverse of timeOf.
func timeFrom(t *metav1.Time) time.Time {
	if t == nil {
		return time.Time{}
	}
	return t.Time
}

// Merged is the profile of all sources of an object: internal/profile
// merges them (counts add up, windows widen, lists are united) and derives
// verdicts and advice with the same rules as every other output.
func Merged(k profile.Key, sources []v1alpha1.Source) profile.Profile {
	b := profile.NewBuilder()
	for i := range sources {
		b.Restore(ProfileOf(k, &sources[i]))
	}
	if b.Len() == 0 {
		return profile.Profile{ID: k.String(), Kind: k.Kind(), Key: k}
	}
	return b.Profiles()[0]
}

// Of is the merged profile of a CapabilityProfile object.
func Of(obj *v1alpha1.CapabilityProfile) profile.Profile {
	return Merged(KeyOf(obj.Namespace, &obj.Spec), obj.Status.Sources)
}
