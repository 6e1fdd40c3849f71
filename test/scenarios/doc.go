// Package scenarios runs small real programs with a known least-privilege
// set under `capprof run --verify`, as a non-root user (uid 1000) holding
// only the capability each needs: bind TCP port 80, open a raw socket,
// chown a file away, write another user's file in their 0700 directory,
// signal another user's process, lower the nice value, setuid to another
// uid, mknod a device, and a program that needs nothing. Each asserts the
// exact advised set, the Pod Security Standards level, and that the
// verification proves every advised capability necessary. The same
// programs then run in containerd containers with Kubernetes-shaped cgroups
// (root holding only the scenario's capability), recorded by the real
// collector (the capabilities receiver with host processes excluded, as
// deployed) into the capability_profile connector: each container's profile
// record must advise the same set, none of runc's setup capabilities. The
// workload is ./capscenario; the tests are behind the integration build tag
// and need root.
package scenarios
