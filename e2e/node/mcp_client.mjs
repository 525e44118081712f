// The official MCP TypeScript SDK (@modelcontextprotocol/sdk) as a real client
// of agentgate's Streamable HTTP endpoint, in its 2025-11-25 session mode:
// initialize (Mcp-Session-Id), tools/list, tools/call with progress, a paused
// run continued with continue_run, a failed run, and a call aborted through
// an AbortSignal (the SDK sends notifications/cancelled), whose run must end
// CANCELLED. The SDK validates every structuredContent against the tool's
// outputSchema, so the schemas are checked too.
//
// Environment:
//   AGENTGATE_URL   gateway base URL (required), e.g. http://127.0.0.1:7777
//   AGENTGATE_TOKEN bearer token (optional)
//   TIMEOUT_MS      overall deadline (default 45000)
//
// Prints one JSON summary line and exits 0; on failure prints the reason to
// stderr and exits 1.

import {Client} from '@modelcontextprotocol/sdk/client/index.js'
import {StreamableHTTPClientTransport} from '@modelcontextprotocol/sdk/client/streamableHttp.js'

const base = (process.env.AGENTGATE_URL || '').replace(/\/+$/, '')
const token = process.env.AGENTGATE_TOKEN || ''
const timeoutMs = Number(process.env.TIMEOUT_MS || 45000)

function fail(msg) {
  console.error(`mcp_client: FAIL: ${msg}`)
  process.exit(1)
}

if (!base) fail('set AGENTGATE_URL to the gateway base URL')
setTimeout(() => fail(`not done within ${timeoutMs} ms`), timeoutMs).unref()

function check(cond, msg) {
  if (!cond) fail(msg)
}

const text = (res) => (res.content || []).filter((c) => c.type === 'text').map((c) => c.text).join('')

const sleep = (ms) => new Promise((r) => setTimeout(r, ms))

async function main() {
  const headers = token ? {Authorization: `Bearer ${token}`} : {}
  const transport = new StreamableHTTPClientTransport(new URL(`${base}/mcp`), {requestInit: {headers}})
  const client = new Client({name: 'agentgate-e2e', version: '0.0.1'})
  await client.connect(transport)
  const summary = {
    session_id: transport.sessionId || '',
    protocol_version: transport.protocolVersion || '',
    server: client.getServerVersion(),
  }
  check(summary.session_id !== '', 'no Mcp-Session-Id after initialize')

  const {tools} = await client.listTools()
  summary.tools = tools.map((t) => t.name).sort()

  // A streamed run: progress messages are the answer's deltas, in order.
  const deltas = []
  let lastProgress = 0
  const done = await client.callTool({name: 'run_agent', arguments: {agent_id: 'story', message: 'tell me'}}, undefined, {
    onprogress: (p) => {
      check(p.progress > lastProgress, `progress did not increase: ${p.progress} after ${lastProgress}`)
      lastProgress = p.progress
      deltas.push(p.message || '')
    },
    timeout: 30000,
  })
  check(!done.isError, `run_agent failed: ${text(done)}`)
  check(done.structuredContent?.status === 'COMPLETED', `run_agent status ${JSON.stringify(done.structuredContent)}`)
  check(deltas.join('') === done.structuredContent.content, `deltas ${JSON.stringify(deltas)} != answer ${done.structuredContent.content}`)
  check(text(done) === done.structuredContent.content, 'text content differs from the answer')
  summary.completed = {run_id: done.structuredContent.run_id, session_id: done.structuredContent.session_id,
    content: done.structuredContent.content, progress: deltas.length}

  // A paused run, continued.
  const paused = await client.callTool({name: 'ask_approval-demo', arguments: {message: 'compute 6*7'}})
  const ps = paused.structuredContent
  check(ps?.status === 'PAUSED' && ps.pending_tools?.length === 1 && ps.continue_run, `paused: ${JSON.stringify(ps)}`)
  const args = {...ps.continue_run, tools: ps.continue_run.tools.map((t) => ({...t, confirmed: true}))}
  const cont = await client.callTool({name: 'continue_run', arguments: args})
  check(cont.structuredContent?.status === 'COMPLETED' && cont.structuredContent.run_id === ps.run_id,
    `continue_run: ${JSON.stringify(cont.structuredContent)}`)
  summary.continued = {run_id: ps.run_id, tool: ps.pending_tools[0].tool_name, content: cont.structuredContent.content}

  // A failed run is an error result.
  const failed = await client.callTool({name: 'run_agent', arguments: {agent_id: 'broken', message: 'hi'}})
  check(failed.isError === true && failed.structuredContent?.status === 'ERROR', `failed run: ${JSON.stringify(failed)}`)
  summary.failed = {run_id: failed.structuredContent.run_id, error: failed.structuredContent.error,
    error_type: failed.structuredContent.error_type, text: text(failed)}

  // Bad arguments are a tool error the model can read.
  const bad = await client.callTool({name: 'run_agent', arguments: {agent_id: 'story'}})
  check(bad.isError === true && /message/.test(text(bad)), `bad arguments: ${JSON.stringify(bad)}`)

  // An aborted call: the SDK sends notifications/cancelled; the run ends.
  const ac = new AbortController()
  let seen = 0
  const aborted = client.callTool({name: 'run_agent', arguments: {agent_id: 'slow', message: 'abort me'}}, undefined, {
    signal: ac.signal,
    onprogress: () => {
      if (++seen === 3) ac.abort('the user stopped it')
    },
    timeout: 30000,
  })
  let abortError = ''
  try {
    await aborted
    fail('the aborted call returned a result')
  } catch (e) {
    abortError = String(e?.message || e)
  }
  // Find the run and wait for its end through the read-only tools.
  let cancelled = null
  for (let i = 0; i < 200 && !cancelled; i++) {
    const page = await client.callTool({name: 'get_sessions', arguments: {component_id: 'slow', limit: 10}})
    for (const s of page.structuredContent?.data || []) {
      const runs = await client.callTool({name: 'get_session_runs', arguments: {session_id: s.session_id}})
      for (const r of runs.structuredContent?.runs || []) {
        if (r.input === 'abort me' && r.status === 'CANCELLED') cancelled = r
      }
    }
    if (!cancelled) await sleep(50)
  }
  check(cancelled, 'the aborted call\'s run did not end CANCELLED')
  summary.cancelled = {run_id: cancelled.run_id, status: cancelled.status, progress_seen: seen, abort_error: abortError}

  await transport.terminateSession()
  await client.close()
  console.log(JSON.stringify(summary))
}

main().then(() => process.exit(0), (e) => fail(e?.stack || String(e)))
