package checklogs

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/capprof/capprof/internal/check"
	"github.com/capprof/capprof/internal/check/checktest"
	"github.com/capprof/capprof/internal/profile"
)

// TestProfileKeyRoutes: the resource attribute the agents' loadbalancing
// exporter routes on (profile.AttrKey) is the key the gateway's connector
// derives from the same record, and it is the same for every replica of a
// workload, whatever its node, pod and process; records without Kubernetes
// metadata are routed by container id, then by host and executable.
func TestProfileKeyRoutes(t *testing.T) {
	base := checktest.Checks()
	host, container := base[0], base[1]
	replica := func(node, pod, rs, exe string) check.Check {
		c := container
		c.HostName = node
		c.Process.ExecutablePath = exe
		c.Kubernetes = &check.Kubernetes{Namespace: "shop", PodName: pod, PodUID: pod + "-uid", NodeName: node,
			ContainerName: "web", ImageName: "nginx", ImageTag: "1.27", Deployment: "web", ReplicaSet: rs}
		return c
	}
	unnamedImage := container
	unnamedImage.Container.ID = "1111111111111111111111111111111111111111111111111111111111111111"
	otherHost := host
	otherHost.HostName = "node-2"
	for _, tt := range []struct {
		name  string
		check check.Check
		want  string
	}{
		{name: "replica on node-1", check: replica("node-1", "web-a", "web-7d9", "/usr/sbin/nginx"), want: "k8s shop/Deployment/web/web"},
		{name: "replica on node-2 of another ReplicaSet", check: replica("node-2", "web-b", "web-5c4", "/bin/sh"), want: "k8s shop/Deployment/web/web"},
		{name: "pod not known yet: by container id", check: container, want: "container " + container.Container.ID},
		{name: "another container", check: unnamedImage, want: "container " + unnamedImage.Container.ID},
		{name: "host process: by host and executable", check: host, want: "host node-1 /usr/bin/dmesg"},
		{name: "same executable on another host", check: otherHost, want: "host node-2 /usr/bin/dmesg"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			rl := new(Mapper).Logs([]check.Check{tt.check}).ResourceLogs().At(0)
			res := rl.Resource().Attributes().AsRaw()
			require.Equal(t, tt.want, res[profile.AttrKey])
			// What the gateway's connector makes of the record.
			lr := rl.ScopeLogs().At(0).LogRecords().At(0)
			obs := profile.NewResource(res).Observation(lr.Attributes().AsRaw(), lr.Timestamp().AsTime())
			require.Equal(t, tt.want, profile.NewBuilder().KeyOf(&obs).String())
		})
	}
}
