// The official MCP TypeScript SDK (@modelcontextprotocol/sdk) calling an
// agent whose run produced media: the tool result must carry them as image,
// audio and embedded-resource content blocks, which the SDK validates
// against its result schema.
//
// Environment:
//   AGENTGATE_URL   gateway base URL (required)
//   AGENT_ID        the agent to run (default chart)
//   TIMEOUT_MS      overall deadline (default 45000)
//
// Prints one JSON line: the result's content blocks (type, mimeType, data
// or blob base64, uri) and exits 0; on failure prints the reason and exits 1.

import {Client} from '@modelcontextprotocol/sdk/client/index.js'
import {StreamableHTTPClientTransport} from '@modelcontextprotocol/sdk/client/streamableHttp.js'

const base = (process.env.AGENTGATE_URL || '').replace(/\/+$/, '')
const agent = process.env.AGENT_ID || 'chart'
const timeoutMs = Number(process.env.TIMEOUT_MS || 45000)

function fail(msg) {
  console.error(`mcp_media: FAIL: ${msg}`)
  process.exit(1)
}

if (!base) fail('set AGENTGATE_URL to the gateway base URL')
setTimeout(() => fail(`not done within ${timeoutMs} ms`), timeoutMs).unref()

async function main() {
  const transport = new StreamableHTTPClientTransport(new URL(`${base}/mcp`))
  const client = new Client({name: 'agentgate-e2e-media', version: '0.0.1'})
  await client.connect(transport)
  const res = await client.callTool({name: 'run_agent', arguments: {agent_id: agent, message: 'draw'}}, undefined, {timeout: 30000})
  if (res.isError) fail(`run_agent failed: ${JSON.stringify(res.content)}`)
  const blocks = (res.content || []).map((c) => {
    switch (c.type) {
      case 'image':
      case 'audio':
        return {type: c.type, mimeType: c.mimeType, data: c.data}
      case 'resource':
        return {type: c.type, mimeType: c.resource.mimeType, uri: c.resource.uri, data: c.resource.blob || ''}
      case 'resource_link':
        return {type: c.type, mimeType: c.mimeType, uri: c.uri}
      default:
        return {type: c.type, text: c.text}
    }
  })
  console.log(JSON.stringify({status: res.structuredContent?.status, session_id: res.structuredContent?.session_id, blocks}))
  await client.close()
}

main().catch((e) => fail(e?.stack || String(e)))
