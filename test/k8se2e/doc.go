// Package k8se2e checks the Kubernetes deployment under deploy/.
//
// Without build tags (render_test.go): kustomize, pinned in
// internal/tools/kustomize, renders deploy/base and deploy/overlays/demo, and
// every object decodes strictly into its Kubernetes API type; Helm, pinned
// in internal/tools/helm, renders the chart deploy/helm/capprof, which must
// match deploy/base object by object with its default values
// (helm_test.go), and put every other value where it belongs.
//
// With the e2e build tag (`make e2e`, root): both renderings of the chart
// pass a server-side dry run on a real kube-apiserver; and the Star Wars demo end to end
// against a real etcd and kube-apiserver and a private containerd. Every
// rendered object passes a server-side dry run; the agent image (`make
// image`) runs under containerd with the DaemonSet's security context and
// mounts, on two nodes, authenticated by a token bound to the agent's service
// account, sending to the real gateway (otelcol-capprof with
// deploy/base/gateway-config.yaml); a denied CAP_SYSLOG check of dmesg in the
// xwing pod arrives named after its namespace, pod, container and labels; the
// deathstar Deployment's two replicas, one per node, bind port 80; and the
// gateway makes one capability profile per workload, the deathstar's over
// both nodes, with least-privilege advice.
package k8se2e
