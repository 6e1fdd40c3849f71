// Package recording turns the cluster's CapabilityRecording objects into
// the rules of this node's live cgroup selection (internal/selection): it
// watches them in every namespace, adds a recording's rule while its window
// is open (from its creation for spec.duration, or until it is deleted) and
// removes it when the window ends or the object goes.
package recording
