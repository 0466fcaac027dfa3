'use strict'
// TLS: a certificate made at test time with the openssl CLI; phx-server with
// --tls-cert/--tls-key serves wss:// (and https admin) on the same port.

const { test, before, after } = require('node:test')
const assert = require('node:assert/strict')
const { execFileSync } = require('node:child_process')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const WebSocket = require('ws')
const {
  RawClient, closeAllRaw, connect, disconnect, disconnectAll, join, phxSocket, push, rawUrl,
  startServer
} = require('./harness')

let server
let dir
let ca

before(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'phx-interop-tls-'))
  const key = path.join(dir, 'key.pem')
  const cert = path.join(dir, 'cert.pem')
  execFileSync('openssl', [
    'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-sha256', '-days', '1',
    '-keyout', key, '-out', cert, '-subj', '/CN=127.0.0.1',
    '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost'
  ], { stdio: 'pipe', timeout: 30000 })
  ca = fs.readFileSync(cert, 'utf8')
  server = await startServer(['--tls-cert', cert, '--tls-key', key], { ca })
})

after(async () => {
  await disconnectAll()
  await closeAllRaw()
  if (server) {
    const exit = await server.stop()
    assert.equal(exit.code, 0, `phx-server exit: ${JSON.stringify(exit)}\n${server.stderr()}`)
  }
  if (dir) fs.rmSync(dir, { recursive: true, force: true })
})

/** ws trusting the test certificate (phoenix.js constructs `new transport(url, protocols)`). */
function trustingTransport () {
  return class TrustingWebSocket extends WebSocket {
    constructor (url, protocols) { super(url, protocols, { ca }) }
  }
}

test('the listening line names wss:// and /health answers over https', async () => {
  assert.match(server.url, /^wss:\/\/127\.0\.0\.1:\d+\/socket$/)
  assert.deepEqual(await server.admin('/health'), { status: 200, body: 'ok' })
})

test('phoenix.js joins and echoes over wss', async () => {
  const socket = phxSocket(server, { transport: trustingTransport(), params: { user: 'tls' } })
  await connect(socket)
  const channel = socket.channel('room:tls')
  assert.deepEqual(await join(channel), { status: 'ok', response: { joined: 'room:tls' } })
  assert.deepEqual(await push(channel, 'echo', { secure: true }), { status: 'ok', response: { secure: true } })
  await disconnect(socket)
})

test('an untrusted client fails the TLS handshake; a refused connect is 403 over TLS too', async () => {
  await assert.rejects(RawClient.open(rawUrl(server)), err => /self[- ]signed|certificate/i.test(err.message))
  await assert.rejects(RawClient.open(rawUrl(server, { token: 'bad' }), { ca }), err => err.status === 403)
  const c = await RawClient.open(rawUrl(server), { ca })
  assert.deepEqual((await c.sync('1')).json, [null, '1', 'phoenix', 'phx_reply', { status: 'ok', response: {} }])
  await c.close()
})
