// Package trace is the traces resource group (AgentOS's /traces): stored
// spans, the traces they form, the filter DSL of POST /traces/search, its
// store interface and its service (isolation, retention). The
// instrumentation that produces spans is core/trace/tracing.
package trace
