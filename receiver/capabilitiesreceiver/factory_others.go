//go:build !linux

package capabilitiesreceiver

import (
	"context"
	"errors"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/receiver"
)

var errLinuxOnly = errors.New("the capabilities receiver is only supported on linux: it records the kernel's capability checks with eBPF")

func createLogs(context.Context, receiver.Settings, component.Config, consumer.Logs) (receiver.Logs, error) {
	return nil, errLinuxOnly
}
