// A real third-party WebSocket client (the `ws` npm package) against a
// running agentgate's /ws: a chat, two runs multiplexed on one socket, a
// reconnect + subscribe with last_event_index that must yield exactly the
// missing events, malformed frames answered with error frames on a socket
// that stays usable, and a slow consumer closed with 1013 whose run is then
// resumed on a new socket.
//
// Environment:
//   AGENTGATE_WS_URL  the gateway's WebSocket URL (required), e.g. ws://127.0.0.1:7777/ws
//   TIMEOUT_MS        overall deadline (default 60000)
// Agents expected: quick (short reply), story (paced reply), hose (a few MB
// of output at once; the gateway's ws.slow_consumer_timeout is short).
//
// Exits 0 and prints one JSON summary line on success; exits 1 on failure.

import WebSocket from 'ws'

const url = process.env.AGENTGATE_WS_URL || ''
const timeoutMs = Number(process.env.TIMEOUT_MS || 60000)

function fail(msg) {
  console.error(`ws_chat: FAIL: ${msg}`)
  process.exit(1)
}
if (!url) fail('set AGENTGATE_WS_URL')
setTimeout(() => fail(`not done within ${timeoutMs} ms`), timeoutMs).unref()

const TERMINAL = new Set(['RunCompleted', 'RunError', 'RunCancelled', 'RunPaused'])

// Client wraps a socket: frames arrive in a queue that next() reads.
class Client {
  static async open() {
    const c = new Client(new WebSocket(url))
    await new Promise((resolve, reject) => {
      c.ws.once('open', resolve)
      c.ws.once('error', reject)
    })
    const hello = await c.next()
    if (hello.event !== 'connected') fail(`first frame ${JSON.stringify(hello)}`)
    return c
  }

  constructor(ws) {
    this.ws = ws
    this.queue = []
    this.waiters = []
    this.closed = null // {code, reason} once closed
    ws.on('message', (data, isBinary) => {
      if (isBinary) fail('binary frame from the server')
      this.push({frame: JSON.parse(data.toString('utf8')), raw: data.toString('utf8')})
    })
    ws.on('close', (code, reason) => {
      this.closed = {code, reason: reason.toString()}
      this.push(null)
    })
    ws.on('error', () => {}) // a close follows
  }

  push(item) {
    const w = this.waiters.shift()
    if (w) w(item)
    else this.queue.push(item)
  }

  // next resolves with the next frame, or null once the socket closed.
  async next(ms = 20000) {
    const item = this.queue.length ? this.queue.shift() : await new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`no frame within ${ms} ms`)), ms)
      this.waiters.push((it) => { clearTimeout(t); resolve(it) })
    })
    if (item === null) {
      this.queue.unshift(null) // stay closed
      return null
    }
    this.lastRaw = item.raw
    return item.frame
  }

  async expect(event) {
    const f = await this.next()
    if (!f || f.event !== event) fail(`got ${JSON.stringify(f)}, want a ${event} frame (closed: ${JSON.stringify(this.closed)})`)
    return f
  }

  send(v) { this.ws.send(typeof v === 'string' ? v : JSON.stringify(v)) }

  // untilEnd reads one run's events from index first to its segment's end.
  async untilEnd(runId, first) {
    const out = []
    for (;;) {
      const f = await this.next()
      if (!f) fail(`socket closed while following ${runId}: ${JSON.stringify(this.closed)}`)
      if (f.run_id !== runId || f.event_index !== first + out.length) {
        fail(`following ${runId} from ${first}: got ${JSON.stringify(f).slice(0, 200)} after ${out.length} events`)
      }
      out.push(f)
      if (TERMINAL.has(f.event)) return out
    }
  }

  close() { this.ws.close(1000, 'bye') }
  drop() { this.ws.terminate() } // no close frame: a network drop
}

const summary = {}

// 1. Chat.
{
  const c = await Client.open()
  c.send({action: 'ping', id: 'p'})
  const pong = await c.expect('pong')
  if (pong.id !== 'p') fail(`pong ${JSON.stringify(pong)}`)
  c.send({action: 'start', id: 1, agent_id: 'quick', message: 'hello from node'})
  const ack = await c.expect('ack')
  if (ack.id !== 1 || ack.action !== 'start' || !ack.run_id) fail(`ack ${JSON.stringify(ack)}`)
  const evs = await c.untilEnd(ack.run_id, 0)
  const last = evs[evs.length - 1]
  const content = evs.filter((e) => e.event === 'RunContent').map((e) => e.content).join('')
  if (last.event !== 'RunCompleted' || content !== last.content || !content.includes('hello from node')) {
    fail(`chat: ${evs.map((e) => e.event)} content ${JSON.stringify(content)}`)
  }
  summary.chat = {run_id: ack.run_id, events: evs.length, content}
  c.close()
}

// 2. Two runs multiplexed on one socket.
{
  const c = await Client.open()
  c.send({action: 'start', id: 'a', agent_id: 'story', message: 'one'})
  c.send({action: 'start', id: 'b', agent_id: 'story', message: 'two'})
  const next = new Map()
  const order = []
  let ended = 0
  while (ended < 2) {
    const f = await c.next()
    if (!f) fail('socket closed during the multiplexed runs')
    if (f.event === 'ack') { next.set(f.run_id, 0); continue }
    if (!next.has(f.run_id) || f.event_index !== next.get(f.run_id)) fail(`multiplex: unexpected ${JSON.stringify(f).slice(0, 200)}`)
    next.set(f.run_id, f.event_index + 1)
    order.push(f.run_id)
    if (f.event === 'RunCompleted') ended++
  }
  let switches = 0
  for (let i = 1; i < order.length; i++) if (order[i] !== order[i - 1]) switches++
  if (next.size !== 2 || switches < 2) fail(`multiplex: ${next.size} runs, ${switches} switches`)
  summary.multiplex = {runs: next.size, events: [...next.values()], switches}
  c.close()
}

// 3. Reconnect + subscribe with last_event_index: exactly the missing events.
{
  const c = await Client.open()
  c.send({action: 'start', id: 'bg', agent_id: 'story', message: 'tell me', background: true})
  const ack = await c.expect('ack')
  const before = []
  while (before.length < 5) before.push(await c.next())
  c.drop()
  await new Promise((r) => setTimeout(r, 300))
  const c2 = await Client.open()
  const lastIndex = before[before.length - 1].event_index
  c2.send({action: 'subscribe', id: 're', run_id: ack.run_id, last_event_index: lastIndex})
  const sack = await c2.expect('ack')
  if (sack.run_id !== ack.run_id || sack.last_event_index !== lastIndex) fail(`subscribe ack ${JSON.stringify(sack)}`)
  const after = await c2.untilEnd(ack.run_id, lastIndex + 1)
  const all = [...before, ...after]
  all.forEach((e, i) => { if (e.event_index !== i) fail(`resume: event ${i} has index ${e.event_index}`) })
  if (all[all.length - 1].event !== 'RunCompleted') fail(`resume ended with ${all[all.length - 1].event}`)
  summary.resume = {run_id: ack.run_id, before: before.length, after: after.length, total: all.length}
  c2.close()
}

// 4. Malformed frames: error frames, the socket stays usable.
{
  const c = await Client.open()
  c.send('this is not json')
  const e1 = await c.expect('error')
  c.send({action: 'fly', id: 'x'})
  const e2 = await c.expect('error')
  c.ws.send(Buffer.from([1, 2, 3]), {binary: true})
  const e3 = await c.expect('error')
  c.send({action: 'start', id: 'y', agent_id: 'quick'})
  const e4 = await c.expect('error')
  for (const e of [e1, e2, e3, e4]) if (e.code !== 'invalid') fail(`malformed: ${JSON.stringify(e)}`)
  if (e2.id !== 'x' || e4.id !== 'y' || e4.action !== 'start') fail(`malformed: ids not echoed: ${JSON.stringify([e2, e4])}`)
  c.send({action: 'ping', id: 'still'})
  const pong = await c.expect('pong')
  if (pong.id !== 'still') fail(`pong ${JSON.stringify(pong)}`)
  summary.malformed = {errors: [e1, e2, e3, e4].map((e) => e.detail)}
  c.close()
}

// 5. A slow consumer is closed with 1013; its run goes on and is resumed.
{
  const c = await Client.open()
  c.send({action: 'start', id: 's', agent_id: 'hose', message: 'go'})
  const ack = await c.expect('ack')
  c.ws.pause() // stop reading from the socket
  await new Promise((r) => setTimeout(r, 2500))
  c.ws.resume()
  let last = -1
  for (;;) {
    const f = await c.next()
    if (!f) break
    if (f.event_index !== last + 1) fail(`slow: index ${f.event_index} after ${last}`)
    last = f.event_index
  }
  if (!c.closed || c.closed.code !== 1013) fail(`slow consumer closed with ${JSON.stringify(c.closed)}, want 1013`)
  const c2 = await Client.open()
  c2.send({action: 'subscribe', id: 'r', run_id: ack.run_id, last_event_index: last})
  await c2.expect('ack')
  const rest = await c2.untilEnd(ack.run_id, last + 1)
  const end = rest[rest.length - 1]
  if (end.event !== 'RunCompleted') fail(`slow: resumed run ended with ${end.event}`)
  summary.slow = {close_code: c.closed.code, reason: c.closed.reason, last_before_close: last, resumed_to: end.event_index}
  c2.close()
}

console.log(JSON.stringify(summary))
process.exit(0)
