// A real third-party SSE client (the `eventsource` npm package) against a
// running agentgate: start a background run, follow its stream through a TCP
// proxy that cuts the first connection part-way through, and let the
// EventSource library reconnect by itself with Last-Event-ID. Every event
// index 0..last must arrive exactly once, in order, and the last event must be
// RunCompleted.
//
// Environment:
//   AGENTGATE_URL    gateway base URL (required), e.g. http://127.0.0.1:7777
//   AGENTGATE_AGENT  agent id (default: assistant)
//   CUT_AFTER_BYTES  bytes of the first response after which the proxy cuts
//                    the connection (default 1500)
//   TIMEOUT_MS       overall deadline (default 30000)
//
// Exits 0 on success and prints one JSON summary line; exits 1 on failure.

import net from 'node:net'
import {EventSource} from 'eventsource'

const base = (process.env.AGENTGATE_URL || '').replace(/\/+$/, '')
const agent = process.env.AGENTGATE_AGENT || 'assistant'
const cutAfter = Number(process.env.CUT_AFTER_BYTES || 1500)
const timeoutMs = Number(process.env.TIMEOUT_MS || 30000)

// The closed set of event types the gateway sends (plus its `error` frame).
const EVENT_TYPES = [
  'RunStarted', 'RunContent', 'RunContentCompleted', 'ReasoningStarted', 'ReasoningContentDelta',
  'ReasoningCompleted', 'ToolCallStarted', 'ToolCallCompleted', 'ToolCallError', 'ModelRequestStarted',
  'ModelRequestCompleted', 'MemoryUpdateStarted', 'MemoryUpdateCompleted', 'RunPaused', 'RunContinued',
  'RunCompleted', 'RunError', 'RunCancelled', 'CustomEvent',
]

function fail(msg) {
  console.error(`sse_resume: FAIL: ${msg}`)
  process.exit(1)
}

if (!base) fail('set AGENTGATE_URL to the gateway base URL')

const deadline = setTimeout(() => fail(`no RunCompleted within ${timeoutMs} ms`), timeoutMs)

// 1. Start a background run: 202 {run_id, session_id, status}.
const form = new URLSearchParams({message: 'tell me a long story', background: 'true', stream: 'false'})
const started = await fetch(`${base}/agents/${encodeURIComponent(agent)}/runs`, {
  method: 'POST',
  headers: {'Content-Type': 'application/x-www-form-urlencoded'},
  body: form,
})
const accepted = await started.json()
if (started.status !== 202) fail(`POST runs: status ${started.status}: ${JSON.stringify(accepted)}`)
const runId = accepted.run_id
if (!runId) fail(`202 without run_id: ${JSON.stringify(accepted)}`)

// 2. A TCP proxy to the gateway that cuts its first connection once
// cutAfter bytes of the response went through (most likely mid-frame).
const upstream = new URL(base)
const received = [] // {index, type} in arrival order
const connections = [] // {lastEventId: header sent by the client, or null}
let cutDone = false
const proxy = net.createServer((client) => {
  // eventsBefore: events the client had dispatched when it opened this
  // connection (so a reconnect must send Last-Event-ID eventsBefore-1).
  const conn = {lastEventId: null, request: '', eventsBefore: received.length}
  connections.push(conn)
  const first = connections.length === 1
  const server = net.connect(Number(upstream.port || 80), upstream.hostname)
  let sent = 0
  client.on('data', (chunk) => {
    if (conn.request.length < 8192) {
      conn.request += chunk.toString('latin1')
      const m = /\r\nlast-event-id:\s*([^\r\n]*)/i.exec(conn.request)
      if (m) conn.lastEventId = m[1].trim()
    }
    server.write(chunk)
  })
  server.on('data', (chunk) => {
    if (first && !cutDone) {
      if (sent + chunk.length >= cutAfter) {
        client.write(chunk.subarray(0, cutAfter - sent))
        cutDone = true
        client.destroy()
        server.destroy()
        return
      }
      sent += chunk.length
    }
    client.write(chunk)
  })
  const close = () => {
    client.destroy()
    server.destroy()
  }
  client.on('error', close)
  server.on('error', close)
  client.on('close', close)
  server.on('close', close)
})
await new Promise((resolve) => proxy.listen(0, '127.0.0.1', resolve))
const proxyUrl = `http://127.0.0.1:${proxy.address().port}`

// 3. Follow the run with the library; it reconnects by itself.
let reconnects = 0
const es = new EventSource(`${proxyUrl}/agents/${encodeURIComponent(agent)}/runs/${runId}/stream`)

const done = new Promise((resolve) => {
  for (const type of EVENT_TYPES) {
    es.addEventListener(type, (e) => {
      let ev
      try {
        ev = JSON.parse(e.data)
      } catch (err) {
        fail(`${type}: data is not JSON: ${e.data}`)
      }
      if (ev.event !== type) fail(`event: ${type} carries data of ${ev.event}`)
      if (String(ev.event_index) !== e.lastEventId) fail(`id ${e.lastEventId} but event_index ${ev.event_index}`)
      if (ev.run_id !== runId) fail(`event of run ${ev.run_id}, want ${runId}`)
      const want = received.length
      if (ev.event_index !== want) {
        fail(`got event_index ${ev.event_index} (${type}), want ${want}: ` +
          (ev.event_index < want ? 'duplicate' : 'gap') + ` after ${JSON.stringify(received.map((r) => r.index))}`)
      }
      received.push({index: ev.event_index, type})
      if (type === 'RunCompleted' || type === 'RunError' || type === 'RunCancelled') {
        es.close()
        resolve()
      }
    })
  }
  es.addEventListener('error', (e) => {
    if (typeof e.data === 'string') {
      // The gateway's own `event: error` frame (for example a 410).
      fail(`the gateway sent an error frame: ${e.data}`)
    }
    if (es.readyState === EventSource.CLOSED) {
      fail(`the EventSource gave up: ${e.message ?? ''} (code ${e.code ?? '-'})`)
    }
    reconnects++
  })
})

await done
clearTimeout(deadline)
proxy.close()

// 4. Check what arrived.
const last = received[received.length - 1]
if (last.type !== 'RunCompleted') fail(`the last event is ${last.type}, want RunCompleted`)
received.forEach((r, i) => {
  if (r.index !== i) fail(`position ${i} holds index ${r.index}`)
})
if (!cutDone) fail(`the proxy never cut the stream (${cutAfter} bytes): the run was too short`)
if (connections.length < 2 || reconnects < 1) {
  fail(`the library did not reconnect (connections ${connections.length}, error events ${reconnects})`)
}
const cut = connections[1].eventsBefore
if (cut < 1) fail(`the cut came before the first event: make CUT_AFTER_BYTES larger`)
if (cut >= received.length) fail(`the cut came after the last event (${cut} events)`)
const resumedWith = connections[1].lastEventId
if (connections[0].lastEventId !== null) fail(`the first request already sent Last-Event-ID ${connections[0].lastEventId}`)
if (resumedWith !== String(cut - 1)) {
  fail(`the reconnect sent Last-Event-ID ${resumedWith}, want ${cut - 1} (the last event received before the cut)`)
}

console.log(JSON.stringify({
  run_id: runId,
  events: received.length,
  last: last.type,
  connections: connections.length,
  cut_after_events: cut,
  resumed_with_last_event_id: resumedWith,
}))
process.exit(0)
