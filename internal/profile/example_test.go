package profile_test

import (
	"os"
	"time"

	"github.com/capprof/capprof/internal/check"
	"github.com/capprof/capprof/internal/proc"
	"github.com/capprof/capprof/internal/profile"
)

// A web server's replicas on two nodes bind port 80; a NOAUDIT
// memory-commit probe of CAP_SYS_ADMIN is ignored.
func Example() {
	b := profile.NewBuilder()
	for _, node := range []string{"node-1", "node-2"} {
		res := map[string]string{
			profile.AttrNamespace:      "shop",
			profile.AttrDeploymentName: "web",
			profile.AttrContainerName:  "nginx",
			check.AttrHostName:         node,
		}
		bind := check.Check{
			Time: time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC), Cap: 10, Audit: check.Audited, Count: 1,
			UserNS: check.UserNamespace{IsHost: true}, SyscallName: "bind",
			Process: proc.Info{ExecutablePath: "/usr/sbin/nginx"},
		}
		probe := bind
		probe.Cap, probe.Denied, probe.Audit, probe.SyscallName = 21, true, check.NotAudited, "mmap"
		b.Add(profile.Observation{Resource: res, Check: bind})
		b.Add(profile.Observation{Resource: res, Check: probe})
	}
	if err := profile.Write(os.Stdout, profile.FormatYAML, b.Profiles()); err != nil {
		panic(err)
	}
	// Output:
	// # k8s shop/Deployment/web/nginx
	// # Pod Security Standards: restricted
	// securityContext:
	//   capabilities:
	//     drop: [ALL]
	//     add: [NET_BIND_SERVICE]
}
