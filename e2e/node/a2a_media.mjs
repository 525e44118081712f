// The real A2A client (@a2a-js/sdk) reads the media a run produced: the
// chart agent's tool answers an image, a WAV and a CSV, which come back as
// file parts of the task's "media" artifact in a blocking send, a stream
// and a GetTask. Modes as a2a_client.mjs: v1 (JSON-RPC), v1-rest
// (HTTP+JSON), v03 (JSON-RPC, the SDK's legacyCompat mode).
//
// Environment: AGENTGATE_URL (required), A2A_MODE, TIMEOUT_MS.
// Prints one JSON line: {mode, status, send, stream, get}, each a list of
// the media artifact's parts {case, data (base64) | url, mediaType,
// filename}; e2e/tool_media_test.go checks them.

import {Role, TaskState} from '@a2a-js/sdk'
import {
  ClientFactory, ClientFactoryOptions, DefaultAgentCardResolver, JsonRpcTransportFactory, RestTransportFactory,
} from '@a2a-js/sdk/client'

const base = (process.env.AGENTGATE_URL || '').replace(/\/+$/, '')
const mode = process.env.A2A_MODE || 'v1'
const timeoutMs = Number(process.env.TIMEOUT_MS || 60000)

function fatal(msg) {
  console.error(`a2a_media (${mode}): FAIL: ${msg}`)
  process.exit(1)
}
if (!base) fatal('set AGENTGATE_URL')
const deadline = setTimeout(() => fatal(`not done within ${timeoutMs} ms`), timeoutMs)
const agentBase = `${base}/a2a/agents/chart/`

async function client() {
  if (mode === 'v03') {
    const legacy = {legacyCompat: {enabled: true}}
    const factory = new ClientFactory(ClientFactoryOptions.createFrom(ClientFactoryOptions.default, {
      cardResolver: new DefaultAgentCardResolver(legacy),
      transports: [new JsonRpcTransportFactory(legacy), new RestTransportFactory(legacy)],
    }))
    const card = await (await fetch(`${agentBase}.well-known/agent-card.json`)).json()
    delete card.supportedInterfaces
    const c = await factory.createFromAgentCard(card)
    if (c.protocolVersion !== '0.3') fatal(`legacy client speaks ${c.protocolVersion}`)
    return c
  }
  const factory = new ClientFactory(ClientFactoryOptions.createFrom(ClientFactoryOptions.default, {
    preferredTransports: [mode === 'v1-rest' ? 'HTTP+JSON' : 'JSONRPC'],
  }))
  return factory.createFromUrl(agentBase)
}

const request = (text) => ({
  tenant: '', metadata: undefined, configuration: undefined,
  message: {
    messageId: crypto.randomUUID(), role: Role.ROLE_USER, taskId: '', contextId: '', extensions: [], metadata: undefined, referenceTaskIds: [],
    parts: [{content: {$case: 'text', value: text}, mediaType: 'text/plain', filename: '', metadata: undefined}],
  },
})

// parts lists a media artifact's parts as plain JSON.
const parts = (art) => (art?.parts || []).map((p) => {
  const c = p.content || {}
  const out = {case: c.$case, mediaType: p.mediaType, filename: p.filename}
  if (c.$case === 'raw') out.data = Buffer.from(c.value).toString('base64')
  else if (c.$case === 'url') out.url = c.value
  return out
})
const mediaOf = (arts) => (arts || []).find((a) => a.artifactId === 'media')

const c = await client()
const sent = await c.sendMessage(request('draw'))
if (sent.status?.state !== TaskState.TASK_STATE_COMPLETED) fatal(`send: ${JSON.stringify(sent.status)}`)
let streamed
for await (const ev of c.sendMessageStream(request('draw again'))) {
  if (ev.payload?.$case === 'artifactUpdate' && ev.payload.value.artifact.artifactId === 'media') streamed = ev.payload.value.artifact
}
const got = await c.getTask({tenant: '', id: sent.id, historyLength: 0})
clearTimeout(deadline)
console.log(JSON.stringify({mode, status: TaskState[got.status?.state], sessionId: sent.contextId,
  send: parts(mediaOf(sent.artifacts)), stream: parts(streamed), get: parts(mediaOf(got.artifacts))}))
