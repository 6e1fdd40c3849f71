package capabilityprofileconnector

import (
	"bytes"
	"slices"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/capprof/capprof/connector/capabilityprofileconnector/internal/metadata"
	"github.com/capprof/capprof/internal/caps"
	"github.com/capprof/capprof/internal/profile"
)

// profileEventName is the OpenTelemetry event name of a profile record.
const profileEventName = profile.EventProfile

// Attributes of a profile record (docs/profiles.md, "The profile record").
// Capability names are Kubernetes names (no CAP_ prefix), sorted.
const (
	attrID              = "linux.capability.profile.id"
	attrKind            = "linux.capability.profile.kind"
	attrUsed            = "linux.capability.profile.used"
	attrDenied          = "linux.capability.profile.denied"
	attrUnused          = "linux.capability.profile.unused"
	attrNamespaced      = "linux.capability.profile.namespaced"
	attrAuditUnknown    = "linux.capability.profile.audit_unknown"
	attrRecommendedAdd  = "linux.capability.profile.recommended.add"
	attrRecommendedDrop = "linux.capability.profile.recommended.drop"
	attrPSSLevel        = "linux.capability.profile.pss_level"
	attrChecks          = "linux.capability.profile.checks"
	attrObservations    = "linux.capability.profile.observations"
	attrHosts           = "linux.capability.profile.hosts"
	attrWindowStart     = "linux.capability.profile.window.start"
	attrWindowEnd       = "linux.capability.profile.window.end"
	attrJSON            = profile.AttrProfileJSON
	attrWriter          = profile.AttrProfileWriter
)

// profilesToLogs maps profiles to log records, one ResourceLogs per profile
// whose resource identifies the workload (Key.Attributes). The record's time
// is the profile's last check, observed at now; its body is the profile's
// securityContext fragment (profile.FormatYAML); writer names the connector
// whose partial profiles these are.
func profilesToLogs(profiles []profile.Profile, writer, version string, now time.Time) plog.Logs {
	logs := plog.NewLogs()
	observed := pcommon.NewTimestampFromTime(now)
	for i := range profiles {
		p := &profiles[i]
		rl := logs.ResourceLogs().AppendEmpty()
		res := rl.Resource().Attributes()
		for _, a := range p.Key.Attributes() {
			res.PutStr(a.Name, a.Value)
		}
		sl := rl.ScopeLogs().AppendEmpty()
		sl.Scope().SetName(metadata.ScopeName)
		sl.Scope().SetVersion(version)
		lr := sl.LogRecords().AppendEmpty()
		lr.SetTimestamp(pcommon.NewTimestampFromTime(p.LastSeen))
		lr.SetObservedTimestamp(observed)
		lr.SetEventName(profileEventName)
		lr.SetSeverityNumber(plog.SeverityNumberInfo)
		lr.SetSeverityText("INFO")
		lr.Body().SetStr(securityContextFragment(p))
		putProfileAttributes(lr.Attributes(), p)
		lr.Attributes().PutStr(attrWriter, writer)
	}
	return logs
}

func putProfileAttributes(m pcommon.Map, p *profile.Profile) {
	a := &p.Advice
	m.PutStr(attrID, p.ID)
	m.PutStr(attrKind, p.Kind)
	putStrings(m, attrUsed, used(p))
	putStrings(m, attrDenied, a.Denied)
	putStrings(m, attrUnused, a.Unused)
	putStrings(m, attrNamespaced, a.Namespaced)
	putStrings(m, attrAuditUnknown, a.AuditUnknown)
	putStrings(m, attrRecommendedAdd, a.Add)
	putStrings(m, attrRecommendedDrop, a.Drop)
	m.PutStr(attrPSSLevel, a.PSSLevel)
	m.PutInt(attrChecks, int64(p.Checks))
	m.PutInt(attrObservations, int64(p.Observations))
	putStrings(m, attrHosts, p.Hosts)
	m.PutStr(attrWindowStart, p.FirstSeen.UTC().Format(time.RFC3339Nano))
	m.PutStr(attrWindowEnd, p.LastSeen.UTC().Format(time.RFC3339Nano))
	// Encoding fails only on a time outside years 0-9999; the record then
	// goes without its evidence, which its consumers count.
	if js, err := profile.MarshalOne(p); err == nil {
		m.PutStr(attrJSON, js)
	}
}

// used lists the capabilities granted to the workload's own or namespaced
// checks: what it used, needed in the securityContext or not.
func used(p *profile.Profile) []string {
	var out []string
	for i := range p.Capabilities {
		c := &p.Capabilities[i]
		if c.Granted > 0 && (c.Verdict == profile.VerdictNeeded || c.Verdict == profile.VerdictNamespaced) {
			out = append(out, caps.KubernetesName(c.ID))
		}
	}
	slices.Sort(out)
	return out
}

func putStrings(m pcommon.Map, key string, values []string) {
	s := m.PutEmptySlice(key)
	s.EnsureCapacity(len(values))
	for _, v := range values {
		s.AppendEmpty().SetStr(v)
	}
}

// securityContextFragment is the yaml format of one profile.
func securityContextFragment(p *profile.Profile) string {
	var b bytes.Buffer
	// Writing to a bytes.Buffer cannot fail, and FormatYAML is known.
	_ = profile.Write(&b, profile.FormatYAML, []profile.Profile{*p})
	return b.String()
}
