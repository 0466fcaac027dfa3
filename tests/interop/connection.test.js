'use strict'
// Connection-level behaviour with phoenix.js: idle timeout, server-side
// disconnects, cut links and a stalled (half-open) link, each followed by
// phoenix.js reconnecting and rejoining where Phoenix clients do. These tests
// act on every socket of their server, so they run in order on their own one.

const { test, before, after } = require('node:test')
const assert = require('node:assert/strict')
const {
  LONGPOLL, RawClient, closeAllRaw, connect, disconnect, disconnectAll, eventually, join, joinedTimes,
  nextClose, nextOpen, phxSocket, push, rawUrl, serverCloseCode, startServer, wsOnly
} = require('./harness')
const { LongPoll } = require('phoenix')
const WebSocket = require('ws')

let server

before(async () => { server = await startServer() })
after(async () => {
  await disconnectAll()
  await closeAllRaw()
  const exit = await server.stop()
  assert.equal(exit.code, 0, `phx-server exit: ${JSON.stringify(exit)}\n${server.stderr()}`)
})

async function joinedSocket (user, topic, opts = {}) {
  const socket = phxSocket(server, { params: { user }, ...opts })
  await connect(socket)
  const channel = socket.channel(topic)
  assert.equal((await join(channel)).status, 'ok')
  return { socket, channel }
}

async function transports () {
  return JSON.parse((await server.admin('/admin/stats')).body)
}

test('/short/socket closes a silent socket after its 3 s idle timeout (code 1002)',
  wsOnly('idle timeout of the WebSocket transport'), async () => {
  const c = await RawClient.open(rawUrl(server, {}, '/short/socket'))
  const started = Date.now()
  const closed = await c.whenClosed(10000)
  assert.equal(closed.code, 1002)
  assert.ok(Date.now() - started >= 2500, `closed after ${Date.now() - started} ms`)
})

test('/short/socket stays open while phoenix.js heartbeats (any inbound frame resets the timeout)',
  wsOnly('heartbeats and the idle timeout are WebSocket-only'), async () => {
  const socket = phxSocket(server, { path: '/short/socket', heartbeatIntervalMs: 400 })
  await connect(socket)
  let closes = 0
  socket.onClose(() => { closes++ })
  let replies = 0
  socket.onMessage(msg => { if (msg.topic === 'phoenix') replies++ })
  // 9 heartbeats 400 ms apart span 3.6 s, past the 3 s timeout.
  await eventually(() => replies >= 9, '9 heartbeat replies', 15000)
  assert.equal(closes, 0)
  assert.ok(socket.isConnected())
  await disconnect(socket)
})

test('--idle-timeout-ms: /socket closes a phoenix.js socket that sends nothing (1002), not one that heartbeats',
  wsOnly('heartbeats and the idle timeout are WebSocket-only'), async () => {
  // A server of its own: the 500 ms timeout would close the other tests' sockets.
  const IDLE_MS = 500
  const idle = await startServer(['--idle-timeout-ms', String(IDLE_MS)])
  try {
    // Silent: the first heartbeat would only go out after 60 s.
    const silent = phxSocket(idle, { heartbeatIntervalMs: 60000, reconnectAfterMs: () => 60000 })
    await connect(silent)
    const started = Date.now()
    const closed = await nextClose(silent, 5000)
    const after = Date.now() - started
    assert.equal(closed.code, 1002)
    assert.ok(after >= IDLE_MS - 100, `closed after ${after} ms`)
    await disconnect(silent)

    // Heartbeating every 150 ms: open past four idle timeouts.
    const beating = phxSocket(idle, { heartbeatIntervalMs: 150 })
    await connect(beating)
    let closes = 0
    beating.onClose(() => { closes++ })
    let replies = 0
    beating.onMessage(msg => { if (msg.topic === 'phoenix') replies++ })
    await eventually(() => replies >= 14, '14 heartbeat replies', 10000)
    assert.equal(closes, 0)
    assert.ok(beating.isConnected())
    await disconnect(beating)
  } finally {
    await disconnectAll()
    const exit = await idle.stop()
    assert.equal(exit.code, 0, `phx-server exit: ${JSON.stringify(exit)}\n${idle.stderr()}`)
  }
})

test('disconnect_all closes every socket with 1000; phoenix.js 1.8.16 reconnects and rejoins', async () => {
  // phoenix.js up to 1.8.12 stayed down after a 1000 close; 1.8.13+ reconnects
  // after any close it did not ask for (the pinned client is 1.8.16).
  const a = await joinedSocket('alice', 'room:d1000')
  const b = await joinedSocket('bob', 'room:d1000')
  const raw = await RawClient.open(rawUrl(server, { user: 'rawuser' }))
  const closedA = nextClose(a.socket)
  const closedB = nextClose(b.socket)
  const reopened = nextOpen(a.socket)
  assert.equal((await server.admin('/admin/disconnect_all')).status, 200)
  assert.equal((await closedA).code, serverCloseCode(1000))
  assert.equal((await closedB).code, serverCloseCode(1000))
  assert.equal((await raw.whenClosed()).code, 1000)
  await reopened
  await joinedTimes(a.channel, 2)
  await joinedTimes(b.channel, 2)
  assert.deepEqual(await push(a.channel, 'echo', { back: true }), { status: 'ok', response: { back: true } })
  await disconnect(a.socket)
  await disconnect(b.socket)
  await eventually(async () => (await transports()).transports === 0, 'no transports left')
})

test('disconnect_all?code=1001 (Phoenix 1.8.8+): phoenix.js reconnects and rejoins', async () => {
  const { socket, channel } = await joinedSocket('alice', 'room:d1001')
  const closed = nextClose(socket)
  const reopened = nextOpen(socket)
  assert.equal((await server.admin('/admin/disconnect_all?code=1001')).status, 200)
  assert.equal((await closed).code, serverCloseCode(1001))
  await reopened
  await joinedTimes(channel, 2)
  assert.deepEqual(await push(channel, 'echo', { back: true }), { status: 'ok', response: { back: true } })
  await disconnect(socket)
})

test('disconnect?user=ID closes only that user\'s sockets', async () => {
  const bob = await joinedSocket('bob', 'room:duser')
  const carol = await joinedSocket('carol', 'room:duser')
  const bobClosed = nextClose(bob.socket)
  let carolCloses = 0
  carol.socket.onClose(() => { carolCloses++ })
  assert.equal((await server.admin('/admin/disconnect?user=bob&code=1001')).status, 200)
  assert.equal((await bobClosed).code, serverCloseCode(1001))
  // Ordering proof: carol's socket answers after bob's close.
  assert.deepEqual(await push(carol.channel, 'echo', { still: 'here' }),
    { status: 'ok', response: { still: 'here' } })
  assert.equal(carolCloses, 0)
  await disconnect(bob.socket)
  await disconnect(carol.socket)
})

test('kill_all cuts TCP without a close frame (1006): phoenix.js reconnects and rejoins', async () => {
  const { socket, channel } = await joinedSocket('dave', 'room:kill')
  const closed = nextClose(socket)
  const reopened = nextOpen(socket)
  assert.equal((await server.admin('/admin/kill_all')).status, 200)
  // Over long-poll the held poll is cut (phoenix.js: 1011), or, between two
  // polls, the next one finds the session gone (3410).
  const code = (await closed).code
  if (LONGPOLL) assert.ok([1011, 3410].includes(code), `close code ${code}`)
  else assert.equal(code, 1006)
  await reopened
  await joinedTimes(channel, 2)
  assert.deepEqual(await push(channel, 'echo', { after: 'kill' }), { status: 'ok', response: { after: 'kill' } })
  await disconnect(socket)
})

test('stall: phoenix.js times out its heartbeat, reconnects, and rejoins once the link answers',
  wsOnly('phoenix.js sends no heartbeat over long-poll'), async () => {
  const { socket, channel } = await joinedSocket('erin', 'room:stall', { heartbeatIntervalMs: 250, timeout: 1000 })
  const errors = []
  channel.onError(reason => errors.push(reason))
  const closed = nextClose(socket, 10000)
  assert.equal((await server.admin('/admin/stall?ms=1500')).status, 200)
  // phoenix.js closes with 1000 itself after a heartbeat timeout, then reconnects.
  assert.equal((await closed).code, 1000)
  await joinedTimes(channel, 2, 15000)
  assert.ok(errors.some(e => e && e.reason === 'heartbeat_timeout'), JSON.stringify(errors))
  assert.deepEqual(await push(channel, 'echo', { after: 'stall' }), { status: 'ok', response: { after: 'stall' } })
  await disconnect(socket)
})

test('kill_longpoll ends the long-poll session: phoenix.js closes with 3410, opens a new one and rejoins', async () => {
  const { socket, channel } = await joinedSocket('gina', 'room:lpkill', { transport: LongPoll })
  const closed = nextClose(socket)
  const reopened = nextOpen(socket)
  assert.equal((await server.admin('/admin/kill_longpoll?user=gina')).status, 200)
  assert.equal((await closed).code, 3410)
  await reopened
  await joinedTimes(channel, 2)
  assert.deepEqual(await push(channel, 'echo', { after: 'kill' }), { status: 'ok', response: { after: 'kill' } })
  await disconnect(socket)
})

test('longPollFallbackMs: the WebSocket upgrade of /nows/socket is refused, phoenix.js falls back to long-poll', async () => {
  const { socket, channel } = await joinedSocket('hana', 'room:fallback',
    { path: '/nows/socket', transport: WebSocket, longPollFallbackMs: 2000 })
  assert.equal(socket.transport, LongPoll)
  assert.deepEqual(await push(channel, 'echo', { via: 'fallback' }), { status: 'ok', response: { via: 'fallback' } })
  await disconnect(socket)
})
