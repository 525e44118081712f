// The `ws` npm package as a real client of a team and a workflow over
// agentgate's two WebSocket protocols:
//   /ws            start with workflow_id (a chat UI's protocol), then a team
//                  paused by its member, continued with its requirements;
//   /workflows/ws  agno's protocol: start-workflow (live events are text
//                  frames formatted like SSE), then reconnect (a replay in
//                  plain JSON), and continue-workflow of a paused workflow.
//
// Environment:
//   AGENTGATE_WS_URL       the gateway's /ws URL (required)
//   AGENTGATE_AGNO_WS_URL  the gateway's /workflows/ws URL (required)
//   TIMEOUT_MS             overall deadline (default 30000)
// Runnables expected: workflow pipeline (echo, echo), team crew (echo then
// approver, which pauses), workflow gated (echo then approver).
//
// Prints one JSON summary line and exits 0; on failure exits 1.

import WebSocket from 'ws'

const wsURL = process.env.AGENTGATE_WS_URL || ''
const agnoURL = process.env.AGENTGATE_AGNO_WS_URL || ''
const timeoutMs = Number(process.env.TIMEOUT_MS || 30000)

function fail(msg) {
  console.error(`ws_runnables: FAIL: ${msg}`)
  process.exit(1)
}
if (!wsURL || !agnoURL) fail('set AGENTGATE_WS_URL and AGENTGATE_AGNO_WS_URL')
setTimeout(() => fail(`not done within ${timeoutMs} ms`), timeoutMs).unref()
const check = (ok, msg) => { if (!ok) fail(msg) }

// open resolves with a socket whose text messages queue up for next().
async function open(url) {
  const ws = new WebSocket(url)
  const queue = []
  const waiters = []
  ws.on('message', (data, isBinary) => {
    if (isBinary) fail('binary frame from the server')
    const raw = data.toString('utf8')
    const w = waiters.shift()
    if (w) w(raw)
    else queue.push(raw)
  })
  await new Promise((resolve, reject) => { ws.once('open', resolve); ws.once('error', reject) })
  const next = () => (queue.length ? Promise.resolve(queue.shift()) : new Promise((resolve) => waiters.push(resolve)))
  return {ws, next, send: (v) => ws.send(JSON.stringify(v))}
}

// parse reads a frame: {live, name, data} (live: the SSE-formatted kind).
function parse(raw) {
  if (raw.startsWith('event: ')) {
    const m = /^event: ([^\n]+)\ndata: (.*)\n\n$/s.exec(raw)
    check(m, `malformed SSE-style frame ${JSON.stringify(raw)}`)
    const data = JSON.parse(m[2])
    check(data.event === m[1], `event line ${m[1]} but data event ${data.event}`)
    return {live: true, name: m[1], data}
  }
  const data = JSON.parse(raw)
  return {live: false, name: data.event, data}
}

async function until(c, name, {live} = {}) {
  const seen = []
  for (;;) {
    const f = parse(await c.next())
    if (live !== undefined && f.live !== live && f.data.event !== 'ack') fail(`frame ${f.name} live=${f.live}, want live=${live}`)
    seen.push(f)
    if (f.name === name) return seen
    if (f.name === 'error') fail(`error frame: ${JSON.stringify(f.data)}`)
  }
}

const summary = {}

// ---- /ws ----
const a = await open(wsURL)
check(parse(await a.next()).name === 'connected', 'no connected frame on /ws')
a.send({action: 'start', id: 'w1', workflow_id: 'pipeline', message: 'hi'})
let frames = await until(a, 'WorkflowCompleted')
check(frames[0].data.event === 'ack' && frames[0].data.workflow_id === 'pipeline', `ack ${JSON.stringify(frames[0].data)}`)
const own = frames.slice(1).filter((f) => !f.data.parent_run_id).map((f) => f.name)
check(own.includes('StepStarted') && own.includes('StepCompleted'), `workflow events ${own}`)
summary.ws_workflow = {events: own, content: frames.at(-1).data.content}

a.send({action: 'start', id: 't1', team_id: 'crew', message: 'go'})
frames = await until(a, 'TeamRunPaused')
const paused = frames.at(-1).data
check(paused.requirements?.length === 1 && paused.requirements[0].member_agent_id === 'approver', `TeamRunPaused ${JSON.stringify(paused)}`)
const reqs = paused.requirements.map((r) => ({...r, confirmation: true}))
a.send({action: 'continue', id: 't2', run_id: paused.run_id, team_id: 'crew', requirements: reqs})
frames = await until(a, 'TeamRunCompleted')
summary.ws_team = {run_id: paused.run_id, content: frames.at(-1).data.content}
a.ws.close()

// ---- /workflows/ws ----
const b = await open(agnoURL)
const hello = parse(await b.next())
check(hello.name === 'connected' && hello.data.requires_auth === false, `connected ${JSON.stringify(hello.data)}`)
b.send({action: 'ping'})
check(parse(await b.next()).name === 'pong', 'no pong')
b.send({action: 'start-workflow', workflow_id: 'pipeline', message: 'agno'})
frames = await until(b, 'WorkflowCompleted', {live: true})
const runID = frames[0].data.run_id
check(frames[0].name === 'WorkflowStarted' && frames[0].data.event_index === 0, `first ${JSON.stringify(frames[0])}`)
check(frames.every((f, i) => f.data.event_index === i), 'event_index is not dense from 0')
summary.agno_start = {run_id: runID, events: frames.length, content: frames.at(-1).data.content}

b.send({action: 'reconnect', run_id: runID, workflow_id: 'pipeline', last_event_index: 1})
const replay = parse(await b.next())
check(!replay.live && replay.name === 'replay' && replay.data.total_events === frames.length - 2, `replay ${JSON.stringify(replay.data)}`)
const replayed = []
for (let i = 0; i < replay.data.total_events; i++) {
  const f = parse(await b.next())
  check(!f.live && f.data.event_index === i + 2, `replayed ${JSON.stringify(f)}`)
  replayed.push(f.name)
}
summary.agno_replay = {status: replay.data.status, events: replayed.length, last: replayed.at(-1)}

b.send({action: 'start-workflow', workflow_id: 'gated', message: 'gate'})
frames = await until(b, 'WorkflowPaused', {live: true})
const wp = frames.at(-1).data
b.send({action: 'continue-workflow', workflow_id: 'gated', run_id: wp.run_id,
  step_requirements: wp.requirements.map((r) => ({...r, confirmation: true}))})
frames = await until(b, 'WorkflowCompleted', {live: true})
summary.agno_continue = {run_id: wp.run_id, content: frames.at(-1).data.content}
b.ws.close()

console.log(JSON.stringify(summary))
process.exit(0)
