package profile

import (
	"bufio"
	"strings"
)

// writeDocker writes, per profile, the docker run (or podman run) flags of
// the advice, after comment lines naming the key and what was left out. Host
// processes get a comment instead.
func writeDocker(w *bufio.Writer, profiles []Profile) error {
	for i := range profiles {
		p := &profiles[i]
		if i > 0 {
			w.WriteByte('\n')
		}
		if p.Kind == KeyHost {
			writeComments(w, []string{p.ID + ": " + notContainer})
			continue
		}
		writeComments(w, adviceNotes(p))
		flags := make([]string, 0, 1+len(p.Advice.Add))
		for _, d := range p.Advice.Drop {
			flags = append(flags, "--cap-drop="+d)
		}
		for _, a := range p.Advice.Add {
			flags = append(flags, "--cap-add="+a)
		}
		w.WriteString(strings.Join(flags, " ") + "\n")
	}
	return nil
}

// writeSystemd writes, per host or command profile, the unit settings of the
// advice. An empty CapabilityBoundingSet= empties the bounding set;
// AmbientCapabilities= lets a service with a non-root User= keep the
// capabilities across its exec (a root service has them anyway). Container
// profiles get a comment saying they were skipped.
func writeSystemd(w *bufio.Writer, profiles []Profile) error {
	for i := range profiles {
		p := &profiles[i]
		if i > 0 {
			w.WriteByte('\n')
		}
		if p.Kind != KeyHost && p.Kind != KeyCommand {
			writeComments(w, []string{p.ID + ": skipped: not a host process (see --format yaml, patch or docker)"})
			continue
		}
		writeComments(w, append(append([]string{p.ID}, leftOutNotes(p)...), verificationLines(p)...))
		set := strings.Join(capNames(p.Advice.Add), " ")
		w.WriteString("CapabilityBoundingSet=" + set + "\n")
		w.WriteString("AmbientCapabilities=" + set + "\n")
	}
	return nil
}
