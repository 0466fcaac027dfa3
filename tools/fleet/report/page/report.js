// phx-fleet report: draws the tables and charts of report.html from the data
// embedded in it (summary.json and series.csv, see docs/fleet.md). Plain
// browser JavaScript and Chart.js 3.9 (inlined above), nothing fetched.
'use strict';
(function () {
  const data = JSON.parse(document.getElementById('phx-data').textContent);
  const summary = isObject(data.summary) ? data.summary : {};
  const series = isObject(data.series) ? data.series : {};
  const times = Array.isArray(series.t_s) ? series.t_s : [];
  // A coordinator's run: each worker's seconds (workers.csv), `ID_users`, `ID_joined`, `ID_lag_p99_ms`.
  const workerSeries = isObject(data.workers_series) ? data.workers_series : {};
  const workerTimes = Array.isArray(workerSeries.t_s) ? workerSeries.t_s : [];
  const root = document.getElementById('report');
  const charts = {};

  const colors = {
    blue: '#4c78a8', orange: '#f58518', red: '#e45756', teal: '#72b7b2',
    green: '#54a24b', yellow: '#eeca3b', purple: '#b279a2', brown: '#9d755d',
    grey: '#9aa0a6', fault: '#cf222e',
  };
  const latencyKinds = ['connect', 'join', 'push', 'recover'];
  const outcomeKinds = ['connect', 'join', 'push'];
  const outcomeColumns = ['ok', 'error', 'timeout', 'failed'];
  const exitCodes = {
    0: ['good', 'exit 0 · all thresholds met'],
    1: ['bad', 'exit 1 · a threshold was missed'],
    2: ['warn', 'exit 2 · bad usage or scenario'],
    3: ['bad', 'exit 3 · run aborted'],
  };

  // -- helpers ---------------------------------------------------------------

  function isObject(v) { return v !== null && typeof v === 'object' && !Array.isArray(v); }
  function isNumber(v) { return typeof v === 'number' && Number.isFinite(v); }

  function el(tag, attrs, children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (value === null || value === undefined) continue;
      if (key === 'text') node.textContent = value;
      else node.setAttribute(key, value);
    }
    for (const child of [].concat(children || [])) {
      if (child === null || child === undefined) continue;
      node.append(child instanceof Node ? child : String(child));
    }
    return node;
  }

  // Integers with separators; other numbers to about three significant digits.
  function fmt(v) {
    if (!isNumber(v)) return '–';
    if (Number.isInteger(v)) return v.toLocaleString('en-US');
    const a = Math.abs(v);
    if (a >= 100) return Math.round(v).toLocaleString('en-US');
    if (a >= 10) return v.toFixed(1);
    if (a >= 1) return v.toFixed(2);
    return String(Number(v.toPrecision(3))); // 0.001, not 0.0010
  }

  // A share in %, never rounded up to 100 % while something failed.
  function share(part, total) {
    const pct = (100 * part) / total;
    if (part === total) return '100 %';
    for (const digits of [1, 2, 3]) if (pct.toFixed(digits) !== (100).toFixed(digits)) return pct.toFixed(digits) + ' %';
    return '> 99.999 %';
  }

  function fmtSeconds(s) {
    if (!isNumber(s)) return '–';
    if (s < 120) return fmt(s) + ' s';
    const m = Math.floor(s / 60);
    const rest = Math.round(s - m * 60);
    return m + ' min' + (rest ? ' ' + rest + ' s' : '');
  }

  function fmtMs(v) {
    if (!isNumber(v)) return '–';
    return v >= 1000 ? fmt(v / 1000) + ' s' : fmt(v) + ' ms';
  }

  function card(title, body, options) {
    const opts = options || {};
    const head = el('header', {}, [el('h2', { text: title }), opts.aside || null]);
    const cls = 'card' + (opts.wide ? ' wide' : '') + (opts.span ? ' span' + opts.span : '');
    return el('section', { class: cls, id: opts.id || null }, [head].concat(body));
  }

  function note(text) { return el('p', { class: 'note', text: text }); }

  function table(headers, rows) {
    const head = el('thead', {}, el('tr', {}, headers.map((h) => el('th', { text: h }))));
    return el('div', { class: 'table-wrap' }, el('table', {}, [head, el('tbody', {}, rows)]));
  }

  function row(cells, cls) {
    const tr = el('tr', cls ? { class: cls } : {});
    for (const c of cells) tr.append(c instanceof Node ? c : el('td', { text: c }));
    return tr;
  }

  function column(name) {
    const values = series[name];
    return Array.isArray(values) ? values : [];
  }

  function points(name) {
    const values = column(name);
    return times.map((t, i) => ({ x: t, y: isNumber(values[i]) ? values[i] : null }));
  }

  function hasValues(datasets) {
    return datasets.some((d) => d.data.some((p) => p !== null && (isNumber(p) || isNumber(p.y))));
  }

  // -- header and tables -----------------------------------------------------

  function renderHeader() {
    const code = summary.exit_code;
    const [tone, text] = exitCodes[code] || ['warn', isNumber(code) ? 'exit ' + code : 'exit code unknown'];
    const scenario = typeof summary.scenario === 'string' && summary.scenario ? summary.scenario : 'unnamed scenario';
    const meta = [
      ['seed', isNumber(summary.seed) ? String(summary.seed) : '–'],
      ['started', typeof summary.started_at === 'string' ? summary.started_at : '–'],
      ['duration', fmtSeconds(summary.duration_s)],
      ['series', times.length + ' s sampled'],
    ];
    root.append(el('header', { class: 'top' }, [
      el('h1', {}, [el('span', { class: 'tool', text: 'phx-fleet · ' }), scenario]),
      el('span', { class: 'verdict ' + tone, id: 'verdict', text: text }),
      el('dl', { class: 'meta' }, meta.map(([k, v]) => el('div', {}, [el('dt', { text: k }), el('dd', { text: v })]))),
    ]));
  }

  function usersCard() {
    const users = isObject(summary.users) ? summary.users : {};
    const stats = [['target', users.target], ['joined at peak', users.joined_peak], ['joined at end', users.joined_end]];
    if ('respawned_users' in summary) stats.push(['respawned', summary.respawned_users]);
    return card('Users', el('div', { class: 'stats' }, stats.map(([label, v]) =>
      el('div', { class: 'stat' }, [el('div', { class: 'value', text: fmt(v) }), el('div', { class: 'label', text: label })]))));
  }

  function thresholdsCard() {
    const list = Array.isArray(summary.thresholds) ? summary.thresholds.filter(isObject) : [];
    if (!list.length) return card('Thresholds', note('No threshold was set.'), { id: 'thresholds' });
    const missed = list.filter((t) => t.met === false).length;
    const rows = list.map((t) => row([
      String(t.name === undefined ? '' : t.name), fmt(t.limit), fmt(t.value),
      el('td', { class: 'result', text: t.met === true ? '✓ met' : t.met === false ? '✗ missed' : '–' }),
    ], t.met === true ? 'met' : t.met === false ? 'missed' : ''));
    const aside = el('span', { class: 'aside', text: (list.length - missed) + ' of ' + list.length + ' met' });
    return card('Thresholds', table(['name', 'limit', 'value', 'result'], rows), { id: 'thresholds', aside });
  }

  function orderedKeys(obj, preferred) {
    const keys = preferred.filter((k) => k in obj);
    return keys.concat(Object.keys(obj).filter((k) => !preferred.includes(k)).sort());
  }

  function latencyCard() {
    const latency = isObject(summary.latency_ms) ? summary.latency_ms : {};
    const rows = orderedKeys(latency, latencyKinds).filter((k) => isObject(latency[k])).map((k) => {
      const h = latency[k];
      return row([k, fmt(h.count), fmt(h.p50), fmt(h.p90), fmt(h.p99), fmt(h.max), fmt(h.mean)]);
    });
    const lag = summary.generator_lag_ms;
    if (isObject(lag)) {
      rows.push(row([el('td', { class: 'text', text: 'generator lag' }), fmt(lag.count), fmt(lag.p50),
        fmt(lag.p90), fmt(lag.p99), fmt(lag.max), fmt(lag.mean)], 'lag'));
    }
    if (!rows.length) return card('Latency (ms)', note('No latency was measured.'), { id: 'latency', span: 2 });
    return card('Latency (ms)', table(['kind', 'count', 'p50', 'p90', 'p99', 'max', 'mean'], rows), { id: 'latency', span: 2 });
  }

  function outcomesCard() {
    const outcomes = isObject(summary.outcomes) ? summary.outcomes : {};
    const rows = orderedKeys(outcomes, outcomeKinds).filter((k) => isObject(outcomes[k])).map((k) => {
      const o = outcomes[k];
      const total = outcomeColumns.reduce((sum, c) => sum + (isNumber(o[c]) ? o[c] : 0), 0);
      const cells = outcomeColumns.map((c) => el('td', { class: c !== 'ok' && o[c] > 0 ? 'bad' : '', text: fmt(o[c]) }));
      const okShare = total > 0 && isNumber(o.ok) ? share(o.ok, total) : '–';
      return row([k].concat(cells, [okShare]));
    });
    if (!rows.length) return card('Outcomes', note('Nothing was attempted.'), { id: 'outcomes' });
    return card('Outcomes', table(['kind'].concat(outcomeColumns, ['ok share']), rows), { id: 'outcomes' });
  }

  function errorsCard() {
    const errors = isObject(summary.errors) ? summary.errors : {};
    const kinds = Object.keys(errors).filter((k) => isNumber(errors[k]));
    kinds.sort((a, b) => errors[b] - errors[a] || a.localeCompare(b));
    if (!kinds.length) return card('Errors by kind', note('No error.'), { id: 'errors' });
    return card('Errors by kind', table(['kind', 'count'], kinds.map((k) =>
      row([el('td', { class: 'text', text: k }), el('td', { class: errors[k] > 0 ? 'bad' : '', text: fmt(errors[k]) })]))),
    { id: 'errors' });
  }

  function faultsCard() {
    const faults = faultList();
    if (!faults.length) return card('Faults', note('No fault was injected.'), { id: 'faults', span: 2 });
    return card('Faults', table(['at', 'kind', 'detail'], faults.map((f) =>
      row([fmtSeconds(f.at_s), el('td', { class: 'text', text: String(f.kind || '') }),
        el('td', { class: 'text', text: String(f.detail || '') })]))), { id: 'faults', span: 2 });
  }

  // Part 2 (several worker processes): shown only when the summary has them.
  function workersCard() {
    const workers = summary.workers.filter(isObject);
    if (!workers.length) return card('Workers', note('No worker.'), { id: 'workers' });
    return card('Workers', table(['worker', 'host', 'users', 'lost at', 're-spawned'], workers.map((w) => {
      const lost = isNumber(w.lost_at);
      return row([String(w.id), el('td', { class: 'text', text: String(w.host || '') }), fmt(w.users),
        el('td', { class: lost ? 'bad' : '', text: lost ? fmtSeconds(w.lost_at) : '–' }),
        lost && isNumber(w.respawned) ? fmt(w.respawned) : '–']);
    })), { id: 'workers' });
  }

  function faultList() {
    return (Array.isArray(summary.faults) ? summary.faults : []).filter((f) => isObject(f) && isNumber(f.at_s));
  }

  // -- charts ----------------------------------------------------------------

  // Chart.js 3.9 has no annotation plugin: vertical dashed lines with a label
  // at the top, one per marker ({x, label} in the x scale's units).
  const markerPlugin = {
    id: 'phxMarkers',
    afterDatasetsDraw(chart, _args, options) {
      const markers = options.markers || [];
      const area = chart.chartArea;
      const x = chart.scales.x;
      if (!markers.length || !area || !x) return;
      const ctx = chart.ctx;
      ctx.save();
      ctx.font = '600 11px system-ui, sans-serif';
      ctx.textBaseline = 'top';
      markers.forEach((m, i) => {
        const px = x.getPixelForValue(m.x);
        if (!Number.isFinite(px) || px < area.left - 0.5 || px > area.right + 0.5) return;
        const color = m.color || colors.fault;
        ctx.strokeStyle = color;
        ctx.lineWidth = 1.5;
        ctx.setLineDash([5, 4]);
        ctx.beginPath();
        ctx.moveTo(px, area.top);
        ctx.lineTo(px, area.bottom);
        ctx.stroke();
        if (!m.label) return;
        // Labels of nearby markers are staggered over three rows.
        const y = area.top + 2 + (i % 3) * 15;
        const w = ctx.measureText(m.label).width + 8;
        const left = px + w + 2 > area.right ? px - w - 2 : px + 2;
        ctx.setLineDash([]);
        ctx.fillStyle = 'rgba(255, 255, 255, 0.85)';
        ctx.fillRect(left, y - 1, w, 14);
        ctx.fillStyle = color;
        ctx.fillText(m.label, left + 4, y);
      });
      ctx.restore();
    },
  };

  Chart.defaults.font.family = 'system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif';
  Chart.defaults.color = '#57606a';
  Chart.defaults.animation = false;
  Chart.defaults.maintainAspectRatio = false;
  Chart.defaults.elements.point.radius = 0;
  Chart.defaults.elements.point.hoverRadius = 3;
  Chart.defaults.elements.line.borderWidth = 1.6;
  Chart.defaults.plugins.legend.labels.boxWidth = 14;
  Chart.defaults.plugins.legend.labels.boxHeight = 2;

  function timeMarkers() {
    const markers = faultList().map((f) => ({ x: f.at_s, label: String(f.kind || 'fault') }));
    if (Array.isArray(summary.workers)) {
      for (const w of summary.workers) {
        if (isObject(w) && isNumber(w.lost_at)) {
          markers.push({ x: w.lost_at, label: 'worker ' + w.id + ' lost', color: colors.purple });
        }
        if (isObject(w) && isNumber(w.recovered_at)) {
          markers.push({ x: w.recovered_at, label: 'worker ' + w.id + ' re-spawned', color: colors.green });
        }
      }
    }
    return markers.sort((a, b) => a.x - b.x);
  }

  function line(label, name, color, extra) {
    return Object.assign({ label, data: points(name), borderColor: color, backgroundColor: color }, extra || {});
  }

  function timeAxis() {
    const last = times.length ? times[times.length - 1] : 0;
    // Whole seconds: Chart.js would space the ticks to end exactly on 45.0001.
    const max = Math.round(Math.max(last, isNumber(summary.duration_s) ? summary.duration_s : 0));
    // Ticks on round steps of the clock (15 s, 1 min, 5 min, ...), as min:s past 3 minutes.
    const minutes = max >= 180;
    const step = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200].find((s) => max / s <= 12) || 14400;
    return {
      type: 'linear', min: 0, max: max > 0 ? max : undefined,
      title: { display: true, text: minutes ? 'time (min:s)' : 'time (s)' },
      ticks: {
        stepSize: step, includeBounds: false,
        callback: (v) => (minutes ? Math.floor(v / 60) + ':' + String(Math.round(v % 60)).padStart(2, '0') : Math.round(v)),
      },
      grid: { color: '#eef0f2' },
    };
  }

  function valueAxis(title, extra) {
    return Object.assign({ beginAtZero: true, title: { display: true, text: title }, grid: { color: '#eef0f2' } }, extra || {});
  }

  // A chart in its card, or a note when the run has no sample for it.
  function chartCard(key, title, emptyText, config, options) {
    const opts = options || {};
    const hasData = opts.hasData !== undefined ? opts.hasData : hasValues(config.data.datasets);
    if (!hasData) return card(title, el('div', { class: 'chart-empty', text: emptyText }), { id: 'chart-' + key });
    const canvas = el('canvas', { id: 'canvas-' + key, role: 'img', 'aria-label': title });
    const section = card(title, el('div', { class: 'chart-box' }, canvas), { id: 'chart-' + key, aside: opts.aside, wide: opts.wide });
    section.phxDraw = () => { charts[key] = new Chart(canvas, config); };
    return section;
  }

  function timeChart(allDatasets, yTitle) {
    // A column without a single sample (no push in the run) is left out.
    const datasets = allDatasets.filter((d) => hasValues([d]));
    const options = {
      parsing: false,
      interaction: { mode: 'index', intersect: false },
      scales: { x: timeAxis(), y: valueAxis(yTitle) },
      plugins: {
        phxMarkers: { markers: timeMarkers() },
        tooltip: { callbacks: { title: (items) => (items.length ? 't = ' + fmtSeconds(items[0].parsed.x) : '') } },
      },
    };
    return { type: 'line', data: { datasets }, options, plugins: [markerPlugin] };
  }

  function usersChart() {
    const datasets = [
      line('joined', 'users_joined', colors.green, { fill: 'origin', backgroundColor: 'rgba(84, 162, 75, 0.12)' }),
      line('open', 'users_open', colors.blue),
      line('connecting', 'users_connecting', colors.orange),
    ];
    const hasData = hasValues(datasets);
    const target = isObject(summary.users) ? summary.users.target : undefined;
    if (isNumber(target) && target > 0 && times.length) {
      datasets.push({ label: 'target', data: [{ x: 0, y: target }, { x: times[times.length - 1], y: target }],
        borderColor: colors.grey, backgroundColor: colors.grey, borderDash: [6, 4], borderWidth: 1 });
    }
    return chartCard('users', 'Users connected and joined', 'No user was started.',
      timeChart(datasets, 'users'), { hasData, wide: true, aside: markersNote() });
  }

  function markersNote() {
    const markers = timeMarkers();
    if (!markers.length) return null;
    const workers = markers.some((m) => m.color === colors.purple);
    return el('span', { class: 'aside', text: 'dashed lines: faults' + (workers ? ', workers lost (purple) and their users re-spawned (green)' : '') + ' (on every chart over time)' });
  }

  function throughputChart() {
    const datasets = [
      line('pushes sent', 'pushes_sent', colors.blue),
      line('replies ok', 'replies_ok', colors.green),
      line('replies error', 'replies_error', colors.red),
    ];
    const hasData = datasets.some((d) => d.data.some((p) => p.y > 0));
    return chartCard('throughput', 'Throughput (per second)', 'No push was sent.', timeChart(datasets, 'per second'), { hasData });
  }

  function latencyChart() {
    const datasets = [
      line('push p50', 'push_p50_ms', colors.blue),
      line('push p90', 'push_p90_ms', colors.teal),
      line('push p99', 'push_p99_ms', colors.orange),
      line('push max', 'push_max_ms', colors.red, { borderWidth: 1 }),
      // Joins are usually slower than pushes: shown by default only without pushes.
      line('join p99', 'join_p99_ms', colors.purple, { borderDash: [5, 3], hidden: hasValues([{ data: points('push_p99_ms') }]) }),
    ];
    // A restart's spike of seconds flattens milliseconds: then log scale by default.
    const p50s = column('push_p50_ms').filter(isNumber).sort((a, b) => a - b);
    const peak = Math.max(0, ...column('push_max_ms').filter(isNumber));
    const spiky = p50s.length > 0 && peak > 50 * p50s[Math.floor(p50s.length / 2)];
    const toggle = logToggle('latency', 'y', () => valueAxis('ms'), spiky);
    const config = timeChart(datasets, 'ms');
    config.options.scales.y = toggle.axis();
    const section = chartCard('latency', 'Latency percentiles over time (ms)', 'No push or join latency was sampled.',
      config, { aside: toggle.label });
    toggle.bind();
    return section;
  }

  // A "log scale" checkbox switching the axis `axis` of chart `key`.
  function logToggle(key, axis, linear, checked) {
    const box = el('input', { type: 'checkbox', id: key + '-log' });
    box.checked = checked;
    const logTicks = { callback: (v) => (/^[125]$/.test(Number(v).toExponential(0).split('e')[0]) && Number(Number(v).toPrecision(1)) === v ? fmt(v) : '') };
    const make = () => (box.checked ? Object.assign(linear(), { type: 'logarithmic', beginAtZero: false, ticks: logTicks }) : linear());
    return {
      label: el('label', { class: 'toggle' }, [box, ' log scale']),
      axis: make,
      bind() {
        box.addEventListener('change', () => {
          const chart = charts[key];
          if (!chart) return;
          chart.options.scales[axis] = make();
          chart.update();
        });
      },
    };
  }

  // The engine's log-bucketed histogram is fine-grained (about 1 % wide
  // buckets): shown in display bins of a tenth of a decade, with the
  // cumulative share of pushes on the right axis.
  function distributionChart() {
    const hist = (Array.isArray(summary.push_histogram) ? summary.push_histogram : [])
      .filter((b) => Array.isArray(b) && isNumber(b[0]) && isNumber(b[1]) && b[1] > 0);
    const perDecade = 10;
    const minBin = -3 * perDecade; // 1 µs
    const bins = new Map();
    let total = 0;
    for (const [upper, count] of hist) {
      const k = upper > 0 ? Math.max(minBin, Math.ceil(Math.log10(upper) * perDecade - 1e-9)) : minBin;
      bins.set(k, (bins.get(k) || 0) + count);
      total += count;
    }
    const keys = [...bins.keys()];
    const labels = [];
    const counts = [];
    const cumulative = [];
    const edges = [];
    if (keys.length) {
      let running = 0;
      for (let k = Math.min(...keys); k <= Math.max(...keys); k++) {
        const edge = Math.pow(10, k / perDecade);
        const count = bins.get(k) || 0;
        running += count;
        edges.push(edge);
        const short = (v) => String(Number(v.toPrecision(2)));
        labels.push('≤ ' + (edge < 1000 ? short(edge) + ' ms' : short(edge / 1000) + ' s'));
        counts.push(count);
        cumulative.push((100 * running) / total);
      }
    }
    const push = isObject(summary.latency_ms) && isObject(summary.latency_ms.push) ? summary.latency_ms.push : {};
    const markers = ['p50', 'p90', 'p99'].filter((p) => isNumber(push[p]) && edges.length).map((p) => {
      const index = edges.findIndex((e) => e >= push[p] * (1 - 1e-9));
      return { x: index < 0 ? edges.length - 1 : index, label: p + ' ' + fmtMs(push[p]), color: '#444c56' };
    });
    const toggle = logToggle('distribution', 'y', () => valueAxis('pushes'), false);
    const config = {
      data: {
        labels,
        datasets: [
          { type: 'bar', label: 'pushes', data: counts, backgroundColor: 'rgba(76, 120, 168, 0.75)',
            barPercentage: 1, categoryPercentage: 1, yAxisID: 'y', order: 2 },
          { type: 'line', label: 'cumulative %', data: cumulative, borderColor: colors.orange,
            backgroundColor: colors.orange, yAxisID: 'y1', order: 1 },
        ],
      },
      options: {
        interaction: { mode: 'index', intersect: false },
        scales: {
          x: { title: { display: true, text: 'push round trip (upper bound of bin)' }, grid: { display: false },
            ticks: { maxRotation: 0, autoSkip: true, maxTicksLimit: 10 } },
          y: toggle.axis(),
          y1: { position: 'right', min: 0, max: 100, title: { display: true, text: 'cumulative %' }, grid: { display: false } },
        },
        plugins: { phxMarkers: { markers } },
      },
      plugins: [markerPlugin],
    };
    const aside = el('span', { class: 'aside', text: fmt(total) + ' pushes ·' });
    const section = chartCard('distribution', 'Push latency distribution', 'No push reply was timed.', config,
      { hasData: total > 0, aside: el('span', {}, [aside, ' ', toggle.label]), wide: true });
    toggle.bind();
    return section;
  }

  function errorsChart() {
    const datasets = [
      line('replies error', 'replies_error', colors.red),
      line('timeouts', 'timeouts', colors.orange),
      line('failed', 'failed', colors.purple),
      line('errors', 'errors', colors.brown),
    ];
    const anyError = datasets.some((d) => d.data.some((p) => p.y > 0));
    const aside = el('span', { class: 'aside', text: anyError ? '' : 'no error in this run' });
    return chartCard('errors', 'Errors over time (per second)', 'No second was sampled.',
      timeChart(datasets, 'per second'), { aside });
  }

  function lagChart() {
    const datasets = [line('generator lag p99', 'lag_p99_ms', colors.brown, { fill: 'origin', backgroundColor: 'rgba(157, 117, 93, 0.12)' })];
    const lag = summary.generator_lag_ms;
    const aside = el('span', { class: 'aside', text: isObject(lag) && isNumber(lag.p99) ? 'run p99 ' + fmtMs(lag.p99) : '' });
    return chartCard('lag', 'Generator lag over time (ms)', 'No send was scheduled.', timeChart(datasets, 'ms'), { aside });
  }

  // One line per worker of column `ID_<suffix>` of workers.csv.
  function workerLines(suffix) {
    const palette = [colors.blue, colors.orange, colors.teal, colors.red, colors.green, colors.yellow, colors.brown, colors.grey];
    const ids = Object.keys(workerSeries).filter((k) => k.endsWith('_' + suffix)).map((k) => k.slice(0, -suffix.length - 1));
    return ids.map((id, i) => {
      const values = workerSeries[id + '_' + suffix];
      const data = workerTimes.map((t, j) => ({ x: t, y: isNumber(values[j]) ? values[j] : null }));
      const color = palette[i % palette.length];
      return { label: id, data, borderColor: color, backgroundColor: color };
    });
  }

  function workerUsersChart() {
    return chartCard('worker-users', 'Users joined per worker', 'No worker second was sampled.',
      timeChart(workerLines('joined'), 'users'));
  }

  function workerLagChart() {
    return chartCard('worker-lag', 'Generator lag per worker (p99, ms)', 'No send was scheduled on a worker.',
      timeChart(workerLines('lag_p99_ms'), 'ms'));
  }

  // -- page ------------------------------------------------------------------

  document.title = 'phx-fleet · ' + (summary.scenario || 'report');
  renderHeader();
  const tables = [usersCard(), thresholdsCard(), outcomesCard(), latencyCard(), errorsCard(), faultsCard()];
  if (Array.isArray(summary.workers)) tables.push(workersCard());
  root.append(el('div', { class: 'grid tables' }, tables));
  const chartSections = [usersChart(), throughputChart(), latencyChart(), errorsChart(), lagChart(), distributionChart()];
  if (workerTimes.length) chartSections.push(workerUsersChart(), workerLagChart());
  root.append(el('div', { class: 'grid charts' }, chartSections));
  root.append(el('footer', { text: 'phx-fleet report · charts by Chart.js ' + Chart.version +
    ' · summary.json and series.csv sit next to this file.' }));
  // Charts are drawn once their cards are in the page, so they take its width.
  for (const section of chartSections) if (section.phxDraw) section.phxDraw();
  // For tests and for anyone at the console: the Chart instances by name.
  window.phxReport = { charts, data };
})();
