package profile

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
)

// writeJSON writes the profiles as one indented JSON array; the schema is
// the json tags of Profile (docs/profiles.md). An empty list is [].
func writeJSON(w *bufio.Writer, profiles []Profile) error {
	if profiles == nil {
		profiles = []Profile{}
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(profiles); err != nil {
		return fmt.Errorf("encode: %w", err)
	}
	return nil
}

// ReadJSON reads profiles written by Write in FormatJSON, for
// Builder.Restore.
func ReadJSON(r io.Reader) ([]Profile, error) {
	var profiles []Profile
	if err := json.NewDecoder(r).Decode(&profiles); err != nil {
		return nil, fmt.Errorf("read profiles: %w", err)
	}
	return profiles, nil
}

// The profile record of the capability_profile connector carries one
// profile, in the JSON format, as the attribute AttrProfileJSON, so that a
// consumer (the capability_profile_k8s exporter) has its full evidence.
const (
	// EventProfile is the event name of a profile record.
	EventProfile = "linux.capability.profile"
	// AttrProfileJSON is the profile record's attribute holding the profile
	// as one JSON object (an element of the JSON format's array).
	AttrProfileJSON = "linux.capability.profile.json"
)

// MarshalOne encodes one profile as a JSON object, the schema of the JSON
// format's elements.
func MarshalOne(p *Profile) (string, error) {
	b, err := json.Marshal(p)
	if err != nil {
		return "", fmt.Errorf("encode profile %s: %w", p.ID, err)
	}
	return string(b), nil
}

// UnmarshalOne decodes a profile MarshalOne encoded.
func UnmarshalOne(s string) (Profile, error) {
	var p Profile
	if err := json.Unmarshal([]byte(s), &p); err != nil {
		return Profile{}, fmt.Errorf("decode profile: %w", err)
	}
	return p, nil
}
