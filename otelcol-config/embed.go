package otelcolconfig

import _ "embed"

// Local is the text of local.yaml: the single-host default configuration.
//
//go:embed local.yaml
var Local string
