'use strict'
// Frames phoenix.js never sends, checked with raw WebSockets (ws): the
// socket rules of Phoenix.Socket and the handling of malformed input.

const { test, before, after } = require('node:test')
const assert = require('node:assert/strict')
const crypto = require('node:crypto')
const { RawClient, closeAllRaw, rawUrl, startServer, eventually } = require('./harness')

const MAX_CHANNELS = 3
let server

before(async () => { server = await startServer(['--max-channels', String(MAX_CHANNELS)]) })
after(async () => {
  await closeAllRaw()
  const exit = await server.stop()
  assert.equal(exit.code, 0, `phx-server exit: ${JSON.stringify(exit)}\n${server.stderr()}`)
})

const ok = response => ({ status: 'ok', response })
const error = response => ({ status: 'error', response })

async function open (params = {}, path) {
  return RawClient.open(rawUrl(server, params, path))
}

async function joinRaw (client, topic, joinRef, params = {}) {
  client.send([joinRef, joinRef, topic, 'phx_join', params])
  const reply = await client.reply(joinRef)
  assert.deepEqual(reply.json, [joinRef, joinRef, topic, 'phx_reply', ok({ joined: topic })])
}

/** The server still serves a fresh socket: join and echo. */
async function assertServing () {
  const c = await open({ user: 'probe' })
  await joinRaw(c, 'room:probe', '1')
  c.send(['1', '2', 'room:probe', 'echo', { alive: true }])
  assert.deepEqual((await c.reply('2')).json, ['1', '2', 'room:probe', 'phx_reply', ok({ alive: true })])
  await c.close()
  const health = await server.admin('/health')
  assert.deepEqual(health, { status: 200, body: 'ok' })
}

test('heartbeat is answered with a null join_ref, before any routing', async () => {
  const c = await open()
  c.send([null, '5', 'phoenix', 'heartbeat', {}])
  assert.deepEqual((await c.reply('5')).json, [null, '5', 'phoenix', 'phx_reply', ok({})])
  c.send(['99', '6', 'phoenix', 'heartbeat', {}])
  assert.deepEqual((await c.reply('6')).json, [null, '6', 'phoenix', 'phx_reply', ok({})])
  await c.close()
})

test('push to a topic not joined: unmatched topic with a null join_ref; leave: ok', async () => {
  const c = await open()
  c.send(['3', '4', 'room:nojoin', 'echo', {}])
  assert.deepEqual((await c.reply('4')).json,
    [null, '4', 'room:nojoin', 'phx_reply', error({ reason: 'unmatched topic' })])
  c.send(['3', '5', 'room:nojoin', 'phx_leave', {}])
  assert.deepEqual((await c.reply('5')).json, ['3', '5', 'room:nojoin', 'phx_reply', ok({})])
  c.send(['8', '8', 'unknown:topic', 'phx_join', {}])
  assert.deepEqual((await c.reply('8')).json,
    [null, '8', 'unknown:topic', 'phx_reply', error({ reason: 'unmatched topic' })])
  await c.close()
})

test('a message with a stale join_ref is ignored; a null join_ref is accepted', async () => {
  const c = await open()
  await joinRaw(c, 'room:stale', '1')
  c.send(['0', '2', 'room:stale', 'echo', { stale: true }])
  c.send([null, '3', 'room:stale', 'echo', { nil: true }])
  c.send(['1', '4', 'room:stale', 'echo', { current: true }])
  // Replies carry the channel's join_ref; the stale push got nothing.
  assert.deepEqual((await c.reply('3')).json, ['1', '3', 'room:stale', 'phx_reply', ok({ nil: true })])
  assert.deepEqual((await c.reply('4')).json, ['1', '4', 'room:stale', 'phx_reply', ok({ current: true })])
  await c.sync('s1')
  assert.deepEqual(c.frames, [], 'nothing answered the stale push')
  await c.close()
})

test('phx_leave: ok reply, then phx_close with ref = join_ref; a leave with an old join_ref is ignored', async () => {
  const c = await open()
  await joinRaw(c, 'room:leave', '1')
  c.send(['1', '2', 'room:leave', 'phx_leave', {}])
  assert.deepEqual((await c.reply('2')).json, ['1', '2', 'room:leave', 'phx_reply', ok({})])
  assert.deepEqual((await c.next()).json, ['1', '1', 'room:leave', 'phx_close', {}])
  await joinRaw(c, 'room:leave', '3')
  c.send(['1', '4', 'room:leave', 'phx_leave', {}]) // raced a server close: ignored
  c.send(['3', '5', 'room:leave', 'echo', { still: 'joined' }])
  assert.deepEqual((await c.next()).json, ['3', '5', 'room:leave', 'phx_reply', ok({ still: 'joined' })])
  await c.close()
})

test('duplicate join: the new join is answered, then phx_close with the OLD join_ref', async () => {
  const c = await open()
  await joinRaw(c, 'room:dupraw', '1')
  c.send(['5', '5', 'room:dupraw', 'phx_join', {}])
  const first = await c.next()
  const second = await c.next()
  // Phoenix queues the old channel's close behind the new join's reply.
  assert.deepEqual(first.json, ['5', '5', 'room:dupraw', 'phx_reply', ok({ joined: 'room:dupraw' })])
  assert.deepEqual(second.json, ['1', '1', 'room:dupraw', 'phx_close', {}])
  c.send(['1', '6', 'room:dupraw', 'echo', {}]) // the old join_ref is stale now
  c.send(['5', '7', 'room:dupraw', 'echo', { n: 7 }])
  assert.deepEqual((await c.next()).json, ['5', '7', 'room:dupraw', 'phx_reply', ok({ n: 7 })])
  await c.close()
})

test(`more than --max-channels (${MAX_CHANNELS}) channels: too many channels joined`, async () => {
  const c = await open()
  for (let i = 1; i <= MAX_CHANNELS; i++) await joinRaw(c, `room:max${i}`, String(i))
  c.send(['9', '9', 'room:max_extra', 'phx_join', {}])
  assert.deepEqual((await c.reply('9')).json,
    ['9', '9', 'room:max_extra', 'phx_reply', error({ reason: 'too many channels joined' })])
  // Leaving one makes room again.
  c.send(['1', '10', 'room:max1', 'phx_leave', {}])
  await c.reply('10')
  await c.next(f => f.json?.[3] === 'phx_close')
  await joinRaw(c, 'room:max_extra', '11')
  await c.close()
})

test('a pending join (sleep_ms) holds back later frames, as the socket process waits in join/3', async () => {
  const c = await open()
  c.send(['1', '1', 'room:sleepy', 'phx_join', { sleep_ms: 200 }])
  c.send([null, 'hb', 'phoenix', 'heartbeat', {}])
  const first = await c.next()
  const second = await c.next()
  assert.deepEqual(first.json, ['1', '1', 'room:sleepy', 'phx_reply', ok({ joined: 'room:sleepy' })])
  assert.deepEqual(second.json, [null, 'hb', 'phoenix', 'phx_reply', ok({})])
  await c.close()
})

test('join params that are not a map crash the join; bad event payloads crash the channel', async () => {
  const c = await open()
  c.send(['1', '1', 'room:badjoin', 'phx_join', 'not a map'])
  assert.deepEqual((await c.reply('1')).json,
    ['1', '1', 'room:badjoin', 'phx_reply', error({ reason: 'join crashed' })])
  await joinRaw(c, 'room:badpayload', '2')
  c.send(['2', '3', 'room:badpayload', 'delay', { ms: 'soon' }])
  assert.deepEqual((await c.next()).json,
    ['2', '2', 'room:badpayload', 'phx_error', { reason: 'channel_crash' }])
  // Non-map payloads are fine where the channel only echoes them.
  await joinRaw(c, 'room:badpayload', '4')
  c.send(['4', '5', 'room:badpayload', 'echo', [1, 'two', null]])
  assert.deepEqual((await c.reply('5')).json, ['4', '5', 'room:badpayload', 'phx_reply', ok([1, 'two', null])])
  await c.close()
})

test('binary frames: kind 0 push in, kind 1 reply / kind 0 push / kind 2 broadcast out', async () => {
  const c = await open()
  await joinRaw(c, 'room:binraw', '1')
  const push = (ref, event, body) => {
    const meta = ['1', ref, 'room:binraw', event].map(s => Buffer.from(s))
    return Buffer.concat([Buffer.from([0, ...meta.map(m => m.length)]), ...meta, body])
  }
  const body = Buffer.from([1, 2, 3, 0, 255])
  c.sendRaw(push('2', 'bin', body), true)
  const reply = await c.next(f => f.binary)
  const topic = Buffer.from('room:binraw')
  assert.deepEqual(reply.binary, Buffer.concat([Buffer.from([1, 1, 1, topic.length, 2]),
    Buffer.from('1'), Buffer.from('2'), topic, Buffer.from('ok'), body]))
  c.sendRaw(push('3', 'bin_push', body), true)
  const pushed = await c.next(f => f.binary)
  assert.deepEqual(pushed.binary, Buffer.concat([Buffer.from([0, 1, topic.length, 8]),
    Buffer.from('1'), topic, Buffer.from('bin_push'), body]))
  assert.deepEqual((await c.reply('3')).json, ['1', '3', 'room:binraw', 'phx_reply', ok({})])
  c.sendRaw(push('4', 'bin_shout', body), true)
  const shout = await c.next(f => f.binary)
  assert.deepEqual(shout.binary, Buffer.concat([Buffer.from([2, topic.length, 9]),
    topic, Buffer.from('bin_shout'), body]))
  await c.close()
})

test('V1 (no vsn): JSON objects in and out, no join_ref in the server output', async () => {
  const c = await RawClient.open(server.url + '/websocket?user=v1user')
  c.send({ topic: 'room:v1raw', event: 'phx_join', payload: {}, ref: '1', join_ref: '1' })
  const reply = await c.next()
  assert.deepEqual(reply.json, {
    topic: 'room:v1raw', event: 'phx_reply', payload: ok({ joined: 'room:v1raw' }), ref: '1'
  })
  c.send({ topic: 'room:v1raw', event: 'echo', payload: { a: 1 }, ref: '2' })
  assert.deepEqual((await c.next()).json,
    { topic: 'room:v1raw', event: 'phx_reply', payload: ok({ a: 1 }), ref: '2' })
  c.send({ topic: 'phoenix', event: 'heartbeat', payload: {}, ref: '3' })
  assert.deepEqual((await c.next()).json,
    { topic: 'phoenix', event: 'phx_reply', payload: ok({}), ref: '3' })
  await c.close()
})

test('refused upgrades: unknown path 404, token=bad 403, bad vsn 403', async () => {
  await assert.rejects(open({}, '/nope'), err => err.status === 404)
  await assert.rejects(open({ token: 'bad' }), err => err.status === 403)
  await assert.rejects(open({ vsn: '2.1.0' }), err => err.status === 403)
  await assert.rejects(open({ vsn: '' }), err => err.status === 403)
  const stats = await server.admin('/admin/stats')
  assert.equal(stats.status, 200)
})

test('admin: stats, broadcast, 404 and 400 answers', async () => {
  const a = await open({ user: 'statuser' })
  await joinRaw(a, 'room:adminb', '1')
  await eventually(async () => JSON.parse((await server.admin('/admin/stats')).body).user_ids.includes('statuser'),
    'statuser in stats')
  const stats = JSON.parse((await server.admin('/admin/stats')).body)
  assert.ok(stats.transports >= 1)
  const payload = encodeURIComponent(JSON.stringify({ from: 'outside' }))
  assert.equal((await server.admin(`/admin/broadcast?topic=room:adminb&event=news&payload=${payload}`)).status, 200)
  assert.deepEqual((await a.next()).json, [null, null, 'room:adminb', 'news', { from: 'outside' }])
  assert.equal((await server.admin('/admin/broadcast?topic=room:adminb&event=e2')).status, 200)
  assert.deepEqual((await a.next()).json, [null, null, 'room:adminb', 'e2', {}])
  assert.equal((await server.admin('/admin/broadcast?topic=room:adminb&event=x&payload=[1]')).status, 400)
  assert.equal((await server.admin('/admin/broadcast?topic=room:adminb&event=x&payload={')).status, 400)
  assert.equal((await server.admin('/admin/stall?ms=abc')).status, 400)
  assert.equal((await server.admin('/admin/disconnect')).status, 400)
  assert.equal((await server.admin('/admin/disconnect_all?code=1006')).status, 400)
  assert.equal((await server.admin('/admin/nothing')).status, 404)
  assert.equal((await server.admin('/nothing')).status, 404)
  await a.close()
})

// -- malformed input ---------------------------------------------------------------

const MALFORMED_TEXT = [
  ['broken JSON', '["1","1","room:x","phx_join",{'],
  ['not JSON at all', 'hello there'],
  ['an object instead of an array', '{"topic":"room:x","event":"phx_join"}'],
  ['too few elements', '["1","1","room:x","phx_join"]'],
  ['deep nesting', '['.repeat(100000)],
  ['a lone surrogate', '["1","1","room:x","echo",{"s":"\\udc00"}]'],
  ['an empty frame', '']
]

for (const [name, text] of MALFORMED_TEXT) {
  test(`malformed text frame (${name}) closes that socket with 1011, nothing else`, async () => {
    const bystander = await open({ user: 'bystander' })
    await joinRaw(bystander, 'room:bystander', '1')
    const c = await open()
    c.sendRaw(text)
    const closed = await c.whenClosed()
    assert.equal(closed.code, 1011)
    bystander.send(['1', '2', 'room:bystander', 'echo', { fine: true }])
    assert.deepEqual((await bystander.reply('2')).json[4], ok({ fine: true }))
    await bystander.close()
  })
}

// Phoenix's V2 serializer only destructures `[join_ref, ref, topic, event,
// payload | _]` and checks no types: such lists are routed like any message,
// and the answer echoes the fields as they came.
const unmatched = (ref, topic) => [null, ref, topic, 'phx_reply', error({ reason: 'unmatched topic' })]
const LOOSE_TEXT = [
  ['a numeric topic', '["1","1",42,"phx_join",{}]', unmatched('1', 42)],
  ['a numeric ref', '["1",7,"room:x","echo",{}]', unmatched(7, 'room:x')],
  ['a null event', '["1","1","room:x",null,{}]', unmatched('1', 'room:x')],
  ['an object topic on a push', '[null,"1",{"a":[1]},"echo",{}]', unmatched('1', { a: [1] })],
  ['a six-element list with a numeric ref', '[null,8.5,"room:x","echo",{},"extra"]', unmatched(8.5, 'room:x')],
  ['a leave with a numeric topic', '["2","3",42,"phx_leave",{}]', ['2', '3', 42, 'phx_reply', ok({})]],
  ['a heartbeat with a numeric ref', '[5,6,"phoenix","heartbeat",{}]', [null, 6, 'phoenix', 'phx_reply', ok({})]]
]

for (const [name, text, expected] of LOOSE_TEXT) {
  test(`a frame with ${name} is routed as Phoenix does: ${JSON.stringify(expected[4])}`, async () => {
    const c = await open()
    c.sendRaw(text)
    assert.deepEqual((await c.next()).json, expected)
    // The socket stays open and serving.
    assert.deepEqual((await c.sync('s1')).json, [null, 's1', 'phoenix', 'phx_reply', ok({})])
    await c.close()
  })
}

test('a joined topic ignores a message whose join_ref is not a string (stale, as to Phoenix)', async () => {
  const c = await open()
  await joinRaw(c, 'room:loose', '1')
  c.sendRaw('[1,"2","room:loose","echo",{"n":1}]')
  c.send(['1', '3', 'room:loose', 'echo', { n: 3 }])
  assert.deepEqual((await c.next()).json, ['1', '3', 'room:loose', 'phx_reply', ok({ n: 3 })])
  await c.sync('s1')
  assert.deepEqual(c.frames, [])
  await c.close()
})

test('malformed binary frames (random bytes, wrong kind, truncated) close with 1011', async () => {
  const inputs = [
    Buffer.concat([Buffer.from([0xab]), crypto.randomBytes(63)]), // random, no valid kind
    Buffer.from([1, 1, 1, 1, 1, 65, 65, 65, 65]), // kind 1 is server-only
    Buffer.from([0, 5, 5, 20, 20, 65]), // lengths past the end
    Buffer.from([]),
    Buffer.from([0, 1, 1, 1, 1, 0xff, 0xfe, 0xfd, 0xfc]) // fields not UTF-8
  ]
  for (const data of inputs) {
    const c = await open()
    c.sendRaw(data, true)
    const closed = await c.whenClosed()
    assert.equal(closed.code, 1011, `input ${data.toString('hex')}`)
  }
  await assertServing()
})

test('random garbage in volume: the server survives and still serves other sockets', async () => {
  for (let i = 0; i < 30; i++) {
    const c = await open()
    const size = 1 + crypto.randomInt(4096)
    // Half text (websocketpp rejects non-UTF-8 text itself with 1007), half binary.
    // A first byte other than 0 keeps random binary from forming a valid push.
    if (i % 2) c.sendRaw(Buffer.concat([Buffer.from([1 + crypto.randomInt(255)]), crypto.randomBytes(size)]), true)
    else c.sendRaw(crypto.randomBytes(size).toString('base64'))
    const closed = await c.whenClosed()
    assert.ok([1007, 1011].includes(closed.code), `close code ${closed.code}`)
  }
  await assertServing()
})

test('10 MB frames: a valid echo is answered, garbage of that size closes with 1011', async () => {
  const big = 'x'.repeat(10 * 1024 * 1024)
  const c = await open()
  await joinRaw(c, 'room:big', '1')
  c.send(['1', '2', 'room:big', 'echo', { big }])
  const reply = await c.reply('2', 20000)
  assert.equal(reply.json[4].response.big.length, big.length)
  c.sendRaw('[' + big)
  assert.equal((await c.whenClosed()).code, 1011)
  const d = await open()
  d.sendRaw(Buffer.concat([Buffer.from([0xab]), crypto.randomBytes(10 * 1024 * 1024)]), true)
  assert.equal((await d.whenClosed()).code, 1011)
  await assertServing()
})

test('a frame over the 32 MiB message limit is refused (close 1009, or a cut link while it is still sent)', async () => {
  const c = await open()
  c.sendRaw(Buffer.alloc(33 * 1024 * 1024, 0x20), true)
  // The server closes with 1009 at the frame header; if the client is still
  // sending when the TCP connection goes, it only sees 1006.
  assert.ok([1006, 1009].includes((await c.whenClosed()).code))
  await assertServing()
})
