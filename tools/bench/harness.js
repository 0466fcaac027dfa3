'use strict'
// The benchmark driver behind tools/bench/run: for every workload and every
// client, in turn, a fresh phx-server on loopback and one client process (so
// that getrusage, RSS and thread counts are the client's own); repeats,
// medians, one table with ratios, optionally the JSON and a Markdown table.
//
//   node harness.js --bin-dir DIR --node-path DIR [--quick] [--repeat N]
//                   [--json FILE] [--markdown FILE] [--only echo,longpoll,fanin,scale,storm,codec,floor]
//                   [--clients phx,phx_actor,bare,phoenix_js]
// Exits 1 when a client fails or returns incomplete results (it never judges
// speed: targets are reported, not asserted), 2 for an unknown option.

const { spawn } = require('node:child_process')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const readline = require('node:readline')

const ALL_CLIENTS = ['phx', 'phx_actor', 'bare', 'phoenix_js']
const ALL_WORKLOADS = ['codec', 'floor', 'echo', 'longpoll', 'fanin', 'scale', 'storm']

// -- options ------------------------------------------------------------------------

/** A command line the harness cannot run: printed, then exit code 2. */
class UsageError extends Error {}

function parseOptions (argv) {
  const o = { quick: false, repeat: null, json: null, markdown: null, only: ALL_WORKLOADS, clients: ALL_CLIENTS }
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]
    const value = () => {
      if (i + 1 >= argv.length) throw new UsageError(`${a} needs a value`)
      return argv[++i]
    }
    if (a === '--quick') o.quick = true
    else if (a === '--repeat') o.repeat = parseInt(value(), 10)
    else if (a === '--json') o.json = value()
    else if (a === '--markdown') o.markdown = value()
    else if (a === '--bin-dir') o.binDir = value()
    else if (a === '--node-path') o.nodePath = value()
    else if (a === '--only') o.only = value().split(',')
    else if (a === '--clients') o.clients = value().split(',')
    else throw new UsageError(`unknown option ${a}`)
  }
  if (!o.binDir || !o.nodePath) throw new UsageError('--bin-dir and --node-path are required (tools/bench/run passes them)')
  for (const w of o.only) if (!ALL_WORKLOADS.includes(w)) throw new UsageError(`unknown workload ${w}`)
  for (const c of o.clients) if (!ALL_CLIENTS.includes(c)) throw new UsageError(`unknown client ${c}`)
  if (o.repeat === null) o.repeat = o.quick ? 1 : 3
  if (!(o.repeat >= 1 && o.repeat <= 20)) throw new UsageError('--repeat is 1..20')
  return o
}

/** The ~200-byte JSON payload of every workload (same text for every client). */
function benchPayload () {
  const head = '{"user":"ann","room":"lobby","id":12345,"sent_at":1700000000,"body":"'
  const tail = '","tags":["a","b"]}'
  return head + 'x'.repeat(200 - head.length - tail.length) + tail
}

/** Sizes of the workloads: full, or a few seconds in all (--quick, for ctest). */
function plan (quick) {
  return quick
    ? {
        echo: { count: 2000, warmup: 200, window: 100 },
        longpoll: { count: 300, warmup: 50, window: 100 },
        fanin: { count: 10000, chunk: 5000 },
        scale: { sizes: [50], heartbeatMs: 200, holdMs: 300 },
        storm: { sockets: 30, reconnectMs: 100, jitterMs: 300 },
        codecMs: 200,
        floor: { actors: 200, hops: 20000, echoCount: 2000, echoWarmup: 200 }
      }
    : {
        echo: { count: 100000, warmup: 10000, window: 100 },
        longpoll: { count: 20000, warmup: 2000, window: 100 },
        fanin: { count: 200000, chunk: 100000 },
        scale: { sizes: [1000, 10000], heartbeatMs: 3000, holdMs: 4000 },
        // A uniform jitter of J ms spreads N reconnects at N*1000/J per second on
        // average: 3000 ms would put the mean exactly on the target of N/3.
        storm: { sockets: 1000, reconnectMs: 1000, jitterMs: 4000 },
        codecMs: 2000,
        floor: { actors: 10000, hops: 2000000, echoCount: 20000, echoWarmup: 2000 }
      }
}

// -- processes ------------------------------------------------------------------------

/** Starts phx-server on 127.0.0.1, resolves with {url, stop}. */
function startServer (binDir) {
  const bin = path.join(binDir, 'phx-server')
  if (!fs.existsSync(bin)) throw new Error(`${bin} does not exist (build the phx-server target)`)
  const child = spawn(bin, ['--host', '127.0.0.1', '--port', '0', '--log-level', 'error'], {
    stdio: ['ignore', 'pipe', 'pipe']
  })
  let stderr = ''
  child.stderr.on('data', d => { stderr = (stderr + d).slice(-4000) })
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => { child.kill('SIGKILL'); reject(new Error('phx-server did not start within 10 s: ' + stderr)) }, 10000)
    child.once('exit', code => { clearTimeout(timer); reject(new Error(`phx-server exited (${code}): ${stderr}`)) })
    readline.createInterface({ input: child.stdout }).once('line', line => {
      clearTimeout(timer)
      const m = /^listening on (ws:\/\/127\.0\.0\.1:\d+\/socket)$/.exec(line)
      if (!m) { child.kill('SIGKILL'); reject(new Error('phx-server printed: ' + line)); return }
      child.removeAllListeners('exit')
      const exited = new Promise(resolve => child.once('exit', resolve))
      resolve({
        url: m[1],
        stop: async () => {
          child.kill('SIGKILL')
          await exited
        }
      })
    })
  })
}

/** Runs a client to its end (bounded), resolves with its JSON line. */
function runClient (argv, env, seconds) {
  return new Promise((resolve, reject) => {
    const child = spawn(argv[0], argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', d => { stdout += d })
    child.stderr.on('data', d => { stderr = (stderr + d).slice(-4000) })
    const timer = setTimeout(() => child.kill('SIGKILL'), seconds * 1000)
    child.once('exit', (code, signal) => {
      clearTimeout(timer)
      const line = stdout.split('\n').filter(l => l.startsWith('{')).pop()
      if (code !== 0 || !line) {
        reject(new Error(`${path.basename(argv[0])} ${argv.slice(1, 5).join(' ')} failed (${signal || code}): ${stderr.trim() || stdout.trim()}`))
        return
      }
      try { resolve(JSON.parse(line)) } catch (e) { reject(new Error('bad result line: ' + line)) }
    })
  })
}

function clientArgv (o, client, workloadArgs) {
  const bin = name => path.join(o.binDir, name)
  switch (client) {
    case 'phx': return [bin('phx-bench-client'), '--api', 'facade', ...workloadArgs]
    case 'phx_actor': return [bin('phx-bench-client'), '--api', 'actor', ...workloadArgs]
    case 'bare': return [bin('phx-bench-bare'), ...workloadArgs]
    case 'phoenix_js': return [process.execPath, path.join(__dirname, 'node', 'client.js'), ...workloadArgs]
  }
}

/** One client on one workload: a fresh server, the client, the server stopped. */
async function runOne (o, client, args) {
  const server = await startServer(o.binDir)
  try {
    const argv = clientArgv(o, client, [...args, '--url', server.url])
    return await runClient(argv, { NODE_PATH: o.nodePath }, 300)
  } finally {
    await server.stop()
  }
}

// -- statistics -----------------------------------------------------------------------

function median (xs) {
  const s = xs.filter(x => typeof x === 'number').sort((a, b) => a - b)
  if (s.length === 0) return null
  const m = Math.floor(s.length / 2)
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2
}

/** Medians of every numeric field over the runs, plus the runs themselves. */
function summarize (runs) {
  const out = {}
  for (const key of Object.keys(runs[0])) {
    if (typeof runs[0][key] === 'number') out[key] = median(runs.map(r => r[key]))
  }
  out.runs = runs
  return out
}

// -- the workloads ----------------------------------------------------------------------

/**
 * Runs `args` for every client, `repeat` times, clients interleaved in each
 * round (drift of a shared machine hits every client alike). `complete(r)`
 * names what is missing from a result, or returns null.
 */
async function compare (o, label, args, complete, clients = o.clients) {
  const runs = Object.fromEntries(clients.map(c => [c, []]))
  for (let i = 0; i < o.repeat; i++) {
    for (const client of clients) {
      const t = Date.now()
      const r = await runOne(o, client, args)
      const missing = complete(r)
      if (missing) throw new Error(`${label} / ${client}: incomplete result (${missing}): ${JSON.stringify(r)}`)
      delete r.client
      delete r.workload
      runs[client].push(r)
      process.stderr.write(`  ${label} ${client} run ${i + 1}/${o.repeat} (${((Date.now() - t) / 1000).toFixed(1)} s)\n`)
    }
  }
  return Object.fromEntries(clients.map(c => [c, summarize(runs[c])]))
}

/** Every client warms up alike and answers every round trip without error. */
function echoComplete (e) {
  return r => r.round_trips !== e.count ? `${r.round_trips} of ${e.count} round trips`
    : r.warmup !== e.warmup ? `${r.warmup} of ${e.warmup} warm-up round trips` : r.errors ? `${r.errors} errors` : null
}

async function runCodec (o, p) {
  const runs = []
  for (let i = 0; i < o.repeat; i++) {
    const r = await runClient([path.join(o.binDir, 'phx-bench-codec'), '--seconds-ms', String(p.codecMs),
      '--payload', benchPayload(), '--format', 'json'], {}, 120)
    runs.push(r)
  }
  process.stderr.write('  codec done\n')
  return summarize(runs)
}

/**
 * The message hops of phx's echo round trip, counted: phx-bench-client (facade
 * and actor API) with one message per actor activation (--caf-max-throughput
 * 1), its activations over the measured round trips. Never timed.
 */
async function countEchoHops (o, p, client) {
  const runs = []
  for (let i = 0; i < o.repeat; i++) {
    const r = await runOne(o, client, ['--workload', 'echo', '--payload', benchPayload(), '--count', String(p.floor.echoCount),
      '--warmup', String(p.floor.echoWarmup), '--window', String(p.echo.window), '--caf-max-throughput', '1'])
    if (r.round_trips !== p.floor.echoCount || r.errors || !(r.actor_jobs_per_round_trip > 0)) {
      throw new Error(`hop count / ${client}: incomplete result: ${JSON.stringify(r)}`)
    }
    runs.push(r.actor_jobs_per_round_trip)
  }
  return median(runs)
}

/** What CAF alone costs per idle actor and per message hop (phx-bench-floor), and phx's hops per echo. */
async function runFloor (o, p) {
  const runs = []
  for (let i = 0; i < o.repeat; i++) {
    runs.push(await runClient([path.join(o.binDir, 'phx-bench-floor'), '--actors', String(p.floor.actors),
      '--hops', String(p.floor.hops)], {}, 120))
  }
  const out = summarize(runs)
  // The way of counting, checked on a ping-pong (2 messages per round trip): a
  // miscount here would make every hop count below wrong.
  const check = out.counted_pingpong_messages_per_round_trip
  if (!(Math.abs(check - 2) <= 0.1)) {
    throw new Error(`phx-bench-floor counted ${check} messages per ping-pong round trip, not 2: activations do not count messages`)
  }
  out.phx_echo_hops_per_round_trip = await countEchoHops(o, p, 'phx')
  out.phx_actor_echo_hops_per_round_trip = await countEchoHops(o, p, 'phx_actor')
  process.stderr.write('  floor done\n')
  return out
}

/**
 * The architecture's floor next to the bare client: three idle CAF actors per
 * socket (SOCKET, CHANNEL, TRANSPORT) on top of the bare client's RSS, and
 * the CPU of the message hops of a pipelined echo round trip through the
 * facade (counted by runFloor, each at the pipelined ping-pong's cost per
 * message) on top of the bare client's round trip.
 */
function floorEstimates (r) {
  const f = r.floor
  if (!f) return null
  const out = {
    three_actors_kib: 3 * f.one_handler_rss_kib_per_actor,
    socket_channel_transport_kib: 2 * f.fifteen_handlers_rss_kib_per_actor + f.one_handler_rss_kib_per_actor,
    hops_per_round_trip: f.phx_echo_hops_per_round_trip
  }
  // The largest fleet measured (10,000 sockets in a full run).
  const sizes = Object.keys(r.scale || {}).map(Number).sort((a, b) => b - a)
  const bare = sizes.length ? r.scale[String(sizes[0])].bare : null
  if (bare) {
    out.scale_sockets = sizes[0]
    out.rss_kib_per_socket_at_least = bare.rss_kib_per_socket + out.socket_channel_transport_kib
  }
  const echo = r.echo && r.echo.bare
  if (echo) {
    // CPU s per 100k round trips: ns per hop x hops x 1e5 / 1e9.
    out.echo_cpu_s_per_100k_at_least = echo.cpu_s_per_100k + f.hop_cpu_ns * out.hops_per_round_trip * 1e-4
    out.echo_ratio_to_bare_at_least = out.echo_cpu_s_per_100k_at_least / echo.cpu_s_per_100k
  }
  return out
}

async function runAll (o) {
  const p = plan(o.quick)
  const payload = benchPayload()
  const results = {}
  if (o.only.includes('codec')) results.codec = await runCodec(o, p)
  if (o.only.includes('floor')) results.floor = await runFloor(o, p)
  if (o.only.includes('echo')) {
    const e = p.echo
    results.echo = await compare(o, 'echo', ['--workload', 'echo', '--payload', payload, '--count', String(e.count),
      '--warmup', String(e.warmup), '--window', String(e.window)],
    // Every client warms up alike: the ratios compare like with like.
    echoComplete(e))
  }
  if (o.only.includes('longpoll')) {
    // The same echo over HTTP long-polling; the bare client speaks WebSocket only.
    const e = p.longpoll
    results.longpoll = await compare(o, 'echo over long-poll', ['--workload', 'echo', '--transport', 'longpoll',
      '--payload', payload, '--count', String(e.count), '--warmup', String(e.warmup), '--window', String(e.window)],
    echoComplete(e), o.clients.filter(c => c !== 'bare'))
  }
  if (o.only.includes('fanin')) {
    const f = p.fanin
    results.fanin = await compare(o, 'fanin', ['--workload', 'fanin', '--count', String(f.count), '--chunk', String(f.chunk)],
      // Events a client drops are reported (row "events lost"), not hidden.
      r => r.errors ? `${r.errors} errors` : !(r.events > 0) ? 'no events' : null)
    for (const [c, v] of Object.entries(results.fanin)) {
      if (v.lost > 0) process.stderr.write(`  note: fanin / ${c}: ${v.lost} of ${f.count} events lost (median)\n`)
    }
  }
  if (o.only.includes('scale')) {
    results.scale = {}
    const s = p.scale
    for (const n of s.sizes) {
      results.scale[String(n)] = await compare(o, `scale ${n}`, ['--workload', 'scale', '--sockets', String(n),
        '--heartbeat-ms', String(s.heartbeatMs), '--hold-ms', String(s.holdMs)],
      r => r.joined !== n ? `${r.joined} of ${n} joined` : null)
      for (const [c, v] of Object.entries(results.scale[String(n)])) {
        if (v.opens > n) process.stderr.write(`  note: scale ${n} / ${c}: ${v.opens} opens for ${n} sockets (some reconnected)\n`)
      }
    }
  }
  if (o.only.includes('storm')) {
    const s = p.storm
    results.storm = {}
    for (const [key, jitter] of [['no_jitter', 0], ['jitter', s.jitterMs]]) {
      results.storm[key] = await compare(o, `storm ${key}`, ['--workload', 'storm', '--sockets', String(s.sockets),
        '--reconnect-ms', String(s.reconnectMs), '--jitter-ms', String(jitter)],
      r => r.rejoined !== s.sockets ? `${r.rejoined} of ${s.sockets} rejoined` : null)
    }
  }
  return { plan: p, results }
}

// -- the report ---------------------------------------------------------------------------

function fmt (x) {
  if (x === null || x === undefined) return '-'
  if (Math.abs(x) >= 1000) return Math.round(x).toString()
  if (Math.abs(x) >= 100) return x.toFixed(0)
  if (Math.abs(x) >= 10) return x.toFixed(1)
  if (Math.abs(x) >= 1) return x.toFixed(2)
  return x.toFixed(3)
}

function ratio (a, b) {
  return typeof a === 'number' && typeof b === 'number' && b !== 0 ? a / b : null
}

/** Rows of the table: [section, metric label, per-client values]. */
function tableRows (o, p, results) {
  const rows = []
  const add = (section, label, group, key) => {
    if (!group) return
    rows.push({ section, label, values: Object.fromEntries(o.clients.map(c => [c, group[c] ? group[c][key] : null])) })
  }
  const r = results
  if (r.echo) {
    const s = `echo, window ${p.echo.window}, ${p.echo.count} round trips`
    add(s, 'CPU s per 100k round trips', r.echo, 'cpu_s_per_100k')
    add(s, 'round trips per s', r.echo, 'rt_per_s')
    add(s, 'p50 latency ms', r.echo, 'p50_ms')
    add(s, 'p99 latency ms', r.echo, 'p99_ms')
    add(s, 'peak RSS KiB', r.echo, 'peak_rss_kib')
  }
  if (r.longpoll) {
    const s = `echo over long-poll, window ${p.longpoll.window}, ${p.longpoll.count} round trips`
    add(s, 'CPU s per 100k round trips', r.longpoll, 'cpu_s_per_100k')
    add(s, 'round trips per s', r.longpoll, 'rt_per_s')
    add(s, 'p50 latency ms', r.longpoll, 'p50_ms')
    add(s, 'p99 latency ms', r.longpoll, 'p99_ms')
    if (r.echo) {
      // Long-poll's cost per round trip over the same client's WebSocket echo.
      const over = Object.fromEntries(Object.keys(r.longpoll).map(c => [c, {
        x: r.echo[c] ? ratio(r.longpoll[c].cpu_s_per_100k, r.echo[c].cpu_s_per_100k) : null
      }]))
      add(s, 'CPU per round trip / WebSocket', over, 'x')
    }
  }
  if (r.fanin) {
    const s = `fan-in, flood of ${p.fanin.count} events`
    add(s, 'CPU s per 100k events', r.fanin, 'cpu_s_per_100k')
    add(s, 'events per s', r.fanin, 'events_per_s')
    add(s, 'events lost', r.fanin, 'lost')
    add(s, 'peak RSS KiB', r.fanin, 'peak_rss_kib')
  }
  if (r.scale) {
    for (const n of Object.keys(r.scale)) {
      const s = `scale, ${n} sockets, one channel each`
      add(s, 'RSS KiB per socket', r.scale[n], 'rss_kib_per_socket')
      add(s, 'threads', r.scale[n], 'threads')
      add(s, 's until all joined', r.scale[n], 'join_all_s')
    }
  }
  if (r.storm) {
    for (const k of Object.keys(r.storm)) {
      const s = `reconnect storm, ${p.storm.sockets} sockets, ${k === 'jitter' ? `jitter ${p.storm.jitterMs} ms` : 'no jitter'}`
      add(s, 's until all rejoined', r.storm[k], 'rejoin_all_s')
      add(s, 'peak connects per second', r.storm[k], 'peak_connects_per_s')
      add(s, 'peak connects, any 1 s window', r.storm[k], 'peak_connects_sliding_1s')
    }
  }
  return rows
}

const RATIOS = [['phx/bare', 'phx', 'bare'], ['actor/bare', 'phx_actor', 'bare'], ['js/phx', 'phoenix_js', 'phx'], ['js/actor', 'phoenix_js', 'phx_actor']]

function textTable (o, p, results) {
  const lines = []
  const w0 = 30
  const cols = o.clients
  const ratios = RATIOS.filter(([, a, b]) => cols.includes(a) && cols.includes(b))
  let section = null
  for (const row of tableRows(o, p, results)) {
    if (row.section !== section) {
      section = row.section
      lines.push('')
      lines.push(section.padEnd(w0) + cols.map(c => c.padStart(11)).join('') + ' |' + ratios.map(([n]) => n.padStart(11)).join(''))
    }
    lines.push(('  ' + row.label).padEnd(w0) + cols.map(c => fmt(row.values[c]).padStart(11)).join('') + ' |' +
      ratios.map(([, a, b]) => fmt(ratio(row.values[a], row.values[b])).padStart(11)).join(''))
  }
  return lines.join('\n')
}

function markdownTable (o, p, results) {
  const cols = o.clients
  const ratios = RATIOS.filter(([, a, b]) => cols.includes(a) && cols.includes(b))
  const lines = ['| workload | metric | ' + cols.join(' | ') + ' | ' + ratios.map(([n]) => n).join(' | ') + ' |',
    '|' + ' --- |'.repeat(2 + cols.length + ratios.length)]
  let section = null
  for (const row of tableRows(o, p, results)) {
    const first = row.section !== section
    section = row.section
    lines.push(`| ${first ? row.section : ''} | ${row.label} | ` + cols.map(c => fmt(row.values[c])).join(' | ') + ' | ' +
      ratios.map(([, a, b]) => fmt(ratio(row.values[a], row.values[b]))).join(' | ') + ' |')
  }
  return lines.join('\n')
}

/** The results as Markdown: codec, the side-by-side table, the targets. */
function markdownReport (o, p, doc) {
  const m = doc.meta
  const out = [`Measured ${m.date.slice(0, 16).replace('T', ' ')} UTC, ${m.mode} run, median of ${m.repeat}; ` +
    `${m.machine.cores} cores (${m.machine.model}), ${m.machine.memory_gib} GiB, Linux ${m.machine.kernel}, Node ${m.machine.node}; ` +
    `${m.build_type} build of ${m.revision.commit}${m.revision.uncommitted_changes ? ' with uncommitted changes' : ''}; ` +
    `load average before ${m.load_average_before.map(x => x.toFixed(2)).join(' ')}, after ${m.load_average_after.map(x => x.toFixed(2)).join(' ')}.`, '']
  if (doc.codec) {
    const c = doc.codec
    out.push(`Codec (one thread, one ${c.frame_bytes}-byte push frame with a ${c.payload_bytes}-byte payload):`, '',
      '| case | msgs per s | msgs per CPU s (per core) |', '| --- | --- | --- |',
      `| phx V2 JSON encode+decode | ${fmt(c.phx_msgs_per_s)} | ${fmt(c.phx_msgs_per_cpu_s)} |`,
      `| phx V2 JSON encode only | | ${fmt(c.phx_encode_per_cpu_s)} |`,
      `| phx V2 JSON decode only | | ${fmt(c.phx_decode_per_cpu_s)} |`,
      `| plain RapidJSON parse+serialize | ${fmt(c.rapidjson_msgs_per_s)} | ${fmt(c.rapidjson_msgs_per_cpu_s)} |`,
      `| plain RapidJSON parse+serialize, with its UTF-8 check and iterative parser | | ${fmt(c.rapidjson_codec_flags_msgs_per_cpu_s)} |`,
      '', `The codec costs ${fmt(c.overhead_ratio)}x the plain library per message.`, '')
  }
  if (doc.floor) {
    const f = doc.floor
    const e = doc.floor_estimate
    out.push(`Floor (CAF 0.17 alone, no phx code in the actors; ${fmt(f.actors)} idle actors of each kind):`, '',
      '| case | figure |', '| --- | --- |',
      `| idle actor, one handler, 4 bytes of state | ${fmt(f.one_handler_rss_kib_per_actor)} KiB RSS (${fmt(f.one_handler_heap_bytes_per_actor)} bytes of heap) |`,
      `| idle actor, fifteen handlers | ${fmt(f.fifteen_handlers_rss_kib_per_actor)} KiB RSS (${fmt(f.fifteen_handlers_heap_bytes_per_actor)} bytes of heap) |`,
      `| message hop between two actors on the io scheduler, window 100 | ${fmt(f.hop_cpu_ns)} ns CPU |`,
      `| message hops per echo round trip, counted (facade, actor API) | ${fmt(f.phx_echo_hops_per_round_trip)}, ${fmt(f.phx_actor_echo_hops_per_round_trip)} |`)
    if (e.rss_kib_per_socket_at_least !== undefined) out.push(`| bare's RSS per socket at ${fmt(e.scale_sockets)} sockets + two fifteen-handler actors + one one-handler actor | ${fmt(e.rss_kib_per_socket_at_least)} KiB |`)
    if (e.echo_ratio_to_bare_at_least !== undefined) out.push(`| bare's echo CPU + ${fmt(e.hops_per_round_trip)} hops per round trip | ${fmt(e.echo_cpu_s_per_100k_at_least)} CPU s per 100k (${fmt(e.echo_ratio_to_bare_at_least)}x bare) |`)
    out.push('')
  }
  out.push(markdownTable(o, p, doc), '')
  if (doc.targets.length) {
    out.push('| target (issue 6) | measured | limit | |', '| --- | --- | --- | --- |')
    for (const t of doc.targets) out.push(`| ${t.target} | ${fmt(t.measured)} | ${fmt(t.limit)} | ${t.met ? 'met' : '**missed**'} |`)
  }
  return out.join('\n')
}

/** The issue's goals, each with the measured figure; reported, never asserted. */
function targets (p, r) {
  const out = []
  const get = (g, c, k) => g && g[c] ? g[c][k] : null
  const check = (what, value, limit, cmp) => {
    if (value === null || value === undefined) return
    out.push({ target: what, measured: value, limit, met: cmp === '<=' ? value <= limit : value >= limit })
  }
  if (r.echo) {
    for (const c of ['phx', 'phx_actor']) {
      check(`${c}: echo CPU per round trip within 1.3x of bare`, ratio(get(r.echo, c, 'cpu_s_per_100k'), get(r.echo, 'bare', 'cpu_s_per_100k')), 1.3, '<=')
      check(`${c}: echo CPU per round trip at least 1.8x below phoenix.js`, ratio(get(r.echo, 'phoenix_js', 'cpu_s_per_100k'), get(r.echo, c, 'cpu_s_per_100k')), 1.8, '>=')
    }
  }
  const big = r.scale && r.scale['10000']
  if (big) {
    for (const c of ['phx', 'phx_actor']) {
      check(`${c}: 10k sockets, RSS KiB per socket at most 16`, get(big, c, 'rss_kib_per_socket'), 16, '<=')
      check(`${c}: 10k sockets, RSS per socket at most 1.4x bare`, ratio(get(big, c, 'rss_kib_per_socket'), get(big, 'bare', 'rss_kib_per_socket')), 1.4, '<=')
      check(`${c}: 10k sockets, RSS per socket at least 1.6x below phoenix.js`, ratio(get(big, 'phoenix_js', 'rss_kib_per_socket'), get(big, c, 'rss_kib_per_socket')), 1.6, '>=')
      check(`${c}: 10k sockets all joined within 1.3x of bare`, ratio(get(big, c, 'join_all_s'), get(big, 'bare', 'join_all_s')), 1.3, '<=')
      const small = r.scale['1000']
      if (small) check(`${c}: threads do not grow from 1k to 10k sockets`, get(big, c, 'threads') - get(small, c, 'threads'), 0, '<=')
    }
  }
  if (r.storm) {
    const limit = p.storm.reconnectMs / 1000 + 2
    for (const c of ['phx', 'phx_actor']) {
      check(`${c}: storm without jitter, all rejoined within the first backoff step + 2 s (s)`, get(r.storm.no_jitter, c, 'rejoin_all_s'), limit, '<=')
      check(`${c}: storm with jitter, peak connects in 1 s at most a third of the sockets`, get(r.storm.jitter, c, 'peak_connects_per_s'), p.storm.sockets / 3, '<=')
    }
  }
  return out
}

/** The commit measured, and whether the work tree had changes (read-only git). */
function revision () {
  const { execFileSync } = require('node:child_process')
  const root = path.join(__dirname, '..', '..')
  try {
    const commit = execFileSync('git', ['-C', root, 'rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).trim()
    const changes = execFileSync('git', ['-C', root, 'status', '--porcelain', '--untracked-files=no'], { encoding: 'utf8' })
    return { commit, uncommitted_changes: changes.trim().length > 0 }
  } catch (e) {
    return { commit: 'unknown' }
  }
}

function machine () {
  const cpus = os.cpus()
  return {
    cores: cpus.length,
    model: cpus.length ? cpus[0].model.trim() : 'unknown',
    memory_gib: Math.round(os.totalmem() / 2 ** 30),
    kernel: os.release(),
    node: process.version
  }
}

async function main () {
  const o = parseOptions(process.argv.slice(2))
  const started = new Date()
  const load0 = os.loadavg()
  process.stderr.write(`phx benchmarks (${o.quick ? 'quick' : 'full'}, ${o.repeat} repeat(s), ${process.env.PHX_BENCH_BUILD_TYPE || 'unknown'} build); load average ${load0.map(x => x.toFixed(2)).join(' ')}\n`)
  if (!o.quick && load0[0] > 0.7) process.stderr.write('warning: the machine is busy; figures will be noisy\n')
  const { plan: p, results } = await runAll(o)
  const doc = {
    meta: {
      date: started.toISOString(),
      mode: o.quick ? 'quick' : 'full',
      repeat: o.repeat,
      statistic: 'median of the repeats; runs holds every run',
      machine: machine(),
      build_type: process.env.PHX_BENCH_BUILD_TYPE || 'unknown',
      revision: revision(),
      load_average_before: load0,
      load_average_after: os.loadavg(),
      payload: benchPayload(),
      plan: p
    },
    ...results,
    floor_estimate: floorEstimates(results),
    // The targets hold for the full sizes only.
    targets: o.quick ? [] : targets(p, results)
  }
  if (results.codec) {
    const c = results.codec
    console.log(`\ncodec (one thread, ${c.frame_bytes}-byte push frame): phx V2 JSON encode+decode ${fmt(c.phx_msgs_per_cpu_s)} msgs per CPU s, ` +
      `plain RapidJSON parse+serialize ${fmt(c.rapidjson_msgs_per_cpu_s)} (codec costs ${fmt(c.overhead_ratio)}x the library)`)
  }
  if (results.floor) {
    const f = results.floor
    console.log(`\nfloor (CAF 0.17 alone, ${fmt(f.actors)} idle actors of each kind): ${fmt(f.one_handler_rss_kib_per_actor)} KiB RSS per actor ` +
      `with one handler, ${fmt(f.fifteen_handlers_rss_kib_per_actor)} KiB with fifteen; ${fmt(f.hop_cpu_ns)} ns CPU per message hop on the io scheduler; ` +
      `${fmt(f.phx_echo_hops_per_round_trip)} hops per echo round trip through the facade, ${fmt(f.phx_actor_echo_hops_per_round_trip)} through the actor API (counted)`)
    const e = doc.floor_estimate
    if (e.rss_kib_per_socket_at_least !== undefined) console.log(`  a socket's three actors on top of bare (${fmt(e.scale_sockets)} sockets): at least ${fmt(e.rss_kib_per_socket_at_least)} KiB per socket`)
    if (e.echo_ratio_to_bare_at_least !== undefined) console.log(`  ${fmt(e.hops_per_round_trip)} hops per echo round trip on top of bare: at least ${fmt(e.echo_ratio_to_bare_at_least)}x bare's CPU`)
  }
  console.log(textTable(o, p, results))
  if (doc.targets.length) {
    console.log('\ntargets (issue 6; reported, not asserted)')
    for (const t of doc.targets) console.log(`  ${t.met ? 'met   ' : 'MISSED'} ${t.target}: ${fmt(t.measured)} (limit ${fmt(t.limit)})`)
  }
  if (o.json) fs.writeFileSync(o.json, JSON.stringify(doc, null, 2) + '\n')
  if (o.markdown) fs.writeFileSync(o.markdown, markdownReport(o, p, doc) + '\n')
}

main().catch(e => {
  process.stderr.write('tools/bench: ' + (e && e.message ? e.message : e) + '\n')
  process.exit(e instanceof UsageError ? 2 : 1)
})
