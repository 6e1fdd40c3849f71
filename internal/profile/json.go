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
