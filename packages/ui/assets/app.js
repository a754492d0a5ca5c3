// The checkpoint history page (browser side). Plain ES module, no build step: it fetches
// /api/checkpoints and /api/savepoints and renders tables and uPlot charts, in the layout of the
// checkpoint tab of Flink's web UI. Every value shown comes from the JSON; nothing is computed
// here that the server does not also expose, so a test can compare the page with the files.
/* global uPlot */

const $ = (id) => document.getElementById(id);

function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs ?? {})) {
    if (k === 'class') e.className = v;
    else if (k === 'onclick') e.addEventListener('click', v);
    else e.setAttribute(k, v);
  }
  for (const c of children) e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return e;
}

function bytes(n) {
  if (n === undefined || n === null) return '—';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) { v /= 1024; i++; }
  return `${i === 0 ? v : v.toFixed(1)} ${units[i]}`;
}

const ms = (n) => (n === undefined || n === null ? '—' : `${Math.round(n)} ms`);
const time = (t) => (t === undefined ? '—' : new Date(t).toISOString().replace('T', ' ').replace('Z', ''));
const num = (text, attrs = {}) => el('td', { class: 'num', ...attrs }, text);

function renderCounts(overview) {
  const c = overview.checkpoints;
  const completed = c.filter((x) => x.status === 'COMPLETED').length;
  const failed = overview.history.filter((h) => h.status === 'FAILED').length;
  const latest = c.filter((x) => x.status === 'COMPLETED').at(-1);
  $('counts').replaceChildren(
    el('div', { 'data-testid': 'count-completed' }, el('b', {}, completed), 'completed'),
    el('div', { 'data-testid': 'count-incomplete' }, el('b', {}, c.length - completed), 'incomplete'),
    el('div', { 'data-testid': 'count-failed' }, el('b', {}, failed), 'failed (history)'),
    el('div', { 'data-testid': 'latest' }, el('b', {}, latest ? latest.checkpointId : '—'), 'latest completed'),
  );
}

function renderHistory(overview) {
  const rows = overview.checkpoints.map((c) => {
    const h = c.history;
    const tr = el('tr', { class: 'selectable', 'data-checkpoint-id': c.checkpointId, onclick: () => showDetails(c, tr) },
      el('td', {}, c.checkpointId),
      el('td', { class: `status-${c.status}` }, c.status),
      el('td', {}, c.kind ?? h?.kind ?? '—'),
      el('td', {}, time(h?.triggerTimestamp ?? c.timestamp)),
      num(ms(h?.durationMs), { 'data-ms': h?.durationMs ?? '' }), num(ms(h?.syncDurationMaxMs)), num(ms(h?.asyncDurationMaxMs)), num(ms(h?.alignmentDurationMaxMs)),
      num(bytes(c.checkpointedSize), { 'data-bytes': c.checkpointedSize }),
      num(bytes(c.fullSize), { 'data-bytes': c.fullSize }),
      num(c.files.length));
    return tr;
  });
  $('history').tBodies[0].replaceChildren(...rows);
}

function showDetails(c, tr) {
  for (const r of $('history').querySelectorAll('tr.selected')) r.classList.remove('selected');
  tr.classList.add('selected');
  $('details').hidden = false;
  $('details-title').textContent = `Checkpoint ${c.checkpointId} · ${c.pointer}`;
  $('details-problem').textContent = c.problem ?? '';
  const acks = new Map((c.history?.subtasks ?? []).map((a) => [`${a.operatorUid}/${a.subtaskIndex}`, a]));
  const ops = c.operators.flatMap((o) => o.subtasks.map((s) => {
    const a = acks.get(`${o.uid}/${s.index}`);
    return el('tr', { 'data-uid': o.uid, 'data-subtask': s.index },
      el('td', {}, `${o.uid} (${o.parallelism}/${o.maxParallelism})`), num(s.index),
      num(ms(a?.syncDurationMs)), num(ms(a?.asyncDurationMs)), num(ms(a?.alignmentDurationMs)),
      num(bytes(s.keyedBytes)), num(bytes(s.operatorBytes)), num(bytes(s.channelBytes)), num(s.files), el('td', {}, s.finished ? 'yes' : ''));
  }));
  $('operators').tBodies[0].replaceChildren(...ops);
  const files = c.files.map((f) => el('tr', { 'data-path': f.path, 'data-inline': String(f.inline) },
    el('td', {}, el('code', {}, f.path)), num(bytes(f.size), { 'data-bytes': f.size }), el('td', {}, f.inline ? 'inline in _metadata' : f.shared ? 'shared' : 'exclusive'), el('td', {}, f.reused ? 'yes' : '')));
  $('files').tBodies[0].replaceChildren(...files);
}

function chart(target, title, xs, series, format) {
  const width = Math.min(560, Math.max(320, (window.innerWidth - 96) / 2));
  const opts = {
    title, width, height: 220,
    scales: { x: { time: false } },
    axes: [
      { label: 'checkpoint', incrs: [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000], values: (_u, vals) => vals.map((v) => (Number.isInteger(v) ? v : '')) },
      { size: 72, values: (_u, vals) => vals.map(format) },
    ],
    series: [{ label: 'checkpoint' }, ...series.map((s) => ({ label: s.label, stroke: s.color, width: 2, points: { show: true } }))],
  };
  target.replaceChildren();
  return new uPlot(opts, [xs, ...series.map((s) => s.values)], target);
}

function renderCharts(overview) {
  const done = overview.checkpoints.filter((c) => c.status === 'COMPLETED');
  const xs = done.map((c) => c.checkpointId);
  const h = (c, k) => (c.history ? c.history[k] : null);
  chart($('chart-duration'), '', xs, [{ label: 'duration', color: '#3461c1', values: done.map((c) => h(c, 'durationMs')) }], ms);
  chart($('chart-size'), '', xs, [
    { label: 'checkpointed', color: '#16794a', values: done.map((c) => c.checkpointedSize) },
    { label: 'full', color: '#8a5cf6', values: done.map((c) => c.fullSize) },
  ], bytes);
  chart($('chart-phases'), '', xs, [
    { label: 'sync', color: '#d97706', values: done.map((c) => h(c, 'syncDurationMaxMs')) },
    { label: 'async', color: '#3461c1', values: done.map((c) => h(c, 'asyncDurationMaxMs')) },
    { label: 'alignment', color: '#b3261e', values: done.map((c) => h(c, 'alignmentDurationMaxMs')) },
  ], ms);
}

async function renderSavepoints() {
  const list = await (await fetch('/api/savepoints')).json();
  if (list.error) { $('savepoints').replaceChildren(el('li', { class: 'problem' }, list.error)); return; }
  const items = list.savepoints.map((s) => el('li', {}, el('button', { 'data-savepoint': s.name, onclick: () => inspect(s.name) }, s.name), ` ${bytes(s.bytes)}`));
  // The server stops at its bounds: say that the list is cut rather than show it as whole.
  if (list.truncated) items.push(el('li', { class: 'problem', 'data-testid': 'savepoints-truncated' }, `list cut: the savepoint directory holds more than ${list.limits.files} files or ${list.limits.savepoints} savepoints, so some savepoints are missing and sizes may count only some of their files`));
  const none = list.location === null ? 'no savepoint directory given (--savepoints)' : `no savepoints in ${list.location}`;
  $('savepoints').replaceChildren(...(items.length ? items : [el('li', {}, none)]));
}

async function inspect(name) {
  const r = await (await fetch(`/api/savepoints/${encodeURIComponent(name)}`)).json();
  if (r.error) { $('savepoint').replaceChildren(el('p', { class: 'problem' }, r.error)); return; }
  const rows = r.operators.flatMap((o) => [
    ...o.keyedStates.map((s) => el('tr', { 'data-uid': o.uid, 'data-state': s.name },
      el('td', {}, o.uid), el('td', {}, s.name), el('td', {}, `keyed ${s.kind}`), num(s.entries ?? '—'), num(bytes(s.bytes)))),
    ...o.operatorStates.map((s) => el('tr', { 'data-uid': o.uid, 'data-state': s.name },
      el('td', {}, o.uid), el('td', {}, s.name), el('td', {}, `operator ${s.mode}`), num(s.elements), num('—'))),
  ]);
  $('savepoint').replaceChildren(
    el('p', {}, `${r.directory} · format ${r.formatDescription ?? r.formatVersion}`),
    el('table', { 'data-testid': 'savepoint-states' },
      el('thead', {}, el('tr', {}, el('th', {}, 'Operator'), el('th', {}, 'State'), el('th', {}, 'Kind'), el('th', { class: 'num' }, 'Entries'), el('th', { class: 'num' }, 'Bytes'))),
      el('tbody', {}, ...rows)));
}

async function main() {
  const overview = await (await fetch('/api/checkpoints')).json();
  $('storage').textContent = overview.storage;
  renderCounts(overview);
  renderHistory(overview);
  renderCharts(overview);
  const last = $('history').tBodies[0].querySelector('tr:last-child');
  if (last) last.click();
  await renderSavepoints();
  document.body.dataset.ready = 'true';
}

main().catch((e) => { document.body.dataset.error = String(e); document.body.prepend(el('p', { class: 'problem' }, String(e))); });
