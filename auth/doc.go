// Package auth identifies callers and decides what they may do.
//
// It holds the principal carried in a request's context, the three ways of
// proving one (a shared security key, a JWT, a service-account token), the
// scope grammar of AgentOS (resource:action, resource:<id>:action,
// resource:*:action, agent_os:admin), the one policy table that maps every
// REST route, MCP tool, A2A method and WebSocket action to a scope, and a
// per-principal rate limiter. It does no HTTP wiring: transports and adapters
// call Authenticate, put the principal in the context with WithPrincipal and
// ask Policy.Authorize before doing anything.
//
// Errors are core errors: CodeUnauthorized for missing or bad credentials,
// CodeForbidden for a missing scope. Their messages are safe to show; the
// causes (why a token failed) are kept in Err and must not be shown.
package auth
