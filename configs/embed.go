// Package configs holds sample configuration files only. The embedded
// default (agentgate.yaml) is compiled into the binary.
package configs

import _ "embed"

// Default is the embedded default configuration (configs/agentgate.yaml).
//
//go:embed agentgate.yaml
var Default []byte
