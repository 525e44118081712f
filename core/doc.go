// Package core owns agentgate's domain: runs, sessions, the closed set of
// event types, the Engine that executes runs and the interfaces that storage
// backends (RunStore, EventLog) and agents (Agent) implement.
//
// core imports only the standard library. Adapters render core.Event values
// and call Engine methods; storage packages implement RunStore and EventLog and
// prove it by running storage/storetest and storage/eventlogtest.
package core
