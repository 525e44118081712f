// The official MCP TypeScript SDK calling run_team and run_workflow on
// agentgate's Streamable HTTP endpoint: the team pauses on its member, and
// continue_run goes on with it. The SDK validates every structuredContent
// against the tool's outputSchema.
//
// Environment:
//   AGENTGATE_URL  gateway base URL (required)
//   TIMEOUT_MS     overall deadline (default 30000)
// Runnables expected: team crew (echo then approver), workflow pipeline.
//
// Prints one JSON summary line and exits 0; on failure exits 1.

import {Client} from '@modelcontextprotocol/sdk/client/index.js'
import {StreamableHTTPClientTransport} from '@modelcontextprotocol/sdk/client/streamableHttp.js'

const base = (process.env.AGENTGATE_URL || '').replace(/\/+$/, '')
const timeoutMs = Number(process.env.TIMEOUT_MS || 30000)
function fail(msg) {
  console.error(`mcp_team: FAIL: ${msg}`)
  process.exit(1)
}
if (!base) fail('set AGENTGATE_URL')
setTimeout(() => fail(`not done within ${timeoutMs} ms`), timeoutMs).unref()
const check = (ok, msg) => { if (!ok) fail(msg) }

const client = new Client({name: 'agentgate-e2e-team', version: '0.0.1'})
await client.connect(new StreamableHTTPClientTransport(new URL(`${base}/mcp`)))
const {tools} = await client.listTools()
const names = tools.map((t) => t.name)
check(names.includes('run_team') && names.includes('run_workflow'), `tools ${names}`)

const paused = await client.callTool({name: 'run_team', arguments: {team_id: 'crew', message: 'go'}})
const p = paused.structuredContent
check(!paused.isError && p?.status === 'PAUSED' && p.team_id === 'crew', `run_team ${JSON.stringify(paused)}`)
const args = {...p.continue_run, tools: p.continue_run.tools.map((t) => ({...t, confirmed: true}))}
const done = await client.callTool({name: 'continue_run', arguments: args})
const d = done.structuredContent
check(!done.isError && d?.status === 'COMPLETED' && d.team_id === 'crew', `continue_run ${JSON.stringify(done)}`)

const wf = await client.callTool({name: 'run_workflow', arguments: {workflow_id: 'pipeline', message: 'flow'}})
check(!wf.isError && wf.structuredContent?.status === 'COMPLETED', `run_workflow ${JSON.stringify(wf)}`)
await client.close()
console.log(JSON.stringify({tools: names.sort(), team: {run_id: p.run_id, pending: p.pending_tools.length, content: d.content},
  workflow: {run_id: wf.structuredContent.run_id, workflow_id: wf.structuredContent.workflow_id, content: wf.structuredContent.content}}))
process.exit(0)
