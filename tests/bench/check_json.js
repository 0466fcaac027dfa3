'use strict'
// Checks the JSON that `tools/bench/run --quick --json FILE` wrote: fresh
// (written by this test run, not left over), and holding every figure of
// every workload for every client as a finite number, in the documented shape.
//   node check_json.js FILE
const fs = require('node:fs')

const file = process.argv[2]
const doc = JSON.parse(fs.readFileSync(file, 'utf8'))
const problems = []
const clients = ['phx', 'phx_actor', 'bare', 'phoenix_js']

function need (obj, keys, where) {
  for (const k of keys) {
    const v = obj ? obj[k] : undefined
    if (typeof v !== 'number' || !Number.isFinite(v)) problems.push(`${where}.${k} is ${JSON.stringify(v)}`)
    else if (v < 0) problems.push(`${where}.${k} is negative: ${v}`)
  }
}

const age = Date.now() - Date.parse(doc.meta && doc.meta.date)
if (!(age >= 0 && age < 10 * 60 * 1000)) problems.push(`meta.date ${doc.meta && doc.meta.date} is not from this run`)
if (!doc.meta || doc.meta.mode !== 'quick') problems.push('meta.mode is not "quick"')
need(doc.codec, ['phx_msgs_per_s', 'phx_msgs_per_cpu_s', 'rapidjson_msgs_per_s', 'rapidjson_msgs_per_cpu_s', 'overhead_ratio'], 'codec')
need(doc.floor, ['one_handler_heap_bytes_per_actor', 'one_handler_rss_kib_per_actor', 'fifteen_handlers_heap_bytes_per_actor',
  'fifteen_handlers_rss_kib_per_actor', 'hop_cpu_ns', 'hops_per_s', 'counted_pingpong_messages_per_round_trip',
  'phx_echo_hops_per_round_trip', 'phx_actor_echo_hops_per_round_trip'], 'floor')
need(doc.floor_estimate, ['hops_per_round_trip', 'rss_kib_per_socket_at_least', 'echo_cpu_s_per_100k_at_least',
  'echo_ratio_to_bare_at_least'], 'floor_estimate')
// The hop count is measured (an echo round trip is at least a push and its reply), never a constant.
if (doc.floor && !(doc.floor.phx_echo_hops_per_round_trip >= 2)) problems.push(`floor.phx_echo_hops_per_round_trip is ${doc.floor.phx_echo_hops_per_round_trip}, below 2`)
if (doc.floor && doc.floor_estimate && doc.floor_estimate.hops_per_round_trip !== doc.floor.phx_echo_hops_per_round_trip) {
  problems.push('floor_estimate.hops_per_round_trip is not the counted floor.phx_echo_hops_per_round_trip')
}
const warmup = doc.meta && doc.meta.plan && doc.meta.plan.echo && doc.meta.plan.echo.warmup
if (!(warmup > 0)) problems.push(`meta.plan.echo.warmup is ${warmup}`)
// Echo over long-poll: every client but the bare one (WebSocket only), warmed up alike.
const lpWarmup = doc.meta && doc.meta.plan && doc.meta.plan.longpoll && doc.meta.plan.longpoll.warmup
for (const c of clients.filter(c => c !== 'bare')) {
  need(doc.longpoll && doc.longpoll[c], ['cpu_s_per_100k', 'rt_per_s', 'p50_ms', 'p99_ms', 'warmup'], `longpoll.${c}`)
  if (doc.longpoll && doc.longpoll[c] && doc.longpoll[c].warmup !== lpWarmup) problems.push(`longpoll.${c}.warmup is ${doc.longpoll[c].warmup}, not ${lpWarmup}`)
}
for (const c of clients) {
  need(doc.echo && doc.echo[c], ['cpu_s_per_100k', 'rt_per_s', 'p50_ms', 'p99_ms', 'warmup'], `echo.${c}`)
  // Every client warmed up as planned, so that the ratios between them hold.
  if (doc.echo && doc.echo[c] && doc.echo[c].warmup !== warmup) problems.push(`echo.${c}.warmup is ${doc.echo[c].warmup}, not ${warmup}`)
  need(doc.fanin && doc.fanin[c], ['cpu_s_per_100k', 'events_per_s', 'lost'], `fanin.${c}`)
  for (const n of Object.keys(doc.scale || {})) need(doc.scale[n][c], ['rss_kib_per_socket', 'threads', 'join_all_s'], `scale.${n}.${c}`)
  for (const k of ['no_jitter', 'jitter']) need(doc.storm && doc.storm[k] && doc.storm[k][c], ['rejoin_all_s', 'peak_connects_per_s'], `storm.${k}.${c}`)
}
if (!doc.scale || Object.keys(doc.scale).length === 0) problems.push('scale has no socket count')
if (!Array.isArray(doc.targets)) problems.push('targets is not a list')

if (problems.length) {
  console.error(`${file}:\n  ` + problems.join('\n  '))
  process.exit(1)
}
console.log(`${file}: every figure of every workload and client is present`)
