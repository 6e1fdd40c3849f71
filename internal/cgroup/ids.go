package cgroup

// uuidLen is the length of a textual UUID with separators (8-4-4-4-12).
const uuidLen = 36

// canonicalUID accepts a lowercase UUID whose groups are separated by sep,
// or 32 lowercase hex digits without separators (static pods), and returns
// it in 8-4-4-4-12 form with dashes. Uppercase is rejected because kubelet
// never writes it, so it suggests a name that only looks like a pod.
func canonicalUID(s string, sep byte) (string, bool) {
	var b [uuidLen]byte
	switch len(s) {
	case uuidLen:
		for i := range uuidLen {
			c := s[i]
			if isUUIDDash(i) {
				if c != sep {
					return "", false
				}
				c = '-'
			} else if !isLowerHex(c) {
				return "", false
			}
			b[i] = c
		}
		if sep == '-' {
			return s, true // already canonical; skip the copy
		}
	case 32:
		j := 0
		for i := range uuidLen {
			if isUUIDDash(i) {
				b[i] = '-'
				continue
			}
			if !isLowerHex(s[j]) {
				return "", false
			}
			b[i] = s[j]
			j++
		}
	default:
		return "", false
	}
	return string(b[:]), true
}

func isUUIDDash(i int) bool {
	return i == 8 || i == 13 || i == 18 || i == 23
}

// isContainerID reports whether s has the shape of the container ids
// containerd, CRI-O, Docker and Podman generate: 64 lowercase hex digits.
func isContainerID(s string) bool {
	if len(s) != 64 {
		return false
	}
	for i := range len(s) {
		if !isLowerHex(s[i]) {
			return false
		}
	}
	return true
}

func isLowerHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f'
}
