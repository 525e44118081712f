// The real A2A client (@a2a-js/sdk 1.3.0) against a running agentgate, in one
// of three modes:
//
//   v1        A2A v1.0 over JSON-RPC (the SDK's default)
//   v1-rest   A2A v1.0 over the HTTP+JSON binding
//   v03       A2A v0.3 over JSON-RPC: the SDK's legacyCompat mode, given
//             the v0.3 half of the agent card (supportedInterfaces removed,
//             as a v0.3-only client sees the union card)
//
// Each mode drives send (blocking), stream, get, list (v1), cancel,
// resubscribe (after a dropped stream), an input-required round trip
// (confirm in text, reject in a data part), push notification configs with
// a local webhook receiver, and the A2A errors for not-found and
// not-cancelable tasks. Agents (see e2e/a2a_node_test.go): assistant (short
// reply "You said: …"), story (a long, slow reply), approval-demo (pauses for
// confirmation of calculator 6*7).
//
// Environment: AGENTGATE_URL (required), A2A_MODE (v1 | v1-rest | v03),
// TIMEOUT_MS (default 60000).
// Prints one JSON line per check, then a summary line; exits 1 on failure.

import http from 'node:http'
import {Role, TaskState} from '@a2a-js/sdk'
import {
  ClientFactory, ClientFactoryOptions, DefaultAgentCardResolver, JsonRpcTransportFactory, RestTransportFactory,
} from '@a2a-js/sdk/client'

const base = (process.env.AGENTGATE_URL || '').replace(/\/+$/, '')
const mode = process.env.A2A_MODE || 'v1'
const timeoutMs = Number(process.env.TIMEOUT_MS || 60000)

let failures = 0
const timings = {}

function check(name, ok, detail) {
  const line = {mode, check: name, ok: Boolean(ok)}
  if (!ok) {
    failures++
    line.detail = detail
  }
  console.log(JSON.stringify(line))
  return Boolean(ok)
}

function fatal(msg) {
  console.error(`a2a_client (${mode}): FAIL: ${msg}`)
  process.exit(1)
}

if (!base) fatal('set AGENTGATE_URL')
if (!['v1', 'v1-rest', 'v03'].includes(mode)) fatal(`unknown A2A_MODE ${mode}`)
const deadline = setTimeout(() => fatal(`not done within ${timeoutMs} ms`), timeoutMs)

const stateName = (s) => TaskState[s] ?? String(s)
const agentBase = (id) => `${base}/a2a/agents/${id}/`

// ---- clients ----

const legacy = {legacyCompat: {enabled: true}}

async function clientFor(agent) {
  if (mode === 'v03') {
    const factory = new ClientFactory(ClientFactoryOptions.createFrom(ClientFactoryOptions.default, {
      cardResolver: new DefaultAgentCardResolver(legacy),
      transports: [new JsonRpcTransportFactory(legacy), new RestTransportFactory(legacy)],
    }))
    const res = await fetch(`${agentBase(agent)}.well-known/agent-card.json`)
    const card = await res.json()
    delete card.supportedInterfaces // what a v0.3-only client reads of the union card
    const client = await factory.createFromAgentCard(card)
    if (client.protocolVersion !== '0.3') fatal(`legacy client speaks ${client.protocolVersion}, want 0.3`)
    return client
  }
  const factory = new ClientFactory(ClientFactoryOptions.createFrom(ClientFactoryOptions.default, {
    preferredTransports: [mode === 'v1-rest' ? 'HTTP+JSON' : 'JSONRPC'],
  }))
  return factory.createFromUrl(agentBase(agent))
}

function message(text, {taskId = '', contextId = '', data} = {}) {
  const part = data !== undefined
    ? {content: {$case: 'data', value: data}, mediaType: '', filename: '', metadata: undefined}
    : {content: {$case: 'text', value: text}, mediaType: 'text/plain', filename: '', metadata: undefined}
  return {
    messageId: crypto.randomUUID(), role: Role.ROLE_USER, parts: [part], taskId, contextId,
    extensions: [], metadata: undefined, referenceTaskIds: [],
  }
}

const request = (msg, configuration) => ({tenant: '', message: msg, configuration, metadata: undefined})

const textOf = (parts) => (parts || []).map((p) => (p.content?.$case === 'text' ? p.content.value : '')).join('')

async function collect(gen) {
  const out = []
  for await (const ev of gen) out.push(ev)
  return out
}

// artifactText rebuilds the "response" artifact from artifact updates.
function artifactText(events) {
  let text = ''
  for (const ev of events) {
    if (ev.payload?.$case !== 'artifactUpdate') continue
    const u = ev.payload.value
    text = (u.append ? text : '') + textOf(u.artifact.parts)
  }
  return text
}

const cases = (events) => events.map((e) => e.payload?.$case)
// taskRef is the task an opening stream event names: v1.0 streams open
// with the task, v0.3 ones with its status (agno's A2A client ends a
// stream at a task frame).
const taskRef = (ev) => {
  const v = ev?.payload?.value
  if (ev?.payload?.$case === 'task') return {id: v.id, contextId: v.contextId}
  if (ev?.payload?.$case === 'statusUpdate') return {id: v.taskId, contextId: v.contextId}
  return undefined
}
const opening = mode === 'v03' ? 'statusUpdate' : 'task'

const lastStatus = (events) => {
  const s = events.filter((e) => e.payload?.$case === 'statusUpdate').pop()
  return s?.payload.value.status
}

async function timed(name, fn) {
  const t0 = performance.now()
  try {
    return await fn()
  } finally {
    timings[name] = Math.round(performance.now() - t0)
  }
}

async function expectError(name, fn, wantName) {
  try {
    await fn()
    check(name, false, `no error, want ${wantName}`)
  } catch (e) {
    check(name, e?.name === wantName, `got ${e?.name}: ${e?.message}`)
  }
}

// ---- the run ----

const assistant = await clientFor('assistant')
const story = await clientFor('story')
const approval = await clientFor('approval-demo')

// 1. Blocking send: the task comes back completed, the answer in the
// "response" artifact.
const sent = await timed('send', () => assistant.sendMessage(request(message('hello there'))))
check('send: a task', sent.id && sent.contextId && sent.status, sent)
check('send: completed', sent.status?.state === TaskState.TASK_STATE_COMPLETED, stateName(sent.status?.state))
const sentText = textOf(sent.artifacts?.[0]?.parts)
check('send: answer artifact', sent.artifacts?.[0]?.artifactId === 'response' && sentText.includes('You said: hello there'), sent.artifacts)

// 1b. A file part (bytes) with the text: the run carries it as a medium,
// listed in the stored run's input.
const notes = Buffer.from(`notes for ${mode}`)
const withFile = message('read the attached notes')
withFile.parts.push({content: {$case: 'raw', value: notes}, mediaType: 'text/plain', filename: 'notes.txt', metadata: undefined})
const filed = await timed('send with a file', () => assistant.sendMessage(request(withFile)))
check('file part: completed', filed.status?.state === TaskState.TASK_STATE_COMPLETED, stateName(filed.status?.state))
const filedRun = await (await fetch(`${base}/agents/assistant/runs/${filed.id}`)).json()
const stored = filedRun?.input?.files?.[0]
check('file part: stored with the run', stored?.name === 'notes.txt' && stored?.mime_type === 'text/plain' && stored?.size === notes.length && stored?.url?.startsWith('/sessions/'), filedRun?.input)
const served = stored?.url ? Buffer.from(await (await fetch(base + stored.url)).arrayBuffer()) : Buffer.alloc(0)
check('file part: served back', served.equals(notes), served.toString())

// 2. Streaming send: the task first, artifact chunks (appending), the end.
const streamed = await timed('stream', () => collect(assistant.sendMessageStream(request(message('stream please', {contextId: sent.contextId})))))
check(`stream: ${opening} first`, streamed[0]?.payload?.$case === opening, cases(streamed))
const streamTask = taskRef(streamed[0])
check('stream: same context', streamTask?.contextId === sent.contextId, streamTask?.contextId)
check('stream: chunks append', streamed.filter((e) => e.payload?.$case === 'artifactUpdate' && e.payload.value.append).length >= 2, cases(streamed))
check('stream: completed last', lastStatus(streamed)?.state === TaskState.TASK_STATE_COMPLETED, cases(streamed))
check('stream: last chunk marked', streamed.some((e) => e.payload?.$case === 'artifactUpdate' && e.payload.value.lastChunk), cases(streamed))
const streamText = artifactText(streamed)
check('stream: artifact text', streamText.includes('You said: stream please'), streamText)

// 3. Get, with a history length.
const got = await assistant.getTask({tenant: '', id: streamTask.id, historyLength: 1})
check('get: completed', got.status?.state === TaskState.TASK_STATE_COMPLETED, stateName(got.status?.state))
check('get: artifact = streamed', textOf(got.artifacts?.[0]?.parts) === streamText, {got: textOf(got.artifacts?.[0]?.parts), streamText})
check('get: historyLength 1', got.history?.length === 1 && got.history[0].role === Role.ROLE_AGENT, got.history)

// 4. List (v1.0 only: v0.3 JSON-RPC has no tasks/list).
if (mode !== 'v03') {
  const list = await assistant.listTasks({tenant: '', contextId: sent.contextId, status: 0, pageToken: '', pageSize: 10, historyLength: 0})
  const ids = list.tasks.map((t) => t.id)
  check('list: the context\'s tasks', ids.includes(sent.id) && ids.includes(streamTask.id) && list.totalSize === 2, list)
}

// 5. Cancel a long task started without waiting.
const slow = await story.sendMessage(request(message('a long story'), {returnImmediately: true, acceptedOutputModes: []}))
check('returnImmediately: working', slow.status?.state === TaskState.TASK_STATE_WORKING || slow.status?.state === TaskState.TASK_STATE_SUBMITTED, stateName(slow.status?.state))
const cancelled = await timed('cancel', () => story.cancelTask({tenant: '', id: slow.id, metadata: undefined}))
check('cancel: canceled', cancelled.status?.state === TaskState.TASK_STATE_CANCELED, stateName(cancelled.status?.state))
await expectError('cancel again: not cancelable', () => story.cancelTask({tenant: '', id: slow.id, metadata: undefined}), 'TaskNotCancelableError')
await expectError('get unknown: not found', () => story.getTask({tenant: '', id: 'no-such-task'}), 'TaskNotFoundError')

// 6. Resubscribe after a dropped stream: read a few events, drop the
// connection, subscribe again; the task outlived the stream and the
// resubscription (served from the event log) brings the whole answer.
const abort = new AbortController()
const dropped = []
let droppedTask
try {
  for await (const ev of story.sendMessageStream(request(message('another story')), {signal: abort.signal})) {
    dropped.push(ev)
    if (!droppedTask) droppedTask = taskRef(ev)
    if (dropped.length >= 4) abort.abort()
  }
} catch (e) {
  if (e?.name !== 'AbortError') check('drop: abort error', false, `${e?.name}: ${e?.message}`)
}
check('drop: got the task', droppedTask?.id, cases(dropped))
const resub = await timed('resubscribe', () => collect(story.resubscribeTask({tenant: '', id: droppedTask.id})))
check('resubscribe: task first', resub[0]?.payload?.$case === 'task' && resub[0].payload.value.id === droppedTask.id, cases(resub))
check('resubscribe: completed last', lastStatus(resub)?.state === TaskState.TASK_STATE_COMPLETED, cases(resub))
const storyTask = await story.getTask({tenant: '', id: droppedTask.id})
check('resubscribe: whole answer', artifactText(resub) === textOf(storyTask.artifacts?.[0]?.parts) && artifactText(resub).length > 40,
  {resub: artifactText(resub), stored: textOf(storyTask.artifacts?.[0]?.parts)})
await expectError('resubscribe terminal: unsupported', () => collect(story.resubscribeTask({tenant: '', id: droppedTask.id})), 'UnsupportedOperationError')

// 7. Input required, confirmed in text: the stream ends at input-required
// (with the tool to confirm in a data part); "yes" on the same task goes on.
const paused = await timed('input-required', () => collect(approval.sendMessageStream(request(message('what is 6*7?')))))
const pausedStatus = lastStatus(paused)
check('hitl: input-required', pausedStatus?.state === TaskState.TASK_STATE_INPUT_REQUIRED, cases(paused))
const ask = pausedStatus?.message?.parts?.find((p) => p.content?.$case === 'data')?.content.value
check('hitl: tools to confirm', ask?.type === 'confirmation_required' && ask.tools?.[0]?.tool_name === 'calculator', ask)
const pausedTask = taskRef(paused[0])
const confirmed = await timed('continue', () => approval.sendMessage(request(message('yes', {taskId: pausedTask.id, contextId: pausedTask.contextId}))))
check('hitl: same task', confirmed.id === pausedTask.id, confirmed.id)
check('hitl: completed', confirmed.status?.state === TaskState.TASK_STATE_COMPLETED, stateName(confirmed.status?.state))
check('hitl: tool ran', textOf(confirmed.artifacts?.[0]?.parts).includes('approved and returned 42'), confirmed.artifacts)
await expectError('hitl: terminal task refuses messages', () => approval.sendMessage(request(message('yes', {taskId: pausedTask.id}))), 'UnsupportedOperationError')

// 8. Input required, rejected in a data part, followed by stream.
const paused2 = await approval.sendMessage(request(message('and again?')))
check('hitl2: input-required (blocking)', paused2.status?.state === TaskState.TASK_STATE_INPUT_REQUIRED, stateName(paused2.status?.state))
const rejected = await collect(approval.sendMessageStream(request(message('', {taskId: paused2.id, data: {confirmed: false, note: 'not now'}}))))
check('hitl2: completed', lastStatus(rejected)?.state === TaskState.TASK_STATE_COMPLETED, cases(rejected))
check('hitl2: rejection note', artifactText(rejected).includes('Note: not now'), artifactText(rejected))

// 9. Push notifications: a webhook receives the task's updates, with the
// config's token; the config can be read, listed and deleted.
const received = []
const hook = http.createServer((req, res) => {
  let body = ''
  req.on('data', (c) => { body += c })
  req.on('end', () => {
    received.push({token: req.headers['x-a2a-notification-token'], auth: req.headers.authorization, body: JSON.parse(body)})
    res.writeHead(200).end()
  })
})
await new Promise((resolve) => hook.listen(0, '127.0.0.1', resolve))
const hookUrl = `http://127.0.0.1:${hook.address().port}/hook`
const pushed = await story.sendMessage(request(message('a pushed story'), {returnImmediately: true, acceptedOutputModes: []}))
const created = await story.createTaskPushNotificationConfig({tenant: '', id: '', taskId: pushed.id, url: hookUrl, token: 'tok-1',
  authentication: {scheme: 'Bearer', credentials: 'hook-secret'}})
check('push: created', created.id && created.taskId === pushed.id && created.url === hookUrl, created)
const fetched = await story.getTaskPushNotificationConfig({tenant: '', taskId: pushed.id, id: created.id})
check('push: get', fetched.id === created.id && fetched.token === 'tok-1', fetched)
const listed = await story.listTaskPushNotificationConfig({tenant: '', taskId: pushed.id, pageSize: 0, pageToken: ''})
check('push: list', listed.configs.length === 1 && listed.configs[0].id === created.id, listed)
await timed('push', async () => {
  for (let i = 0; i < 200; i++) {
    if (received.some((r) => r.body.statusUpdate?.status?.state === 'TASK_STATE_COMPLETED')) return
    await new Promise((r) => setTimeout(r, 50))
  }
})
const final = received.find((r) => r.body.statusUpdate?.status?.state === 'TASK_STATE_COMPLETED')
check('push: final update delivered', final, received.map((r) => Object.keys(r.body)))
check('push: token and authentication', final?.token === 'tok-1' && final?.auth === 'Bearer hook-secret', final)
check('push: artifact chunks delivered', received.filter((r) => r.body.artifactUpdate?.taskId === pushed.id).length >= 2, received.length)
await story.deleteTaskPushNotificationConfig({tenant: '', taskId: pushed.id, id: created.id})
const after = await story.listTaskPushNotificationConfig({tenant: '', taskId: pushed.id, pageSize: 0, pageToken: ''})
check('push: deleted', after.configs.length === 0, after)
hook.close()

clearTimeout(deadline)
console.log(JSON.stringify({mode, summary: true, failures, timings_ms: timings}))
process.exit(failures ? 1 : 0)
