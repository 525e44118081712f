// An A2A agent built on @a2a-js/sdk's server side (DefaultRequestHandler,
// InMemoryTaskStore, the express JSON-RPC handler with v0.3 compatibility),
// for the remote-agent tests: agentgate runs it as a remote agent.
//
//   "slow ..."  streams 100 chunks 100 ms apart (long enough to cancel)
//   "ask ..."   asks for input once (input-required); the reply is answered
//   anything    streams "Hello from A2A." in 5 chunks
//
// It listens on 127.0.0.1:0 and prints {"url": ...} once listening. The
// v1.0 card is /.well-known/agent-card.json (v1.0 and v0.3 JSON-RPC
// interfaces); /v03/agent-card.json is a pure v0.3 card for the same
// endpoint. GET /stats reports the tasks cancelled and the methods called.
import express from 'express';
import { Role, TaskState } from '@a2a-js/sdk';
import { AgentEvent, DefaultRequestHandler, InMemoryTaskStore } from '@a2a-js/sdk/server';
import { agentCardHandler, jsonRpcHandler, UserBuilder } from '@a2a-js/sdk/server/express';

const stats = { cancelled: [], methods: [] };
const cancelled = new Set();
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const textPart = (value) => ({ content: { $case: 'text', value }, mediaType: 'text/plain', filename: '', metadata: undefined });
const agentMessage = (taskId, contextId, text) => ({
  messageId: crypto.randomUUID(), contextId, taskId, role: Role.ROLE_AGENT, parts: [textPart(text)],
  metadata: undefined, extensions: [], referenceTaskIds: [],
});
const status = (taskId, contextId, state, text) => AgentEvent.statusUpdate({
  taskId, contextId, metadata: undefined,
  status: { state, message: text ? agentMessage(taskId, contextId, text) : undefined, timestamp: new Date().toISOString() },
});
const chunk = (taskId, contextId, text, append, lastChunk) => AgentEvent.artifactUpdate({
  taskId, contextId, append, lastChunk, metadata: undefined,
  artifact: { artifactId: 'answer', name: 'answer', description: '', parts: [textPart(text)], metadata: undefined, extensions: [] },
});

const executor = {
  async execute(ctx, bus) {
    const { taskId, contextId } = ctx;
    const msg = ctx.userMessage;
    const text = msg.parts.map((p) => (p.content?.$case === 'text' ? p.content.value : '')).join('');
    const followUp = !!ctx.task;
    bus.publish(AgentEvent.task(ctx.task ?? {
      id: taskId, contextId, artifacts: [], history: [msg], metadata: {},
      status: { state: TaskState.TASK_STATE_SUBMITTED, message: undefined, timestamp: new Date().toISOString() },
    }));
    bus.publish(status(taskId, contextId, TaskState.TASK_STATE_WORKING));
    let pieces;
    if (!followUp && text.startsWith('ask')) {
      bus.publish(status(taskId, contextId, TaskState.TASK_STATE_INPUT_REQUIRED, 'Which city?'));
      bus.finished();
      return;
    } else if (followUp) {
      pieces = ['Sunny ', 'in ', text, '.'];
    } else if (text.startsWith('slow')) {
      pieces = Array.from({ length: 100 }, (_, i) => `w${i} `);
    } else {
      pieces = ['Hello ', 'from ', 'A2A', '.', ''];
    }
    for (let i = 0; i < pieces.length; i++) {
      if (cancelled.has(taskId)) return;
      bus.publish(chunk(taskId, contextId, pieces[i], i > 0, i === pieces.length - 1));
      await sleep(text.startsWith('slow') ? 100 : 20);
    }
    if (cancelled.has(taskId)) return;
    bus.publish(status(taskId, contextId, TaskState.TASK_STATE_COMPLETED));
    bus.finished();
  },
  async cancelTask(taskId, bus) {
    cancelled.add(taskId);
    stats.cancelled.push(taskId);
    bus.publish(status(taskId, '', TaskState.TASK_STATE_CANCELED, 'cancelled by the client'));
    bus.finished();
  },
};

const app = express();
app.use((req, _res, next) => {
  if (req.method === 'POST' && req.path === '/rpc') {
    let body = '';
    req.on('data', (d) => { body += d; });
    req.on('end', () => { try { stats.methods.push(`${JSON.parse(body).method} ${req.get('A2A-Version') ?? ''}`); } catch {} });
  }
  next();
});
const server = app.listen(0, '127.0.0.1', () => {
  const base = `http://127.0.0.1:${server.address().port}`;
  const card = {
    name: 'Node weather', description: 'An @a2a-js/sdk agent', version: '1.0.0',
    supportedInterfaces: [
      { url: `${base}/rpc`, protocolBinding: 'JSONRPC', protocolVersion: '1.0', tenant: '' },
      { url: `${base}/rpc`, protocolBinding: 'JSONRPC', protocolVersion: '0.3', tenant: '' },
    ],
    provider: undefined, capabilities: { streaming: true, pushNotifications: false, extensions: [] },
    securitySchemes: {}, securityRequirements: [], defaultInputModes: ['text/plain'], defaultOutputModes: ['text/plain'],
    skills: [{ id: 'chat', name: 'chat', description: 'chat', tags: ['chat'], examples: [], inputModes: [], outputModes: [], securityRequirements: [] }],
    signatures: [],
  };
  const handler = new DefaultRequestHandler(card, new InMemoryTaskStore(), executor);
  app.use('/.well-known/agent-card.json', agentCardHandler({ agentCardProvider: handler, legacyCompat: { enabled: true } }));
  app.get('/v03/agent-card.json', (_req, res) => res.json({
    name: card.name, description: card.description, version: card.version, url: `${base}/rpc`,
    protocolVersion: '0.3.0', preferredTransport: 'JSONRPC', capabilities: { streaming: true },
    defaultInputModes: ['text/plain'], defaultOutputModes: ['text/plain'], skills: [{ id: 'chat', name: 'chat', description: 'chat', tags: ['chat'] }],
  }));
  app.get('/stats', (_req, res) => res.json(stats));
  app.use('/rpc', jsonRpcHandler({ requestHandler: handler, userBuilder: UserBuilder.noAuthentication, legacyCompat: { enabled: true } }));
  console.log(JSON.stringify({ url: base }));
});
