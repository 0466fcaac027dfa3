'use strict'
// SIGTERM drains: sockets with joined channels are closed with 1012 (Service
// Restart), the others with 1000, then phx-server exits 0.

const { test, after } = require('node:test')
const assert = require('node:assert/strict')
const {
  RawClient, closeAllRaw, connect, disconnectAll, join, nextClose, phxSocket, rawUrl, serverCloseCode,
  startServer, withTimeout
} = require('./harness')

after(async () => {
  await disconnectAll()
  await closeAllRaw()
})

test('SIGTERM closes joined sockets with 1012, idle ones with 1000, then exits 0', async () => {
  const server = await startServer()
  try {
    const socket = phxSocket(server, { params: { user: 'drain' }, reconnectAfterMs: () => 60000 })
    await connect(socket)
    const channel = socket.channel('room:drain')
    assert.equal((await join(channel)).status, 'ok')
    const idle = await RawClient.open(rawUrl(server, { user: 'idle' }))
    const joinedRaw = await RawClient.open(rawUrl(server, { user: 'rawjoined' }))
    joinedRaw.send(['1', '1', 'presence:drain', 'phx_join', {}])
    await joinedRaw.reply('1')

    const phxClosed = nextClose(socket, 10000)
    server.child.kill('SIGTERM')
    assert.equal((await phxClosed).code, serverCloseCode(1012))
    assert.equal((await joinedRaw.whenClosed()).code, 1012)
    assert.equal((await idle.whenClosed()).code, 1000)
    const exit = await withTimeout(server.exited, 10000, 'phx-server exit')
    assert.deepEqual(exit, { code: 0, signal: null }, server.stderr())
  } finally {
    await disconnectAll()
    await server.stop()
  }
})

test('SIGTERM with no sockets exits 0 at once', async () => {
  const server = await startServer()
  server.child.kill('SIGTERM')
  const exit = await withTimeout(server.exited, 10000, 'phx-server exit')
  assert.deepEqual(exit, { code: 0, signal: null }, server.stderr())
})
