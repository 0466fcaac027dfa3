'use strict'
// Shared helpers of the interoperability suite: start/stop a fresh
// phx-server, talk to its admin endpoints, drive the official phoenix.js
// client and raw WebSockets. Every wait is bounded; everything binds 127.0.0.1.

const { spawn } = require('node:child_process')
const fs = require('node:fs')
const http = require('node:http')
const https = require('node:https')
const readline = require('node:readline')
const assert = require('node:assert/strict')
const WebSocket = require('ws')
const { Socket, LongPoll } = require('phoenix')

const SERVER_BIN = process.env.PHX_SERVER_BIN
const DEFAULT_WAIT_MS = 5000

// -- the transport under test -----------------------------------------------------

/** The transport phoenix.js sockets use: PHX_INTEROP_TRANSPORT=longpoll or websocket (default). */
const TRANSPORT = process.env.PHX_INTEROP_TRANSPORT || 'websocket'
if (TRANSPORT !== 'websocket' && TRANSPORT !== 'longpoll') {
  throw new Error(`PHX_INTEROP_TRANSPORT must be websocket or longpoll, got ${TRANSPORT}`)
}
const LONGPOLL = TRANSPORT === 'longpoll'

/** node:test options that skip a WebSocket-only case visibly in the long-poll run. */
function wsOnly (why) {
  return LONGPOLL ? { skip: `WebSocket-only: ${why}` } : {}
}

/** node:test options that skip a long-poll-only case visibly in the WebSocket run. */
function longPollOnly (why) {
  return LONGPOLL ? {} : { skip: `long-poll only: ${why}` }
}

/**
 * The close code phoenix.js reports when the server ends the connection with
 * `wsCode`: over long-poll the session is gone and phoenix.js closes with 3410.
 */
function serverCloseCode (wsCode) {
  return LONGPOLL ? 3410 : wsCode
}

// phoenix.js never tells the server it left over long-poll: sessions end by
// expiry, shortened so that leaves show within the tests' waits.
const LONGPOLL_SERVER_ARGS = ['--longpoll-window-ms', '500', '--longpoll-timeout-ms', '1000']

// -- bounded waiting ------------------------------------------------------------

/** Rejects after `ms` with a message naming what was awaited. */
function withTimeout (promise, ms, what) {
  let timer
  const timeout = new Promise((resolve, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms)
  })
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer))
}

/** Polls `check` (for state that has no event, e.g. admin stats) until it returns truthy. */
async function eventually (check, what, ms = DEFAULT_WAIT_MS) {
  const deadline = Date.now() + ms
  let last
  for (let i = 0; Date.now() < deadline && i < 10000; i++) {
    last = await check()
    if (last) return last
    await new Promise(resolve => setTimeout(resolve, 20))
  }
  throw new Error(`timed out after ${ms} ms waiting for ${what} (last: ${JSON.stringify(last)})`)
}

// -- the server process ---------------------------------------------------------

/**
 * Starts `phx-server --host 127.0.0.1 --port 0 ...args` and resolves once it
 * printed its listening line. `ca` (a PEM string) is used for https admin calls.
 */
async function startServer (args = [], { ca } = {}) {
  if (!SERVER_BIN) throw new Error('PHX_SERVER_BIN is not set (run through ctest)')
  if (!fs.existsSync(SERVER_BIN)) throw new Error(`${SERVER_BIN} does not exist: build the phx-server target first`)
  const transportArgs = LONGPOLL && !args.some(a => a.startsWith('--longpoll')) ? LONGPOLL_SERVER_ARGS : []
  const child = spawn(SERVER_BIN, ['--host', '127.0.0.1', '--port', '0', ...transportArgs, ...args], {
    stdio: ['ignore', 'pipe', 'pipe']
  })
  let stderr = ''
  child.stderr.on('data', chunk => {
    stderr += chunk
    if (stderr.length > 200000) stderr = stderr.slice(-100000)
  })
  const exited = new Promise(resolve => child.once('exit', (code, signal) => resolve({ code, signal })))
  const url = await withTimeout(new Promise((resolve, reject) => {
    const lines = readline.createInterface({ input: child.stdout })
    lines.once('line', line => {
      const m = /^listening on (wss?:\/\/127\.0\.0\.1:\d+\/socket)$/.exec(line)
      if (m) resolve(m[1])
      else reject(new Error(`unexpected first line from phx-server: ${line}`))
    })
    exited.then(({ code, signal }) =>
      reject(new Error(`phx-server exited (${code ?? signal}) before listening: ${stderr}`)))
  }), 10000, 'the phx-server listening line').catch(err => {
    child.kill('SIGKILL')
    throw err
  })
  const port = Number(/:(\d+)\/socket$/.exec(url)[1])
  const tls = url.startsWith('wss')
  const server = {
    child,
    url,
    port,
    exited,
    stderr: () => stderr,
    /** GET an admin path; resolves {status, body}. */
    admin: path => httpGet({ port, path, tls, ca }),
    /** SIGTERM, then SIGKILL if it is still running after 10 s; resolves {code, signal}. */
    stop: async () => {
      if (child.exitCode !== null || child.signalCode !== null) return exited
      child.kill('SIGTERM')
      try {
        return await withTimeout(exited, 10000, 'phx-server to exit after SIGTERM')
      } catch (err) {
        child.kill('SIGKILL')
        await exited
        throw err
      }
    }
  }
  return server
}

/**
 * The JSON body of a long-poll GET of `server`'s `path` endpoint with query
 * `params` (vsn 2.0.0 unless given), e.g. `{status: 403}` for a refused connect.
 */
async function longPollGet (server, params = {}, path = '/socket') {
  const query = new URLSearchParams({ vsn: '2.0.0', ...params })
  const res = await httpGet({ port: server.port, path: `${path}/longpoll?${query}` })
  assert.equal(res.status, 200, `long-poll answers are HTTP 200: ${res.body}`)
  return JSON.parse(res.body)
}

/** A tiny HTTP(S) GET against 127.0.0.1 with a 5 s bound. */
function httpGet ({ port, path, tls = false, ca }) {
  const lib = tls ? https : http
  return withTimeout(new Promise((resolve, reject) => {
    // One connection per request: the server closes after each response.
    const req = lib.get({
      host: '127.0.0.1', port, path, ca, agent: false, headers: { connection: 'close' }, timeout: DEFAULT_WAIT_MS
    }, res => {
      let body = ''
      res.setEncoding('utf8')
      res.on('data', d => { body += d })
      res.on('end', () => resolve({ status: res.statusCode, body }))
    })
    req.on('timeout', () => req.destroy(new Error(`GET ${path} timed out`)))
    req.on('error', reject)
  }), DEFAULT_WAIT_MS + 1000, `GET ${path}`)
}

// -- phoenix.js -----------------------------------------------------------------

const trackedSockets = new Set()

/**
 * A phoenix.js Socket for `server` (endpoint path `path`, default /socket)
 * over the transport under test, with fast reconnect/rejoin so that tests
 * stay short. Tracked for cleanup.
 */
function phxSocket (server, { path = '/socket', transport = LONGPOLL ? LongPoll : WebSocket, ...opts } = {}) {
  const endpoint = server.url.replace(/\/socket$/, path)
  const socket = new Socket(endpoint, {
    transport,
    timeout: DEFAULT_WAIT_MS,
    reconnectAfterMs: () => 50,
    rejoinAfterMs: () => 100,
    ...opts
  })
  trackedSockets.add(socket)
  return socket
}

/** Connects and resolves on the first open. */
function connect (socket, ms = DEFAULT_WAIT_MS) {
  const opened = new Promise(resolve => socket.onOpen(resolve))
  socket.connect()
  return withTimeout(opened, ms, `socket ${socket.endPointURL()} to open`)
}

/** Disconnects and resolves when phoenix.js says it is done (bounded). */
function disconnect (socket, ms = DEFAULT_WAIT_MS) {
  trackedSockets.delete(socket)
  return withTimeout(new Promise(resolve => socket.disconnect(resolve)), ms, 'socket disconnect')
    .catch(() => {})
}

/** Disconnects every socket made by `phxSocket` (test cleanup). */
async function disconnectAll () {
  await Promise.all([...trackedSockets].map(s => disconnect(s)))
}

/**
 * Joins `channel`; resolves {status, response} of the first join outcome.
 * Also counts every later ok (rejoins) in `channel.joinOks`.
 */
function join (channel, ms = DEFAULT_WAIT_MS) {
  channel.joinOks = 0
  return withTimeout(new Promise(resolve => {
    channel.join(ms)
      .receive('ok', response => { channel.joinOks++; resolve({ status: 'ok', response }) })
      .receive('error', response => resolve({ status: 'error', response }))
      .receive('timeout', () => resolve({ status: 'timeout' }))
  }), ms + 2000, `join of ${channel.topic}`)
}

/** Pushes and resolves {status, response} ("timeout" included). */
function push (channel, event, payload = {}, ms = DEFAULT_WAIT_MS) {
  return withTimeout(new Promise(resolve => {
    channel.push(event, payload, ms)
      .receive('ok', response => resolve({ status: 'ok', response }))
      .receive('error', response => resolve({ status: 'error', response }))
      .receive('timeout', () => resolve({ status: 'timeout' }))
  }), ms + 2000, `reply to ${event} on ${channel.topic}`)
}

/** Resolves with the payload of the next `event` on `channel`. */
function nextEvent (channel, event, ms = DEFAULT_WAIT_MS) {
  let ref
  return withTimeout(new Promise(resolve => {
    ref = channel.on(event, payload => resolve(payload))
  }), ms, `${event} on ${channel.topic}`).finally(() => channel.off(event, ref))
}

/** Resolves with the next close event of the socket's connection. */
function nextClose (socket, ms = DEFAULT_WAIT_MS) {
  let ref
  return withTimeout(new Promise(resolve => {
    ref = socket.onClose(event => resolve(event))
  }), ms, 'socket close').finally(() => socket.off([ref]))
}

/** Resolves after the socket opened again (a reconnect). */
function nextOpen (socket, ms = DEFAULT_WAIT_MS) {
  let ref
  return withTimeout(new Promise(resolve => {
    ref = socket.onOpen(resolve)
  }), ms, 'socket to open').finally(() => socket.off([ref]))
}

/** Resolves once the channel has been joined `count` times in all. */
function joinedTimes (channel, count, ms = DEFAULT_WAIT_MS) {
  return eventually(() => channel.joinOks >= count && channel.state === 'joined',
    `${channel.topic} joined ${count} times`, ms)
}

/** Text frame bytes as an ArrayBuffer (phoenix.js sends ArrayBuffers as binary). */
function bytes (...values) {
  return new Uint8Array(values).buffer
}

/** An ArrayBuffer as a plain array of numbers (for assertions). */
function toArray (buffer) {
  return Array.from(new Uint8Array(buffer))
}

// -- raw WebSockets -------------------------------------------------------------

const trackedRaw = new Set()

/** A raw WebSocket client that queues every frame for `next`. */
class RawClient {
  /** Opens `url`; rejects with err.status on a refused upgrade. */
  static open (url, { protocols, ...options } = {}) {
    return withTimeout(new Promise((resolve, reject) => {
      const ws = new WebSocket(url, protocols, { maxPayload: 64 * 1024 * 1024, ...options })
      ws.once('open', () => resolve(new RawClient(ws)))
      ws.once('unexpected-response', (req, res) => {
        let body = ''
        res.setEncoding('utf8')
        res.on('data', d => { body += d })
        res.on('end', () => {
          const err = new Error(`upgrade refused with HTTP ${res.statusCode}: ${body.trim()}`)
          err.status = res.statusCode
          err.body = body
          reject(err)
        })
        req.destroy()
      })
      ws.once('error', reject)
    }), DEFAULT_WAIT_MS, `raw connect to ${url}`)
  }

  constructor (ws) {
    this.ws = ws
    this.frames = []
    this.waiters = []
    this.closed = new Promise(resolve => ws.once('close', (code, reason) =>
      resolve({ code, reason: reason.toString() })))
    ws.on('error', () => {}) // surfaced through `closed`
    ws.on('message', (data, isBinary) => {
      const frame = isBinary ? { binary: Buffer.from(data) } : parseText(data.toString())
      this.frames.push(frame)
      this.flush()
    })
    trackedRaw.add(this)
  }

  flush () {
    for (const waiter of [...this.waiters]) {
      const i = this.frames.findIndex(waiter.match)
      if (i >= 0) {
        const [frame] = this.frames.splice(i, 1)
        this.waiters.splice(this.waiters.indexOf(waiter), 1)
        waiter.resolve(frame)
      }
    }
  }

  /** Resolves {code, reason} once the connection closed (bounded). */
  whenClosed (ms = 10000) {
    return withTimeout(this.closed, ms, 'the connection to close')
  }

  /** Sends a JSON value as a text frame. */
  send (value) { this.ws.send(JSON.stringify(value)) }

  /** Sends raw text or bytes. */
  sendRaw (data, binary = false) { this.ws.send(data, { binary }) }

  /** Resolves the next (oldest) queued frame matching `match`, removing it. */
  next (match = () => true, ms = DEFAULT_WAIT_MS, what = 'a frame') {
    return withTimeout(new Promise(resolve => {
      this.waiters.push({ match, resolve })
      this.flush()
    }), ms, what)
  }

  /** Resolves the reply (phx_reply) with `ref`. */
  reply (ref, ms) {
    return this.next(f => f.json && isReplyTo(f.json, ref), ms, `the reply to ref ${ref}`)
  }

  /** Sends a V2 heartbeat with `ref` and resolves its reply: everything sent before it was handled. */
  async sync (ref) {
    this.send([null, ref, 'phoenix', 'heartbeat', {}])
    return this.reply(ref)
  }

  /** Closes (bounded). */
  async close () {
    trackedRaw.delete(this)
    if (this.ws.readyState === WebSocket.OPEN || this.ws.readyState === WebSocket.CONNECTING) this.ws.close()
    await withTimeout(this.closed, DEFAULT_WAIT_MS, 'raw close').catch(() => this.ws.terminate())
  }
}

function parseText (text) {
  try {
    return { text, json: JSON.parse(text) }
  } catch {
    return { text }
  }
}

function isReplyTo (json, ref) {
  if (Array.isArray(json)) return json[3] === 'phx_reply' && json[1] === ref
  return json && json.event === 'phx_reply' && json.ref === ref
}

/** Closes every raw client still open (test cleanup). */
async function closeAllRaw () {
  await Promise.all([...trackedRaw].map(c => c.close()))
}

/** The V2 raw URL of a server endpoint with query `params` (vsn 2.0.0 unless given). */
function rawUrl (server, params = {}, path = '/socket') {
  const query = new URLSearchParams({ vsn: '2.0.0', ...params })
  return server.url.replace(/\/socket$/, path) + '/websocket?' + query
}

module.exports = {
  DEFAULT_WAIT_MS,
  LONGPOLL,
  TRANSPORT,
  RawClient,
  bytes,
  closeAllRaw,
  connect,
  disconnect,
  disconnectAll,
  eventually,
  httpGet,
  join,
  joinedTimes,
  longPollGet,
  longPollOnly,
  nextClose,
  nextEvent,
  nextOpen,
  phxSocket,
  push,
  rawUrl,
  serverCloseCode,
  startServer,
  toArray,
  withTimeout,
  wsOnly
}
