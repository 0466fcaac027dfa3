// Opens rendered reports in headless Chromium (Debian's `chromium`) over the
// DevTools protocol on a pipe (no port, no npm package), and fails on any
// console error, uncaught exception or failed load, on a chart that is not
// drawn, or on a table that does not show what the synthetic run holds
// (test/synthetic.cpp). Keeps a full-page screenshot as <run>/report.png.
//   node chromium.js --chromium /usr/bin/chromium --runs DIR full nopush empty workers
// Any other report folder gets the checks that hold for every report (no
// console error, every chart drawn) and its screenshot, e.g. for the docs:
//   node chromium.js --chromium /usr/bin/chromium /tmp/run-10k
'use strict';
const { spawn } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { pathToFileURL } = require('node:url');

const allCharts = ['users', 'throughput', 'latency', 'distribution', 'errors', 'lag'];
// What each synthetic run shows: drawn charts, charts replaced by a note, table rows.
const expected = {
  full: { charts: allCharts, verdict: 'exit 1', thresholds: { met: 1, missed: 2 }, faults: 2, latency: 5 },
  nopush: { charts: ['users', 'latency', 'errors', 'lag'], empty: ['throughput', 'distribution'],
    verdict: 'exit 0', thresholds: { met: 1, missed: 0 }, faults: 0, latency: 3 },
  empty: { charts: [], empty: allCharts, verdict: 'exit 3', thresholds: { met: 0, missed: 0 }, faults: 0, latency: 1 },
  workers: { charts: allCharts.concat(['worker-users', 'worker-lag']), verdict: 'exit 0', thresholds: { met: 1, missed: 0 }, workers: 3, latency: 3 },
};

function parseArgs(argv) {
  const args = { runs: [], dir: '.' };
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--chromium') args.chromium = argv[++i];
    else if (argv[i] === '--runs') { args.dir = argv[++i]; args.synthetic = true; }
    else args.runs.push(argv[i]);
  }
  if (!args.chromium || !args.runs.length) {
    throw new Error('usage: chromium.js --chromium PATH [--runs DIR] RUN...');
  }
  return args;
}

// -- the DevTools protocol over --remote-debugging-pipe (fd 3 in, fd 4 out) --

function launch(chromium) {
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'phx-report-chromium-'));
  const flags = [
    '--headless', '--remote-debugging-pipe', `--user-data-dir=${profile}`,
    '--disable-gpu', '--disable-dev-shm-usage', '--disable-extensions', '--disable-sync',
    '--disable-background-networking', '--disable-component-update', '--disable-breakpad',
    '--no-first-run', '--no-default-browser-check', '--mute-audio', '--hide-scrollbars',
    '--window-size=1400,1000', 'about:blank',
  ];
  // Chromium's sandbox refuses to run as root.
  if (process.getuid && process.getuid() === 0) flags.unshift('--no-sandbox');
  const child = spawn(chromium, flags, { stdio: ['ignore', 'ignore', 'pipe', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d) => { stderr = (stderr + d).slice(-20000); });
  const pending = new Map();
  const listeners = [];
  let nextId = 1;
  let buffer = '';
  child.stdio[4].on('data', (chunk) => {
    buffer += chunk.toString('utf8');
    let end;
    while ((end = buffer.indexOf('\0')) >= 0) {
      const message = JSON.parse(buffer.slice(0, end));
      buffer = buffer.slice(end + 1);
      if (message.id && pending.has(message.id)) {
        const { resolve, reject, method } = pending.get(message.id);
        pending.delete(message.id);
        if (message.error) reject(new Error(`${method}: ${message.error.message}`));
        else resolve(message.result);
      } else if (message.method) {
        for (const l of listeners) l(message);
      }
    }
  });
  const exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  exited.then(({ code, signal }) => {
    for (const { reject, method } of pending.values()) {
      reject(new Error(`${method}: chromium exited (${code ?? signal}); its stderr:\n${stderr}`));
    }
    pending.clear();
  });
  function send(method, params, sessionId) {
    const id = nextId++;
    const message = { id, method, params: params || {} };
    if (sessionId) message.sessionId = sessionId;
    return new Promise((resolve, reject) => {
      pending.set(id, { resolve, reject, method });
      child.stdio[3].write(JSON.stringify(message) + '\0');
    });
  }
  function close() {
    send('Browser.close').catch(() => {});
    const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
    return exited.then(() => {
      clearTimeout(timer);
      fs.rmSync(profile, { recursive: true, force: true });
    });
  }
  return { send, close, on: (l) => listeners.push(l), stderr: () => stderr };
}

function waitFor(browser, sessionId, method, timeoutMs) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no ${method} within ${timeoutMs} ms`)), timeoutMs);
    browser.on((m) => {
      if (m.sessionId === sessionId && m.method === method) {
        clearTimeout(timer);
        resolve(m.params);
      }
    });
  });
}

// -- in the page ---------------------------------------------------------------

// Runs in the report: what is drawn, read from the Chart instances, the
// canvases' pixels and the tables.
async function inspectPage() {
  await new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)));
  function rgb(color) {
    const hex = /^#([0-9a-f]{2})([0-9a-f]{2})([0-9a-f]{2})$/i.exec(color);
    if (hex) return hex.slice(1).map((h) => parseInt(h, 16));
    const fn = /^rgba?\((\d+),\s*(\d+),\s*(\d+)/.exec(color);
    return fn ? fn.slice(1).map(Number) : null;
  }
  const out = { charts: {}, missing: [], empty: [], title: document.title };
  for (const canvas of document.querySelectorAll('canvas')) {
    const key = canvas.id.replace(/^canvas-/, '');
    const chart = Chart.getChart(canvas);
    if (!chart) { out.missing.push(key); continue; }
    const datasets = chart.data.datasets.map((d, i) => ({
      label: d.label,
      visible: chart.isDatasetVisible(i),
      values: d.data.filter((p) => (typeof p === 'number' ? Number.isFinite(p) : p && Number.isFinite(p.y))).length,
      color: rgb(d.type === 'bar' ? d.backgroundColor : d.borderColor),
    }));
    // Pixels of the plot area painted in the colour of a visible dataset,
    // counted with the fault markers off (their labels' edges could match).
    const markers = chart.options.plugins.phxMarkers;
    const saved = markers && markers.markers;
    if (saved) { markers.markers = []; chart.update(); }
    const r = chart.currentDevicePixelRatio;
    const a = chart.chartArea;
    const image = canvas.getContext('2d').getImageData(Math.floor(a.left * r), Math.floor(a.top * r),
      Math.max(1, Math.floor((a.right - a.left) * r)), Math.max(1, Math.floor((a.bottom - a.top) * r))).data;
    const colors = datasets.filter((d) => d.visible && d.color).map((d) => d.color);
    let painted = 0;
    let dataPixels = 0;
    for (let i = 0; i < image.length; i += 4) {
      if (image[i + 3] === 0) continue;
      painted++;
      if (colors.some((c) => Math.abs(c[0] - image[i]) < 30 && Math.abs(c[1] - image[i + 1]) < 30
                             && Math.abs(c[2] - image[i + 2]) < 30)) dataPixels++;
    }
    if (saved) { markers.markers = saved; chart.update(); }
    out.charts[key] = { type: chart.config.type, width: canvas.width, height: canvas.height, datasets, painted, dataPixels };
  }
  for (const note of document.querySelectorAll('.chart-empty')) out.empty.push(note.closest('section').id.replace(/^chart-/, ''));
  const rows = (selector) => document.querySelectorAll(selector).length;
  out.verdict = (document.getElementById('verdict') || {}).textContent;
  out.thresholds = { met: rows('#thresholds tr.met'), missed: rows('#thresholds tr.missed') };
  out.faults = rows('#faults tbody tr');
  out.latency = rows('#latency tbody tr');
  out.workers = document.getElementById('workers') ? rows('#workers tbody tr') : undefined;
  out.errorKinds = [...document.querySelectorAll('#errors tbody td:first-child')].map((td) => td.textContent);
  out.height = document.documentElement.scrollHeight;
  return out;
}

// -- checks ----------------------------------------------------------------------

// What holds for every report: each canvas holds a chart that is drawn.
function checkAny(run, page, problems) {
  const fail = (text) => problems.push(`${run}: ${text}`);
  if (page.missing.length) fail(`canvas without a chart: ${page.missing.join(', ')}`);
  for (const [key, c] of Object.entries(page.charts)) {
    if (c.dataPixels < 50) fail(`chart ${key}: ${c.dataPixels} pixels in its datasets' colours (of ${c.painted} painted)`);
  }
}

function check(run, page, problems) {
  const want = expected[run];
  if (!want) return checkAny(run, page, problems);
  const fail = (text) => problems.push(`${run}: ${text}`);
  for (const key of want.charts) {
    const c = page.charts[key];
    if (!c) { fail(`chart ${key} is not drawn`); continue; }
    if (!(c.width > 100 && c.height > 100)) fail(`chart ${key} is ${c.width}x${c.height} pixels`);
    const visible = c.datasets.filter((d) => d.visible);
    if (!visible.length) fail(`chart ${key} shows no dataset`);
    for (const d of visible) if (d.values === 0) fail(`chart ${key}: dataset '${d.label}' holds no value`);
    if (c.dataPixels < 50) fail(`chart ${key}: ${c.dataPixels} pixels in its datasets' colours (of ${c.painted} painted)`);
  }
  for (const key of Object.keys(page.charts)) if (!want.charts.includes(key)) fail(`chart ${key} drawn, not expected`);
  if (page.missing.length) fail(`canvas without a chart: ${page.missing.join(', ')}`);
  const empty = (want.empty || []).slice().sort().join(',');
  if (page.empty.slice().sort().join(',') !== empty) fail(`charts left empty: [${page.empty}], expected [${empty}]`);
  if (!String(page.verdict).startsWith(want.verdict)) fail(`verdict '${page.verdict}', expected '${want.verdict}...'`);
  if (page.thresholds.met !== want.thresholds.met || page.thresholds.missed !== want.thresholds.missed) {
    fail(`thresholds ${JSON.stringify(page.thresholds)}, expected ${JSON.stringify(want.thresholds)}`);
  }
  if (want.faults !== undefined && page.faults !== want.faults) fail(`${page.faults} faults listed, expected ${want.faults}`);
  if (page.latency !== want.latency) fail(`${page.latency} latency rows, expected ${want.latency}`);
  if (page.workers !== want.workers) fail(`${page.workers} worker rows, expected ${want.workers}`);
  if (run === 'workers' && !page.errorKinds.includes('close 1011 </script><!-- injected')) {
    fail(`the error kind holding </script> is not shown as text: ${JSON.stringify(page.errorKinds)}`);
  }
}

// -- main ------------------------------------------------------------------------

async function main() {
  const args = parseArgs(process.argv.slice(2));
  const browser = launch(args.chromium);
  const problems = [];
  let messages = [];
  browser.on((m) => {
    const p = m.params || {};
    if (m.method === 'Runtime.consoleAPICalled') {
      const text = (p.args || []).map((a) => a.value ?? a.description ?? '').join(' ');
      messages.push({ level: p.type, text });
    } else if (m.method === 'Runtime.exceptionThrown') {
      const d = p.exceptionDetails || {};
      messages.push({ level: 'error', text: `uncaught: ${(d.exception && d.exception.description) || d.text} at ${d.url}:${d.lineNumber}` });
    } else if (m.method === 'Log.entryAdded') {
      messages.push({ level: p.entry.level, text: `${p.entry.source}: ${p.entry.text} ${p.entry.url || ''}` });
    }
  });
  try {
    const { targetId } = await browser.send('Target.createTarget', { url: 'about:blank' });
    const { sessionId } = await browser.send('Target.attachToTarget', { targetId, flatten: true });
    const send = (method, params) => browser.send(method, params, sessionId);
    await send('Page.enable');
    await send('Runtime.enable');
    await send('Log.enable');
    await send('Emulation.setDeviceMetricsOverride', { width: 1400, height: 1000, deviceScaleFactor: 1, mobile: false });
    for (const run of args.runs) {
      const file = path.resolve(args.dir, run, 'report.html');
      if (!fs.existsSync(file)) {
        problems.push(`${run}: ${file} does not exist (the fleet_report test writes it)`);
        continue;
      }
      messages = [];
      const loaded = waitFor(browser, sessionId, 'Page.loadEventFired', 30000);
      const nav = await send('Page.navigate', { url: pathToFileURL(file).href });
      if (nav.errorText) problems.push(`${run}: navigation failed: ${nav.errorText}`);
      await loaded;
      const result = await send('Runtime.evaluate', {
        expression: `(${inspectPage.toString()})()`, awaitPromise: true, returnByValue: true,
      });
      if (result.exceptionDetails) {
        problems.push(`${run}: inspecting the page threw: ${JSON.stringify(result.exceptionDetails)}`);
        continue;
      }
      const page = result.result.value;
      if (args.synthetic) check(run, page, problems);
      else checkAny(run, page, problems);
      // The whole page in one picture: the viewport grown to the page's height.
      await send('Emulation.setDeviceMetricsOverride', { width: 1400, height: page.height, deviceScaleFactor: 1, mobile: false });
      await send('Runtime.evaluate', {
        expression: 'new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)))', awaitPromise: true,
      });
      const shot = await send('Page.captureScreenshot', { format: 'png' });
      const png = path.resolve(args.dir, run, 'report.png');
      fs.writeFileSync(png, Buffer.from(shot.data, 'base64'));
      await send('Emulation.setDeviceMetricsOverride', { width: 1400, height: 1000, deviceScaleFactor: 1, mobile: false });
      const errors = messages.filter((c) => c.level === 'error' || c.level === 'assert');
      for (const c of messages) process.stdout.write(`${run}: console ${c.level}: ${c.text}\n`);
      for (const e of errors) problems.push(`${run}: console ${e.level}: ${e.text}`);
      const drawn = Object.entries(page.charts).map(([k, c]) => `${k} (${c.dataPixels} px)`).join(', ');
      process.stdout.write(`${run}: ${page.title}: drawn ${drawn || 'no chart'}; notes for [${page.empty}]; screenshot ${png}\n`);
    }
  } catch (e) {
    problems.push(String(e.stack || e));
    process.stdout.write(`chromium's stderr:\n${browser.stderr()}\n`);
  } finally {
    await browser.close();
  }
  if (problems.length) {
    process.stdout.write(`FAILED:\n  ${problems.join('\n  ')}\n`);
    process.exit(1);
  }
  process.stdout.write(`all ${args.runs.length} reports open in headless Chromium without console error, charts drawn\n`);
}

const deadline = setTimeout(() => {
  process.stdout.write('FAILED: no result within 100 s\n');
  process.exit(1);
}, 100000);
main().finally(() => clearTimeout(deadline));
