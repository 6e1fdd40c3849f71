// Package scenarios runs small real programs with a known least-privilege
// set under `capprof run --verify`, as a non-root user (uid 1000) holding
// only the capability each needs: bind TCP port 80, open a raw socket,
// chown a file away, write another user's file in their 0700 directory,
// signal another user's process, lower the nice value, setuid to another
// uid, mknod a device, and a program that needs nothing. Each asserts the
// exact advised set, the Pod Security Standards level, and that the
// verification proves every advised capability necessary. The workload is
// ./capscenario; the test is behind the integration build tag and needs
// root.
package scenarios
