'use strict'
// The channel events of SCENARIOS.md driven by the official phoenix.js client.

const { test, before, after } = require('node:test')
const assert = require('node:assert/strict')
const {
  LONGPOLL, RawClient, bytes, closeAllRaw, connect, disconnect, disconnectAll, join, joinedTimes,
  longPollGet, longPollOnly, nextEvent, phxSocket, push, rawUrl, startServer, toArray, wsOnly
} = require('./harness')

let server

before(async () => { server = await startServer() })
after(async () => {
  await disconnectAll()
  await closeAllRaw()
  const exit = await server.stop()
  assert.equal(exit.code, 0, `phx-server exit: ${JSON.stringify(exit)}\n${server.stderr()}`)
})

async function joined (topic, params = {}, socketOpts = {}) {
  const socket = phxSocket(server, { params: { user: 'alice' }, ...socketOpts })
  await connect(socket)
  const channel = socket.channel(topic, params)
  const res = await join(channel)
  assert.deepEqual(res, { status: 'ok', response: { joined: topic } })
  return { socket, channel }
}

test('join ok replies {joined: topic}', async () => {
  const { socket, channel } = await joined('room:join_ok')
  assert.equal(channel.state, 'joined')
  await disconnect(socket)
})

test('join with fail: true is refused with reason denied', async () => {
  const socket = phxSocket(server)
  await connect(socket)
  const channel = socket.channel('room:denied', { fail: true })
  const res = await join(channel)
  assert.deepEqual(res, { status: 'error', response: { reason: 'denied' } })
  channel.leave()
  await disconnect(socket)
})

test('join with sleep_ms is answered after the delay', async () => {
  const socket = phxSocket(server)
  await connect(socket)
  const channel = socket.channel('room:slow', { sleep_ms: 300 })
  const started = Date.now()
  const res = await join(channel)
  assert.deepEqual(res, { status: 'ok', response: { joined: 'room:slow' } })
  // The server cannot answer before its timer; only a lower bound is checked.
  assert.ok(Date.now() - started >= 250, `joined after ${Date.now() - started} ms`)
  await disconnect(socket)
})

test('echo replies ok with the payload; echo_error replies error with it', async () => {
  const { socket, channel } = await joined('room:echo')
  const payload = { text: 'héllo', n: 42, nested: { list: [1, 2, { x: null }] } }
  assert.deepEqual(await push(channel, 'echo', payload), { status: 'ok', response: payload })
  assert.deepEqual(await push(channel, 'echo_error', payload), { status: 'error', response: payload })
  await disconnect(socket)
})

test('noreply gives no reply: the push times out', async () => {
  const { socket, channel } = await joined('room:noreply')
  assert.deepEqual(await push(channel, 'noreply', {}, 300), { status: 'timeout' })
  // The channel is still fine afterwards.
  assert.equal((await push(channel, 'echo', { after: true })).status, 'ok')
  await disconnect(socket)
})

test('shout reaches every member including the sender; shout_others skips the sender', async () => {
  const a = await joined('room:shout')
  const b = await joined('room:shout')
  const gotA = nextEvent(a.channel, 'shout')
  const gotB = nextEvent(b.channel, 'shout')
  assert.deepEqual(await push(a.channel, 'shout', { msg: 'all' }), { status: 'ok', response: {} })
  assert.deepEqual(await gotA, { msg: 'all' })
  assert.deepEqual(await gotB, { msg: 'all' })

  const seenByA = []
  const ref = a.channel.on('shout', p => seenByA.push(p))
  const othersB = nextEvent(b.channel, 'shout')
  assert.deepEqual(await push(a.channel, 'shout_others', { msg: 'others' }), { status: 'ok', response: {} })
  assert.deepEqual(await othersB, { msg: 'others' })
  // Ordering proof that A got nothing: a shout sent after it reaches A first.
  const marker = nextEvent(a.channel, 'shout')
  await push(b.channel, 'shout', { msg: 'marker' })
  assert.deepEqual(await marker, { msg: 'marker' })
  assert.deepEqual(seenByA, [{ msg: 'marker' }])
  a.channel.off('shout', ref)
  await disconnect(a.socket)
  await disconnect(b.socket)
})

test('crash sends phx_error {reason: channel_crash} and phoenix.js rejoins by itself', async () => {
  const { socket, channel } = await joined('room:crash')
  const firstJoinRef = channel.joinRef()
  const errored = new Promise(resolve => channel.onError(reason => resolve(reason)))
  push(channel, 'crash', {}, 500) // no reply: the channel dies
  assert.deepEqual(await errored, { reason: 'channel_crash' })
  await joinedTimes(channel, 2)
  assert.notEqual(channel.joinRef(), firstJoinRef)
  assert.deepEqual(await push(channel, 'echo', { again: 1 }), { status: 'ok', response: { again: 1 } })
  await disconnect(socket)
})

test('kick replies {kicked: true} then closes the channel', async () => {
  const { socket, channel } = await joined('room:kick')
  const closed = new Promise(resolve => channel.onClose(resolve))
  assert.deepEqual(await push(channel, 'kick'), { status: 'ok', response: { kicked: true } })
  await closed
  assert.equal(channel.state, 'closed')
  assert.ok(!socket.channels.includes(channel), 'a closed channel leaves the socket')
  await disconnect(socket)
})

test('kick_noreply closes the channel without a reply', async () => {
  const { socket, channel } = await joined('room:kick_noreply')
  const closed = new Promise(resolve => channel.onClose(resolve))
  const reply = push(channel, 'kick_noreply', {}, 300)
  await closed
  assert.equal(channel.state, 'closed')
  assert.deepEqual(await reply, { status: 'timeout' })
  await disconnect(socket)
})

test('flood pushes n events in order, then replies {n}', async () => {
  const { socket, channel } = await joined('room:flood')
  const seen = []
  channel.on('flood', p => seen.push(p.i))
  const res = await push(channel, 'flood', { n: 500 })
  assert.deepEqual(res, { status: 'ok', response: { n: 500 } })
  // The reply comes after the pushes on the same connection.
  assert.deepEqual(seen, Array.from({ length: 500 }, (_, k) => k + 1))
  await disconnect(socket)
})

test('push_later replies ok, then pushes the event later (default event "later")', async () => {
  const { socket, channel } = await joined('room:later')
  const custom = nextEvent(channel, 'custom_evt')
  assert.deepEqual(await push(channel, 'push_later', { ms: 100, event: 'custom_evt', payload: { x: 1 } }),
    { status: 'ok', response: {} })
  assert.deepEqual(await custom, { x: 1 })
  const dflt = nextEvent(channel, 'later')
  assert.deepEqual(await push(channel, 'push_later', { ms: 10 }), { status: 'ok', response: {} })
  assert.deepEqual(await dflt, {})
  await disconnect(socket)
})

test('delay replies with the payload after ms, and later events wait behind it', async () => {
  const { socket, channel } = await joined('room:delay')
  const order = []
  const slow = push(channel, 'delay', { ms: 200, tag: 'slow' }).then(r => { order.push('delay'); return r })
  const fast = push(channel, 'echo', { tag: 'fast' }).then(r => { order.push('echo'); return r })
  assert.deepEqual(await slow, { status: 'ok', response: { ms: 200, tag: 'slow' } })
  assert.deepEqual(await fast, { status: 'ok', response: { tag: 'fast' } })
  assert.deepEqual(order, ['delay', 'echo'])
  await disconnect(socket)
})

test('info describes the socket and the channel', async () => {
  const { socket, channel } = await joined('room:info', { hello: 'world' }, {
    params: { user: 'alice', extra: 'x y' }
  })
  const res = await push(channel, 'info')
  assert.equal(res.status, 'ok')
  assert.equal(res.response.user_id, 'alice')
  assert.equal(res.response.topic, 'room:info')
  assert.equal(res.response.join_ref, channel.joinRef())
  assert.equal(res.response.serializer, 'Phoenix.Socket.V2.JSONSerializer')
  assert.deepEqual(res.response.connect_params, { user: 'alice', extra: 'x y', vsn: '2.0.0' })
  assert.deepEqual(res.response.join_params, { hello: 'world' })
  await disconnect(socket)
})

test('info: the user id is "anon" when no user param is given', async () => {
  const socket = phxSocket(server)
  await connect(socket)
  const channel = socket.channel('room:anon')
  assert.deepEqual(await join(channel), { status: 'ok', response: { joined: 'room:anon' } })
  const res = await push(channel, 'info')
  assert.equal(res.status, 'ok')
  assert.equal(res.response.user_id, 'anon')
  assert.deepEqual(res.response.connect_params, { vsn: '2.0.0' })
  await disconnect(socket)
})

test('authToken travels in the subprotocol (long-poll: x-phoenix-authtoken) and reaches connect_info', async () => {
  // Its base64 holds '+'; ws (like browsers) refuses '/' in a subprotocol.
  const { socket, channel } = await joined('room:token', {}, { authToken: 'token>>?' })
  if (!LONGPOLL) assert.equal(socket.conn.protocol, 'phoenix')
  const res = await push(channel, 'info')
  assert.deepEqual(res.response.connect_info, { auth_token: 'token>>?' })
  await disconnect(socket)
})

test('binary: bin replies with the same bytes, bin_push pushes them, bin_shout broadcasts them',
  wsOnly('a poll answer is JSON text; binary frames are dropped (see the long-poll case)'), async () => {
  const a = await joined('room:bin')
  const b = await joined('room:bin')
  const data = bytes(0, 1, 2, 250, 255, 10, 13)
  const res = await push(a.channel, 'bin', data)
  assert.equal(res.status, 'ok')
  assert.ok(res.response instanceof ArrayBuffer, 'binary reply is an ArrayBuffer')
  assert.deepEqual(toArray(res.response), toArray(data))

  const pushed = nextEvent(a.channel, 'bin_push')
  assert.deepEqual(await push(a.channel, 'bin_push', data), { status: 'ok', response: {} })
  const got = await pushed
  assert.ok(got instanceof ArrayBuffer)
  assert.deepEqual(toArray(got), toArray(data))

  const toA = nextEvent(a.channel, 'bin_shout')
  const toB = nextEvent(b.channel, 'bin_shout')
  assert.deepEqual(await push(a.channel, 'bin_shout', data), { status: 'ok', response: {} })
  assert.deepEqual(toArray(await toA), toArray(data))
  assert.deepEqual(toArray(await toB), toArray(data))
  await disconnect(a.socket)
  await disconnect(b.socket)
})

test('binary over long-poll: the request reaches the server, the binary reply is dropped (push times out)',
  longPollOnly('binary frames work over WebSocket (see the binary case)'), async () => {
  const { socket, channel } = await joined('room:lpbin')
  // A real Phoenix 1.7 cannot JSON-encode the binary reply either: phoenix.js sees a timeout.
  assert.deepEqual(await push(channel, 'bin', bytes(1, 2, 3), 500), { status: 'timeout' })
  assert.deepEqual(await push(channel, 'echo', { after: 'bin' }), { status: 'ok', response: { after: 'bin' } })
  await disconnect(socket)
})

test('an unknown event gets an error reply naming it', async () => {
  const { socket, channel } = await joined('room:unknown')
  assert.deepEqual(await push(channel, 'no_such_event', {}),
    { status: 'error', response: { reason: 'unknown event', event: 'no_such_event' } })
  await disconnect(socket)
})

test('a refused connect (token=bad) is HTTP 403 and phoenix.js never opens', async () => {
  if (LONGPOLL) assert.deepEqual(await longPollGet(server, { token: 'bad' }), { status: 403 })
  else await assert.rejects(RawClient.open(rawUrl(server, { token: 'bad' })), err => err.status === 403)
  const socket = phxSocket(server, { params: { token: 'bad' }, reconnectAfterMs: () => 60000 })
  const errored = new Promise(resolve => socket.onError(resolve))
  let opened = false
  socket.onOpen(() => { opened = true })
  socket.connect()
  await errored
  assert.equal(opened, false)
  assert.equal(socket.isConnected(), false)
  await disconnect(socket)
})

test('an unsupported vsn is HTTP 403', async () => {
  if (LONGPOLL) {
    assert.deepEqual(await longPollGet(server, { vsn: '3.0.0' }), { status: 403 })
    assert.deepEqual(await longPollGet(server, { vsn: 'garbage' }), { status: 403 })
    return
  }
  await assert.rejects(RawClient.open(rawUrl(server, { vsn: '3.0.0' })), err => err.status === 403)
  await assert.rejects(RawClient.open(rawUrl(server, { vsn: 'garbage' })), err => err.status === 403)
})

test('vsn 1.0.0: V1 JSON objects work with phoenix.js given a V1 encoder',
  wsOnly('phoenix.js applies custom encode/decode to WebSocket only'), async () => {
  const v1 = {
    vsn: '1.0.0',
    encode: (msg, callback) => callback(JSON.stringify(msg)),
    decode: (raw, callback) => callback(JSON.parse(raw))
  }
  const { socket, channel } = await joined('room:v1', {}, { params: { user: 'vee' }, ...v1 })
  assert.deepEqual(await push(channel, 'echo', { v: 1 }), { status: 'ok', response: { v: 1 } })
  const info = await push(channel, 'info')
  assert.equal(info.response.serializer, 'Phoenix.Socket.V1.JSONSerializer')
  assert.equal(info.response.connect_params.vsn, '1.0.0')
  await disconnect(socket)
})

test('joining an unmatched topic is refused with unmatched topic', async () => {
  const socket = phxSocket(server)
  await connect(socket)
  const channel = socket.channel('nowhere:1')
  assert.deepEqual(await join(channel), { status: 'error', response: { reason: 'unmatched topic' } })
  channel.leave()
  await disconnect(socket)
})

test('a second channel on the same topic replaces the first (duplicate join)', async () => {
  const { socket, channel } = await joined('room:dup')
  const first = channel
  const second = socket.channel('room:dup')
  const res = await join(second)
  assert.deepEqual(res, { status: 'ok', response: { joined: 'room:dup' } })
  assert.equal(first.state, 'closed')
  assert.deepEqual(await push(second, 'echo', { n: 2 }), { status: 'ok', response: { n: 2 } })
  await disconnect(socket)
})

test('heartbeats are answered (phoenix.js ping and periodic heartbeat)',
  wsOnly('phoenix.js sends no heartbeat over long-poll'), async () => {
  const socket = phxSocket(server, { heartbeatIntervalMs: 100 })
  await connect(socket)
  const heartbeatReplies = []
  socket.onMessage(msg => {
    if (msg.topic === 'phoenix' && msg.event === 'phx_reply') heartbeatReplies.push(msg)
  })
  const rtt = await new Promise((resolve, reject) => {
    if (!socket.ping(resolve)) reject(new Error('ping refused: not connected'))
  })
  assert.ok(rtt >= 0)
  const { eventually } = require('./harness')
  await eventually(() => heartbeatReplies.length >= 3, 'three heartbeat replies')
  for (const msg of heartbeatReplies) {
    assert.equal(msg.join_ref, null)
    assert.deepEqual(msg.payload, { status: 'ok', response: {} })
  }
  await disconnect(socket)
})
