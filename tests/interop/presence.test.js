'use strict'
// presence:* with phoenix.js's Presence between two sockets, plus the exact
// wire shape of presence_state / presence_diff read with a raw socket.

const { test, before, after } = require('node:test')
const assert = require('node:assert/strict')
const { Presence } = require('phoenix')
const {
  RawClient, closeAllRaw, connect, disconnect, disconnectAll, eventually, join, phxSocket,
  push, rawUrl, startServer, wsOnly
} = require('./harness')

let server

before(async () => { server = await startServer() })
after(async () => {
  await disconnectAll()
  await closeAllRaw()
  const exit = await server.stop()
  assert.equal(exit.code, 0, `phx-server exit: ${JSON.stringify(exit)}\n${server.stderr()}`)
})

/** A joined presence channel of `user` with a phoenix.js Presence tracking it. */
async function member (topic, user, meta) {
  const socket = phxSocket(server, { params: { user } })
  await connect(socket)
  const channel = socket.channel(topic, meta ? { meta } : {})
  const presence = new Presence(channel)
  const events = { joins: [], leaves: [], syncs: 0 }
  presence.onJoin((key, current, joined) => events.joins.push({ key, current, joined }))
  presence.onLeave((key, current, left) => events.leaves.push({ key, current, left }))
  presence.onSync(() => { events.syncs++ })
  const res = await join(channel)
  assert.deepEqual(res, { status: 'ok', response: { joined: topic } })
  return { socket, channel, presence, events }
}

/** Users and their metas as phoenix.js's Presence lists them. */
function listed (presence) {
  const out = {}
  presence.list((key, { metas }) => { out[key] = metas })
  return out
}

test('presence state, join, update_meta and leave reach every member through phoenix.js Presence', async () => {
  const topic = 'presence:lobby'
  const alice = await member(topic, 'alice', { device: 'laptop' })
  await eventually(() => Object.keys(listed(alice.presence)).length === 1, 'alice to see herself')
  const aliceMetas = listed(alice.presence).alice
  assert.equal(aliceMetas.length, 1)
  assert.equal(aliceMetas[0].device, 'laptop')
  assert.match(aliceMetas[0].online_at, /^\d+$/)
  assert.equal(typeof aliceMetas[0].phx_ref, 'string')

  // bob joins: alice learns it from a diff, bob from his presence_state.
  const bob = await member(topic, 'bob')
  await eventually(() => listed(alice.presence).bob, 'alice to see bob')
  await eventually(() => listed(bob.presence).alice && listed(bob.presence).bob, 'bob to see both')
  assert.deepEqual(Object.keys(listed(bob.presence)).sort(), ['alice', 'bob'])
  const bobRef = listed(alice.presence).bob[0].phx_ref

  // update_meta: a leave of the old meta plus a join of the new one.
  alice.events.joins.length = 0
  assert.deepEqual(await push(bob.channel, 'update_meta', { status: 'away' }), { status: 'ok', response: {} })
  await eventually(() => listed(alice.presence).bob?.[0]?.status === 'away', 'alice to see bob away')
  const bobMetas = listed(alice.presence).bob
  assert.equal(bobMetas.length, 1, 'the update replaced the meta')
  assert.equal(bobMetas[0].phx_ref_prev, bobRef)
  assert.notEqual(bobMetas[0].phx_ref, bobRef)
  const update = alice.events.joins.find(j => j.key === 'bob')
  assert.ok(update, 'onJoin fired for the update')
  assert.equal(update.current.metas[0].phx_ref, bobRef, 'onJoin saw the previous meta as current')

  // list replies with the current presences.
  const listedByServer = await push(alice.channel, 'list')
  assert.equal(listedByServer.status, 'ok')
  assert.deepEqual(Object.keys(listedByServer.response).sort(), ['alice', 'bob'])
  assert.equal(listedByServer.response.bob.metas[0].status, 'away')

  // bob leaves: alice sees the leave.
  alice.events.leaves.length = 0
  bob.channel.leave()
  await eventually(() => !listed(alice.presence).bob, 'alice to see bob leave')
  assert.equal(alice.events.leaves.length, 1)
  assert.equal(alice.events.leaves[0].key, 'bob')
  assert.deepEqual(Object.keys(listed(alice.presence)), ['alice'])
  await disconnect(bob.socket)
  await disconnect(alice.socket)
})

test('two sockets of one user are two metas under one key; a closed socket leaves', async () => {
  const topic = 'presence:multi'
  const watcher = await member(topic, 'watcher')
  const one = await member(topic, 'carol')
  const two = await member(topic, 'carol')
  await eventually(() => listed(watcher.presence).carol?.length === 2, 'two metas for carol')
  await disconnect(one.socket)
  await eventually(() => listed(watcher.presence).carol?.length === 1, 'one meta left for carol')
  await disconnect(two.socket)
  await eventually(() => !listed(watcher.presence).carol, 'carol gone')
  await disconnect(watcher.socket)
})

test('a crashed channel is untracked (leave diff) and its rejoin tracks anew', async () => {
  const topic = 'presence:crash'
  const watcher = await member(topic, 'watcher')
  const dave = await member(topic, 'dave')
  await eventually(() => listed(watcher.presence).dave, 'dave tracked')
  const firstRef = listed(watcher.presence).dave[0].phx_ref
  push(dave.channel, 'crash', {}, 500)
  await eventually(() => {
    const metas = listed(watcher.presence).dave
    return metas && metas.length === 1 && metas[0].phx_ref !== firstRef
  }, 'dave re-tracked after the automatic rejoin')
  await disconnect(dave.socket)
  await disconnect(watcher.socket)
})

test('presence:* answers echo with the payload and an unknown event with an error naming it', async () => {
  const alice = await member('presence:events', 'alice')
  const payload = { text: 'héllo', n: 7, nested: { list: [1, null] } }
  assert.deepEqual(await push(alice.channel, 'echo', payload), { status: 'ok', response: payload })
  assert.deepEqual(await push(alice.channel, 'no_such_event', { x: 1 }),
    { status: 'error', response: { reason: 'unknown event', event: 'no_such_event' } })
  // Still joined and tracked afterwards.
  assert.equal(alice.channel.state, 'joined')
  assert.deepEqual(Object.keys((await push(alice.channel, 'list')).response), ['alice'])
  await disconnect(alice.socket)
})

test('wire shape: presence_state after the join reply, presence_diff as Phoenix.Presence sends it',
  wsOnly('raw WebSocket frames (checked in the WebSocket run)'), async () => {
  const topic = 'presence:wire'
  const a = await RawClient.open(rawUrl(server, { user: 'erin' }))
  a.send(['1', '1', topic, 'phx_join', { meta: { role: 'admin' } }])
  const reply = await a.reply('1')
  assert.deepEqual(reply.json, ['1', '1', topic, 'phx_reply', { status: 'ok', response: { joined: topic } }])
  const state = await a.next(f => f.json?.[3] === 'presence_state')
  assert.equal(state.json[0], '1', 'presence_state carries the join_ref')
  assert.equal(state.json[1], null)
  const erinMeta = state.json[4].erin.metas[0]
  assert.deepEqual(Object.keys(erinMeta).sort(), ['online_at', 'phx_ref', 'role'])
  const ownDiff = await a.next(f => f.json?.[3] === 'presence_diff')
  assert.deepEqual(ownDiff.json.slice(0, 3), [null, null, topic])
  assert.deepEqual(ownDiff.json[4], { joins: { erin: { metas: [erinMeta] } }, leaves: {} })

  const b = await RawClient.open(rawUrl(server, { user: 'frank' }))
  b.send(['7', '7', topic, 'phx_join', {}])
  await b.reply('7')
  const bState = await b.next(f => f.json?.[3] === 'presence_state')
  assert.deepEqual(Object.keys(bState.json[4]).sort(), ['erin', 'frank'])
  const frankJoin = await a.next(f => f.json?.[3] === 'presence_diff')
  const frankMeta = frankJoin.json[4].joins.frank.metas[0]
  assert.deepEqual(frankJoin.json[4].leaves, {})

  b.send(['7', '8', topic, 'update_meta', { typing: true }])
  assert.deepEqual((await b.reply('8')).json[4], { status: 'ok', response: {} })
  const update = await a.next(f => f.json?.[3] === 'presence_diff')
  const joined = update.json[4].joins.frank.metas[0]
  assert.deepEqual(update.json[4].leaves, { frank: { metas: [frankMeta] } })
  assert.equal(joined.typing, true)
  assert.equal(joined.phx_ref_prev, frankMeta.phx_ref)
  assert.notEqual(joined.phx_ref, frankMeta.phx_ref)

  await b.close()
  const left = await a.next(f => f.json?.[3] === 'presence_diff')
  assert.deepEqual(left.json[4], { joins: {}, leaves: { frank: { metas: [joined] } } })
  await a.close()
})
