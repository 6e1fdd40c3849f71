package profile

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestObjectName(t *testing.T) {
	long := strings.Repeat("a", 60)
	tests := []struct {
		name string
		key  Key
		want string
	}{
		{name: "deployment container", key: Key{Namespace: "shop", WorkloadKind: KindDeployment, Workload: "web", Container: "app"}, want: "deployment-web-app"},
		{name: "no container", key: Key{Namespace: "ns", WorkloadKind: KindPod, Workload: "Xwing"}, want: "pod-xwing"},
		{name: "too long", key: Key{Namespace: "ns", WorkloadKind: KindStatefulSet, Workload: long, Container: "c"},
			want: "statefulset-" + long[:40] + "-"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := tt.key.ObjectName()
			require.LessOrEqual(t, len(got), maxObjectNameLen)
			require.True(t, strings.HasPrefix(got, tt.want), "%s does not start with %s", got, tt.want)
		})
	}
	a := (Key{WorkloadKind: KindDeployment, Workload: long, Container: "one"}).ObjectName()
	b := (Key{WorkloadKind: KindDeployment, Workload: long, Container: "two"}).ObjectName()
	require.NotEqual(t, a, b, "long names differ by their hash")
	require.Len(t, a, maxObjectNameLen)
}
