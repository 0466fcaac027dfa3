'use strict'
// phoenix.js as a benchmark client: the official client (npm `phoenix`, with
// `ws` as its WebSocket) running the same workloads with the same options as
// phx-bench-client and phx-bench-bare, printing the same one JSON line.
//
//   node client.js --workload echo|fanin|scale|storm --url ws://127.0.0.1:P/socket ...
// The packages come from NODE_PATH (tools/bench/run installs them in the build tree).

const fs = require('node:fs')
const http = require('node:http')
const WebSocket = require('ws')
const { Socket, LongPoll } = require('phoenix')

// -- measurement -----------------------------------------------------------------

/** User + system CPU seconds of this process (getrusage underneath). */
function cpuS () {
  const u = process.cpuUsage()
  return (u.user + u.system) / 1e6
}

/** Monotonic seconds. */
function nowS () {
  return performance.now() / 1000
}

/** A numeric field of /proc/self/status. */
function procStatus (field) {
  const line = fs.readFileSync('/proc/self/status', 'utf8').split('\n').find(l => l.startsWith(field + ':'))
  return line ? parseInt(line.slice(field.length + 1), 10) : -1
}

/** Nearest-rank quantile of an array of numbers (sorted in place). */
function quantile (xs, q) {
  if (xs.length === 0) return 0
  xs.sort((a, b) => a - b)
  const rank = Math.ceil(q * xs.length)
  return xs[Math.min(xs.length - 1, rank === 0 ? 0 : rank - 1)]
}

/** The most timestamps in one whole second counted from `origin`. */
function peakPerSecond (ts, origin) {
  const buckets = new Map()
  let best = 0
  for (const t of ts) {
    const b = Math.floor(t - origin)
    const n = (buckets.get(b) || 0) + 1
    buckets.set(b, n)
    best = Math.max(best, n)
  }
  return best
}

/** The most timestamps inside any window of `width` seconds. */
function peakInWindow (ts, width = 1) {
  ts.sort((a, b) => a - b)
  let best = 0
  let lo = 0
  for (let hi = 0; hi < ts.length; hi++) {
    while (ts[hi] - ts[lo] >= width) lo++
    best = Math.max(best, hi - lo + 1)
  }
  return best
}

/** Rejects after `seconds` naming what was awaited. */
function bounded (promise, seconds, what) {
  let timer
  const t = new Promise((resolve, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), seconds * 1000)
  })
  return Promise.race([promise, t]).finally(() => clearTimeout(timer))
}

/** A command line the client cannot run: printed, then exit code 2 (a failed run exits 1). */
class UsageError extends Error {}

/** `--name value` pairs. */
function parseArgs (argv) {
  const out = {}
  for (let i = 0; i < argv.length; i += 2) {
    if (!argv[i].startsWith('--') || i + 1 >= argv.length) throw new UsageError(`expected --name value pairs, got '${argv[i]}'`)
    out[argv[i].slice(2)] = argv[i + 1]
  }
  return out
}

/** Options of every workload, then of each (as phx-bench-client and phx-bench-bare know them). */
const COMMON_OPTIONS = ['workload', 'url', 'heartbeat-ms', 'jitter-ms', 'reconnect-ms', 'transport']
const WORKLOAD_OPTIONS = {
  echo: ['payload', 'count', 'warmup', 'window'],
  fanin: ['count', 'chunk'],
  scale: ['sockets', 'hold-ms'],
  storm: ['sockets']
}

/** Refuses an option the workload would silently ignore. */
function allow (args) {
  const own = WORKLOAD_OPTIONS[args.workload]
  if (!own) throw new UsageError(`unknown --workload ${args.workload} (${Object.keys(WORKLOAD_OPTIONS).join(', ')})`)
  const known = [...COMMON_OPTIONS, ...own]
  for (const name of Object.keys(args)) {
    if (!known.includes(name)) throw new UsageError(`unknown option --${name} for --workload ${args.workload} (known: ${known.map(k => '--' + k).join(', ')})`)
  }
}

function num (args, name, fallback) {
  if (args[name] === undefined) return fallback
  const v = Number(args[name])
  if (!Number.isInteger(v) || v < 0) throw new UsageError(`--${name} wants a non-negative integer, got '${args[name]}'`)
  return v
}

// -- sockets ------------------------------------------------------------------------

/** phx's defaults (CLIENT.md), so that every client backs off alike. */
const reconnectSteps = [1000, 2000, 5000, 10000]
const rejoinSteps = [1000, 2000, 5000]

function makeSocket (args) {
  const jitter = num(args, 'jitter-ms', 0)
  const first = num(args, 'reconnect-ms', reconnectSteps[0])
  const step = tries => tries <= 1 ? first : (reconnectSteps[tries - 1] || 10000)
  const kind = args.transport || 'websocket'
  if (kind !== 'websocket' && kind !== 'longpoll') throw new UsageError(`--transport is websocket or longpoll, got '${kind}'`)
  return new Socket(args.url, {
    transport: kind === 'longpoll' ? LongPoll : WebSocket,
    heartbeatIntervalMs: num(args, 'heartbeat-ms', 30000),
    // phoenix.js has no jitter option: a user adds it in this function.
    reconnectAfterMs: tries => step(tries) + (jitter > 0 ? Math.random() * jitter : 0),
    rejoinAfterMs: tries => rejoinSteps[tries - 1] || 10000
  })
}

function joinOnce (channel, seconds = 10) {
  return bounded(new Promise((resolve, reject) => {
    channel.join()
      .receive('ok', resolve)
      .receive('error', e => reject(new Error('join refused: ' + JSON.stringify(e))))
  }), seconds, 'the join')
}

function httpGet (url, path) {
  const u = new URL(url.replace(/^ws/, 'http'))
  return bounded(new Promise((resolve, reject) => {
    http.get({ host: u.hostname, port: u.port, path }, res => {
      res.resume()
      res.on('end', () => resolve(res.statusCode))
    }).on('error', reject)
  }), 5, 'GET ' + path)
}

// -- workloads ------------------------------------------------------------------------

async function echo (args, out) {
  const body = JSON.parse(args.payload)
  const warmup = num(args, 'warmup', 0)
  const total = warmup + num(args, 'count', 100000)
  const window = num(args, 'window', 100)
  if (total === warmup || window === 0) throw new UsageError('--count and --window must be positive')
  const socket = makeSocket(args)
  socket.connect()
  const channel = socket.channel('room:bench', {})
  await joinOnce(channel)
  const bodyText = JSON.stringify(body)
  const sentAt = new Float64Array(total)
  const latencies = []
  let sent = 0
  let received = 0
  let errors = 0
  let t0 = 0
  let c0 = 0
  let t1 = 0
  let c1 = 0
  await bounded(new Promise(resolve => {
    const onReply = (idx, ok) => {
      if (!ok) errors++
      if (received >= warmup) latencies.push((nowS() - sentAt[idx]) * 1000)
      if (++received === warmup) { t0 = nowS(); c0 = cpuS() }
      if (received === total) { t1 = nowS(); c1 = cpuS(); resolve(); return }
      if (sent < total) pushOne()
    }
    const pushOne = () => {
      const idx = sent++
      sentAt[idx] = nowS()
      channel.push('echo', body)
        .receive('ok', r => onReply(idx, received > 0 || JSON.stringify(r) === bodyText))
        .receive('error', () => onReply(idx, false))
        .receive('timeout', () => onReply(idx, false))
    }
    if (warmup === 0) { t0 = nowS(); c0 = cpuS() }
    for (let i = 0; i < window && sent < total; i++) pushOne()
  }), 120, 'the echo replies')
  const n = received - warmup
  Object.assign(out, {
    round_trips: n,
    warmup,
    errors,
    wall_s: t1 - t0,
    cpu_s: c1 - c0,
    rt_per_s: n / (t1 - t0),
    cpu_s_per_100k: (c1 - c0) / n * 1e5,
    p50_ms: quantile(latencies, 0.5),
    p99_ms: quantile(latencies, 0.99),
    peak_rss_kib: process.resourceUsage().maxRSS
  })
}

async function fanin (args, out) {
  const total = num(args, 'count', 200000)
  const chunk = num(args, 'chunk', 100000)
  if (chunk === 0) throw new UsageError('--chunk must be positive')
  const floods = Math.ceil(total / chunk)
  const socket = makeSocket(args)
  socket.connect()
  const channel = socket.channel('room:flood', {})
  let events = 0
  let replies = 0
  let errors = 0
  let finish
  const done = new Promise(resolve => { finish = resolve })
  let t1 = 0
  let c1 = 0
  const check = () => {
    if (events === total && replies === floods) { t1 = nowS(); c1 = cpuS(); finish() }
  }
  channel.on('flood', p => { if (p.i !== undefined) { events++; check() } })
  await joinOnce(channel)
  const t0 = nowS()
  const c0 = cpuS()
  for (let s = 0; s < total; s += chunk) {
    channel.push('flood', { n: Math.min(chunk, total - s) }, 120000)
      .receive('ok', () => { replies++; check() })
      .receive('error', () => errors++)
      .receive('timeout', () => errors++)
  }
  await bounded(done, 120, 'the flood')
  Object.assign(out, {
    events,
    lost: total - events,
    errors,
    wall_s: t1 - t0,
    cpu_s: c1 - c0,
    events_per_s: events / (t1 - t0),
    cpu_s_per_100k: (c1 - c0) / events * 1e5,
    peak_rss_kib: process.resourceUsage().maxRSS
  })
}

/** N sockets, one channel each; resolves when all joined. */
function startFleet (args, n, tally) {
  const sockets = []
  for (let i = 0; i < n; i++) {
    const socket = makeSocket(args)
    socket.onOpen(() => {
      tally.opensTotal++
      if (tally.storming) tally.opens.push(nowS())
    })
    socket.connect()
    const channel = socket.channel('room:s' + i, {})
    channel.join().receive('ok', () => {
      if (!tally.storming) {
        if (++tally.joined === n) { tally.t1 = nowS(); tally.allJoined() }
      } else if (++tally.rejoined === n) {
        tally.tDone = nowS(); tally.allRejoined()
      }
    })
    sockets.push(socket)
  }
  return sockets
}

function newTally () {
  const tally = { joined: 0, rejoined: 0, storming: false, opens: [], opensTotal: 0, t1: 0, tDone: 0 }
  tally.joinedP = new Promise(resolve => { tally.allJoined = resolve })
  tally.rejoinedP = new Promise(resolve => { tally.allRejoined = resolve })
  return tally
}

async function scale (args, out) {
  const n = num(args, 'sockets', 1000)
  const hold = num(args, 'hold-ms', 0)
  const tally = newTally()
  const rss0 = process.memoryUsage().rss
  const t0 = nowS()
  const sockets = startFleet(args, n, tally)
  await bounded(tally.joinedP, 120, 'every join')
  await new Promise(resolve => setTimeout(resolve, hold))
  const rss1 = process.memoryUsage().rss
  Object.assign(out, {
    sockets: n,
    joined: tally.joined,
    opens: tally.opensTotal,
    join_all_s: tally.t1 - t0,
    rss_kib: rss1 / 1024,
    rss_kib_per_socket: (rss1 - rss0) / 1024 / n,
    threads: procStatus('Threads')
  })
  return sockets
}

async function storm (args, out) {
  const n = num(args, 'sockets', 1000)
  const tally = newTally()
  const sockets = startFleet(args, n, tally)
  await bounded(tally.joinedP, 120, 'every join')
  tally.storming = true
  const tDisconnect = nowS()
  const status = await httpGet(args.url, '/admin/disconnect_all')
  if (status !== 200) throw new Error('/admin/disconnect_all answered ' + status)
  await bounded(tally.rejoinedP, 120, 'every rejoin')
  Object.assign(out, {
    sockets: n,
    jitter_ms: num(args, 'jitter-ms', 0),
    rejoined: tally.rejoined,
    rejoin_all_s: tally.tDone - tDisconnect,
    peak_connects_per_s: peakPerSecond(tally.opens, tDisconnect),
    peak_connects_sliding_1s: peakInWindow(tally.opens)
  })
  return sockets
}

async function main () {
  const args = parseArgs(process.argv.slice(2))
  allow(args)
  if (!args.url) throw new UsageError('missing option --url')
  if (args.payload === undefined && args.workload === 'echo') throw new UsageError('missing option --payload')
  const workloads = { echo, fanin, scale, storm }
  const out = { client: 'phoenix_js', workload: args.workload }
  await workloads[args.workload](args, out)
  process.stdout.write(JSON.stringify(out) + '\n', () => process.exit(0))
}

main().catch(e => {
  if (e instanceof UsageError) {
    process.stderr.write('phoenix.js bench client: ' + e.message + '\n')
    process.exit(2)
  }
  process.stderr.write('phoenix.js bench client: ' + (e && e.stack ? e.stack : e) + '\n')
  process.exit(1)
})
