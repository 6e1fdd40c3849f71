// Package caps names and parses Linux capabilities.
//
// Numbers follow include/uapi/linux/capability.h. A recorder built against
// this package may run on a kernel that knows capabilities this package does
// not, so every function accepts numbers up to 63 (the width of the kernel's
// kernel_cap_t) and renders unknown ones as "CAP_<n>" instead of failing.
package caps
