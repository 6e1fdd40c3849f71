//go:build !linux

package capabilitiesreceiver

// recorderConfig accepts any configuration off Linux: the receiver cannot
// be created there, and says so.
func (c *Config) recorderConfig() (struct{}, error) { return struct{}{}, nil }
