// Program otelcol-capprof is capprof's OpenTelemetry Collector distribution:
// the "capabilities" receiver, which records every Linux capability check
// with eBPF, plus the core and contrib components that filter, enrich, count
// and export its records.
//
// Started without --config it runs otelcol-config/local.yaml, which is
// embedded in the binary: record this host's checks, print them, and append
// them to ./capprof-data/checks.jsonl. The receiver needs root.
//
// The file is written by hand in the shape ocb generates from
// otelcol-config/builder-config.yaml (main.go + components.go), without the
// Windows service wrapper: the receiver only runs on Linux.
package main

import (
	"os"
	"strings"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/confmap"
	"go.opentelemetry.io/collector/confmap/provider/envprovider"
	"go.opentelemetry.io/collector/confmap/provider/fileprovider"
	"go.opentelemetry.io/collector/confmap/provider/yamlprovider"
	"go.opentelemetry.io/collector/otelcol"

	otelcolconfig "github.com/capprof/capprof/otelcol-config"
)

// version is set at link time: go build -ldflags "-X main.version=v1.2.3".
var version = "0.0.0-dev"

// defaultConfigURI is the embedded local.yaml as a "yaml:" URI.
//
// How the embedded default is used: otelcol.NewCommand treats the
// ResolverSettings.URIs it is given as defaults that any --config flag
// replaces, and the yaml provider takes a whole multi-line document (confmap
// matches URIs with the regexp "s" flag; configs_test.go checks it), so the
// default needs no extra provider and no rewriting of os.Args for the root
// command and for `validate`. One case does need os.Args: otelcol turns each
// --set into a "yaml:" URI and lets it replace the defaults as well, so
// withDefaultConfig adds the embedded config explicitly when --set comes
// without --config.
var defaultConfigURI = "yaml:" + otelcolconfig.Local

func main() {
	if err := run(settings()); err != nil {
		// cobra has printed the error.
		os.Exit(1)
	}
}

func settings() otelcol.CollectorSettings {
	info := component.BuildInfo{
		Command:     "otelcol-capprof",
		Description: "capprof's OpenTelemetry Collector distribution",
		Version:     version,
	}

	return otelcol.CollectorSettings{
		BuildInfo: info,
		Factories: components,
		ConfigProviderSettings: otelcol.ConfigProviderSettings{
			ResolverSettings: confmap.ResolverSettings{
				URIs: []string{defaultConfigURI},
				ProviderFactories: []confmap.ProviderFactory{
					envprovider.NewFactory(),
					fileprovider.NewFactory(),
					yamlprovider.NewFactory(),
				},
				ConverterFactories: []confmap.ConverterFactory{},
			},
		},
		ProviderModules: map[string]string{
			envprovider.NewFactory().Create(confmap.ProviderSettings{}).Scheme():  "go.opentelemetry.io/collector/confmap/provider/envprovider v1.66.0",
			fileprovider.NewFactory().Create(confmap.ProviderSettings{}).Scheme(): "go.opentelemetry.io/collector/confmap/provider/fileprovider v1.66.0",
			yamlprovider.NewFactory().Create(confmap.ProviderSettings{}).Scheme(): "go.opentelemetry.io/collector/confmap/provider/yamlprovider v1.66.0",
		},
		ConverterModules: []string{},
	}
}

func run(set otelcol.CollectorSettings) error {
	cmd := otelcol.NewCommand(set)
	cmd.SetArgs(withDefaultConfig(os.Args[1:]))
	return cmd.Execute()
}

// withDefaultConfig puts the embedded config in front of args when they
// have a --set but no --config, so that --set tweaks the default instead of
// replacing it ("otelcol-capprof --set=receivers.capabilities.verdict=denied").
func withDefaultConfig(args []string) []string {
	hasSet := false
	for _, a := range args {
		if a == "--" {
			break
		}
		name, _, _ := strings.Cut(a, "=")
		switch name {
		case "--config":
			return args
		case "--set":
			hasSet = true
		}
	}
	if !hasSet {
		return args
	}
	return append([]string{"--config=" + defaultConfigURI}, args...)
}
