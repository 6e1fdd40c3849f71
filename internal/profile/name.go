package profile

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
)

// maxObjectNameLen keeps object names valid DNS labels (63), not only DNS
// subdomains (253), so that names derived from them (policies) fit too.
const maxObjectNameLen = 63

// ObjectName is the name of a Kubernetes key's CapabilityProfile object:
// "<kind>-<workload>-<container>" in lower case ("<kind>-<workload>" when
// the container is unknown). A longer name is cut and ends in a hash of the
// whole, so that two long names never meet. The exporter names its objects
// with it and the policies name the objects they enforce.
func (k Key) ObjectName() string {
	parts := []string{k.WorkloadKind, k.Workload}
	if k.Container != "" {
		parts = append(parts, k.Container)
	}
	name := strings.ToLower(strings.Join(parts, "-"))
	if len(name) <= maxObjectNameLen {
		return name
	}
	sum := sha256.Sum256([]byte(name))
	suffix := hex.EncodeToString(sum[:])[:10]
	head := strings.TrimRight(name[:maxObjectNameLen-len(suffix)-1], "-.")
	return head + "-" + suffix
}
