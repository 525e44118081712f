// @a2a-js/sdk as a real client of a team's and a workflow's A2A endpoints
// (/a2a/teams/{id}, /a2a/workflows/{id}), in one protocol generation:
// A2A_MODE v1 (1.0, JSON-RPC) or v03 (0.3, a legacy client reading the
// union card). The team pauses on its member (input-required naming it),
// a "yes" message continues it; the workflow streams to completion.
//
// Environment:
//   AGENTGATE_URL  gateway base URL (required)
//   A2A_MODE       v1 (default) or v03
//   TIMEOUT_MS     overall deadline (default 30000)
//
// Prints one JSON summary line and exits 0; on failure exits 1.

import {Role, TaskState} from '@a2a-js/sdk'
import {
  ClientFactory, ClientFactoryOptions, DefaultAgentCardResolver, JsonRpcTransportFactory, RestTransportFactory,
} from '@a2a-js/sdk/client'

const base = (process.env.AGENTGATE_URL || '').replace(/\/+$/, '')
const mode = process.env.A2A_MODE || 'v1'
const timeoutMs = Number(process.env.TIMEOUT_MS || 30000)
function fail(msg) {
  console.error(`a2a_runnables (${mode}): FAIL: ${msg}`)
  process.exit(1)
}
if (!base) fail('set AGENTGATE_URL')
setTimeout(() => fail(`not done within ${timeoutMs} ms`), timeoutMs).unref()
const check = (ok, msg) => { if (!ok) fail(msg) }
const stateName = (s) => TaskState[s] ?? String(s)
const legacy = {legacyCompat: {enabled: true}}

async function clientFor(path) {
  const url = `${base}${path}/`
  if (mode === 'v03') {
    const factory = new ClientFactory(ClientFactoryOptions.createFrom(ClientFactoryOptions.default, {
      cardResolver: new DefaultAgentCardResolver(legacy),
      transports: [new JsonRpcTransportFactory(legacy), new RestTransportFactory(legacy)],
    }))
    const card = await (await fetch(`${url}.well-known/agent-card.json`)).json()
    delete card.supportedInterfaces
    const client = await factory.createFromAgentCard(card)
    check(client.protocolVersion === '0.3', `legacy client speaks ${client.protocolVersion}`)
    return {client, card}
  }
  const card = await (await fetch(`${url}.well-known/agent-card.json`)).json()
  const factory = new ClientFactory(ClientFactoryOptions.createFrom(ClientFactoryOptions.default, {preferredTransports: ['JSONRPC']}))
  return {client: await factory.createFromUrl(url), card}
}

function message(text, {taskId = '', contextId = ''} = {}) {
  return {
    messageId: crypto.randomUUID(), role: Role.ROLE_USER, taskId, contextId, extensions: [], metadata: undefined, referenceTaskIds: [],
    parts: [{content: {$case: 'text', value: text}, mediaType: 'text/plain', filename: '', metadata: undefined}],
  }
}
const request = (msg) => ({tenant: '', message: msg, configuration: undefined, metadata: undefined})
const textOf = (parts) => (parts || []).map((p) => (p.content?.$case === 'text' ? p.content.value : '')).join('')
async function collect(gen) {
  const out = []
  for await (const ev of gen) out.push(ev)
  return out
}
const lastStatus = (evs) => evs.filter((e) => e.payload?.$case === 'statusUpdate').pop()?.payload.value.status
function artifactText(evs) {
  let text = ''
  for (const ev of evs) {
    if (ev.payload?.$case !== 'artifactUpdate') continue
    const u = ev.payload.value
    text = (u.append ? text : '') + textOf(u.artifact.parts)
  }
  return text
}
const taskRef = (ev) => {
  const v = ev?.payload?.value
  if (ev?.payload?.$case === 'task') return {id: v.id, contextId: v.contextId}
  if (ev?.payload?.$case === 'statusUpdate') return {id: v.taskId, contextId: v.contextId}
  return undefined
}

const summary = {mode}

// The team: paused by its member, continued by a message.
const team = await clientFor('/a2a/teams/crew')
summary.team_card = team.card.name
const first = await collect(team.client.sendMessageStream(request(message('go'))))
const st = lastStatus(first)
check(st && stateName(st.state).includes('INPUT_REQUIRED'), `team stream ended ${st && stateName(st.state)}`)
const data = (st.message?.parts || []).find((p) => p.content?.$case === 'data')?.content.value
check(data?.tools?.[0]?.member_agent_id === 'approver', `input-required data ${JSON.stringify(data)}`)
const ref = taskRef(first[0])
const done = await team.client.sendMessage(request(message('yes', {taskId: ref.id, contextId: ref.contextId})))
const task = done.id ? done : done.task ?? done
check(stateName(task.status?.state).includes('COMPLETED'), `team after yes: ${stateName(task.status?.state)}`)
const teamText = (task.artifacts || []).map((a) => textOf(a.parts)).join('')
check(teamText === 'echo: echo: go\napprover: approved', `team answer ${JSON.stringify(teamText)}`)
summary.team = {task_id: ref.id, member: data.tools[0].member_agent_id, content: teamText}

// The workflow: streamed to completion.
const wf = await clientFor('/a2a/workflows/pipeline')
summary.workflow_card = wf.card.name
const evs = await collect(wf.client.sendMessageStream(request(message('flow'))))
const ws = lastStatus(evs)
check(ws && stateName(ws.state).includes('COMPLETED'), `workflow ended ${ws && stateName(ws.state)}`)
summary.workflow = {task_id: taskRef(evs[0]).id, content: artifactText(evs)}
check(summary.workflow.content === 'echo: echo: flow', `workflow answer ${JSON.stringify(summary.workflow.content)}`)

console.log(JSON.stringify(summary))
process.exit(0)
