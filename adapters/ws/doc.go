// Package ws is the WebSocket adapter for chat UIs, served at /ws: one
// socket carries any number of runs, in JSON text frames.
//
// # Client frames
//
// Every client frame is one JSON object with an "action" and an optional
// client-chosen "id" (a string of at most 128 bytes, or an integer) that the
// server echoes in the replies to that action. Unknown fields, and fields
// that the action does not use, are refused:
//
//	{"action":"authenticate","id":"1","token":"<JWT, security key or agw_sa_ token>"}
//	{"action":"ping","id":"2"}
//	{"action":"start","id":"3","agent_id":"assistant","message":"hi","session_id":"","user_id":"","background":false,"idempotency_key":"",
//	 "images":[{"content":"<base64>","mime_type":"image/png","filename":"a.png"}],"audio":[…],"videos":[…],"files":["https://…"]}
//	{"action":"subscribe","id":"4","run_id":"…","last_event_index":7}     (absent or -1: from the start)
//	{"action":"continue","id":"5","run_id":"…","tools":[…],"background":false}
//	{"action":"cancel","id":"6","run_id":"…"}
//
// A start with an "idempotency_key" (at most 255 printable ASCII
// characters) may be sent again, on any socket or replica, after a dropped
// connection: the same key with the same request, from the same caller to
// the same agent, acks and follows (from its first event) the run the
// first one started instead of starting another; the key with a different
// request is an error frame of code invalid.
//
// start names exactly one of "agent_id", "team_id" and "workflow_id": a
// team's or workflow's run streams its own events (TeamRunStarted…,
// WorkflowStarted, StepStarted…) and its members' (labelled with
// parent_run_id), and its ack names team_id or workflow_id instead of
// agent_id.
//
// subscribe, continue and cancel also accept "agent_id", "team_id",
// "workflow_id" and "session_id"; when given they must match the run (as in
// the REST paths). "tools" has the shape of REST /continue: the paused tool
// executions as RunPaused carried them, each with "confirmed" and an
// optional "confirmation_note". A team or workflow paused by a member may
// instead be continued with "requirements": the requirements its
// TeamRunPaused (or WorkflowPaused) carried, each with "confirmation" true
// or false (and "confirmation_note", or "external_execution_result").
//
// Scopes: actions on an agent's run need agents:<id>:run (policy
// operations ws:start, ws:subscribe…), on a team's teams:<id>:run
// (ws:start:team…), on a workflow's workflows:<id>:run (ws:start:workflow…).
//
// # Server frames
//
// Run events are the same JSON objects as the data of the SSE frames
// (core.Event: "event" is the CamelCase type, with "run_id" and
// "event_index"). Control frames have a lower-case "event":
//
//	{"event":"connected","protocol":"agentgate.ws.v1","auth_required":true,"max_frame_bytes":1048576}
//	{"event":"authenticated","id":"1","subject":"alice","user_id":"alice","admin":false}
//	{"event":"pong","id":"2"}
//	{"event":"ack","id":"3","action":"start","run_id":"…","session_id":"…","agent_id":"assistant","status":"RUNNING"}
//	{"event":"error","id":"3","action":"start","code":"not_found","detail":"agent \"x\" not found"}
//
// An ack answers start, subscribe, continue and cancel; for the first three
// it comes before any event of the run it follows, so a client can tell
// which run its request started. "done": true on a subscribe ack means
// nothing is left to send after the cursor. An error frame that ends a
// subscription (a cursor the log no longer holds, a log failure) carries the
// run_id and the id of the action that started it; code gone adds
// "first_available_index". Error codes are one table (see CodeOf):
// invalid, not_found, conflict, gone, unauthorized, forbidden, unavailable,
// internal.
//
// # Semantics
//
// A run started (or continued) with background false is a foreground run of
// its socket: when the client goes away (close frame, network drop, missed
// pongs, a frame over the hard size limit) while the run's segment is still
// streaming, the run is cancelled, as with a REST stream. Background runs go
// on; any socket (on any replica) may subscribe to them later. A socket the
// server closes — slow consumer (1013) or shutdown (1001) — does not cancel
// its runs: they are detached, so the client can reconnect and subscribe
// with last_event_index.
//
// Each socket has one writer fed by a bounded queue (QueueSize frames); the
// writer goroutine runs only while frames or a ping wait, so an idle socket
// costs its reader goroutine and a timer. A producer (the reader answering
// an action, or a run's pump reading the event log) that finds the queue
// full waits at most SlowConsumerTimeout for room; if the client takes
// nothing for that long, the socket is closed with 1013 (and a batch the
// writer cannot get written within WriteTimeout drops the connection, its
// runs detached as well). The event log decouples runs from their readers, so a slow socket never holds
// up a run or another socket; a reader that falls behind what the log
// retains gets an error frame of code gone.
//
// Keepalive: the server pings every PingInterval; a client that sends
// nothing (frames or pongs) for PingInterval+PongTimeout is dropped. A
// frame over MaxFrameBytes is answered with an error frame and discarded;
// one over four times the limit closes the socket (1009). Five refused
// authenticate actions in a row close it (1008). Browser origins must be
// the server's own or listed (Config.AllowedOrigins).
//
// # agno's workflow protocol
//
// The same handler serves AgnoPath (/workflows/ws), agno's AgentOS
// workflow WebSocket protocol (see AgnoPath and agno.go), on the same
// socket machinery: limits, keepalive, origins and credentials as /ws.
//
// The package is split so that rendering stays separate from I/O:
// protocol.go parses client frames, render.go renders server frames and
// maps errors, session.go maps actions onto Engine calls (asking the auth
// policy about every action), socket.go pumps a WebSocket connection.
package ws
