// The WASP audit console: plain JavaScript, no build step. Every piece of
// data is rendered with textContent (never innerHTML), and the server
// decides what a token may see: this page only asks.
'use strict';

const $ = (id) => document.getElementById(id);
const MAX_PAGE_SIZE = 1000;
let token = sessionStorage.getItem('wasp-token') || '';
let session = null;
let sortKey = '-timestamp';
let cookies = [];        // the cookie of each page shown so far (null: the first)
let lastQuery = null;    // {topic, tenant, filter, pageSize}

function el(tag, text, cls) {
  const node = document.createElement(tag);
  if (text !== undefined && text !== null) node.textContent = String(text);
  if (cls) node.className = cls;
  return node;
}

class ApiError extends Error {}

async function api(path, options = {}) {
  const headers = Object.assign({ Authorization: 'Bearer ' + token }, options.headers || {});
  let response;
  try {
    response = await fetch(path, Object.assign({}, options, { headers }));
  } catch (e) {
    throw new ApiError('The sidecar cannot be reached: ' + e.message);
  }
  const text = await response.text();
  let body = null;
  try { body = text ? JSON.parse(text) : null; } catch (_) { body = null; }
  if (!response.ok) {
    const message = body && (body.message || (body.error && body.error.message)) || text || response.statusText;
    throw new ApiError(response.status + ': ' + message);
  }
  return body;
}

// ---- sign-in ---------------------------------------------------------------

async function signIn(candidate) {
  token = candidate;
  try {
    session = await api('/console/api/session');
  } catch (e) {
    token = '';
    sessionStorage.removeItem('wasp-token');
    $('signin-error').textContent = 'Sign-in refused: ' + e.message;
    return;
  }
  sessionStorage.setItem('wasp-token', token);
  $('signin-error').textContent = '';
  $('signin').hidden = true;
  $('tabs').hidden = false;
  $('signout').hidden = false;
  $('who').textContent = session.role === 'tenant' ? 'tenant ' + session.tenant : session.role;
  fillScopes();
  showTab('events');
}

function signOut() {
  stopTail();
  token = '';
  session = null;
  sessionStorage.removeItem('wasp-token');
  location.reload();
}

function fillScopes() {
  const scope = $('scope');
  scope.replaceChildren();
  for (const name of Object.keys(session.scopes)) {
    const option = el('option', name === '' ? 'top level' : 'tenant ' + name);
    option.value = name;
    scope.append(option);
  }
  fillTopics();
}

function fillTopics() {
  const topics = Object.keys((session.scopes[$('scope').value]) || {});
  const topic = $('topic');
  topic.replaceChildren(...topics.map((t) => { const o = el('option', t); o.value = t; return o; }));
  fillExport();
}

// ---- export (GET /export/{topic}: the records with a signed manifest and proofs)

/** Offers the formats the scope's query handler exports the topic in. */
function fillExport() {
  const info = ((session.exports || {})[$('scope').value] || {})[$('topic').value] || { formats: [], reason: 'no topic' };
  const labels = { ndjson: 'NDJSON', csv: 'CSV' };
  $('export-format').replaceChildren(...info.formats.map((f) => { const o = el('option', labels[f] || f); o.value = f; return o; }));
  $('export-button').disabled = info.formats.length === 0;
  $('export-button').title = info.reason || '';
  $('export-status').textContent = info.formats.length ? '' : 'Export not available: ' + (info.reason || '');
}

/** The file name of a `Content-Disposition: attachment; filename="…"`. */
function attachmentName(disposition, fallback) {
  const match = /filename="([A-Za-z0-9._-]+)"/.exec(disposition || '');
  return match ? match[1] : fallback;
}

/**
 * Downloads the export of the search form's filter: fetched with the
 * token in the Authorization header (never in the URL), then saved from a
 * Blob.
 */
async function exportEvents() {
  $('export-status').textContent = '';
  let url;
  const format = $('export-format').value;
  try {
    const topic = $('topic').value;
    if (!topic) throw new ApiError('Choose a topic.');
    const params = new URLSearchParams({ _queryFilter: buildFilter(), format });
    if ($('scope').value) params.set('tenant', $('scope').value);
    url = '/export/' + encodeURIComponent(topic) + '?' + params;
  } catch (e) {
    $('export-status').textContent = 'Export failed: ' + e.message;
    return;
  }
  $('export-button').disabled = true;
  $('export-status').textContent = 'Exporting…';
  try {
    const response = await fetch(url, { headers: { Authorization: 'Bearer ' + token } });
    if (!response.ok) {
      const text = await response.text();
      let message = text || response.statusText;
      try { message = JSON.parse(text).message || message; } catch (_) { /* not JSON */ }
      throw new ApiError(response.status + ': ' + message);
    }
    const blob = await response.blob();
    const name = attachmentName(response.headers.get('Content-Disposition'), 'export.' + format);
    const link = el('a');
    link.href = URL.createObjectURL(blob);
    link.download = name;
    link.hidden = true;
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(link.href), 60000);
    $('export-status').textContent = 'Downloaded ' + name + ' (' + blob.size + ' bytes).';
  } catch (e) {
    $('export-status').textContent = 'Export failed: ' + (e instanceof ApiError ? e.message : 'the sidecar cannot be reached: ' + e.message);
  }
  $('export-button').disabled = false;
}

function showTab(name) {
  for (const id of ['events', 'handlers', 'tail']) $(id).hidden = id !== name;
  for (const b of document.querySelectorAll('nav button')) b.classList.toggle('active', b.dataset.tab === name);
  if (name === 'handlers') loadHandlers();
}

// ---- events ----------------------------------------------------------------

/** A `_queryFilter` string value: JSON's quoting is the filter's. */
const q = (value) => JSON.stringify(value);

function isoTime(id) {
  const value = $(id).value;
  if (!value) return null;
  const date = new Date(value);
  if (Number.isNaN(date.getTime())) throw new ApiError('The time in "' + id + '" is not a date.');
  return date.toISOString();
}

function buildFilter() {
  const parts = [];
  const from = isoTime('from');
  const to = isoTime('to');
  if (from && to && from > to) throw new ApiError('"From" is after "To".');
  if (from) parts.push('timestamp ge ' + q(from));
  if (to) parts.push('timestamp le ' + q(to));
  const user = $('user').value.trim();
  if (user) parts.push('userId eq ' + q(user));
  const name = $('event-name').value.trim();
  if (name) parts.push('eventName eq ' + q(name));
  const result = $('result').value.trim();
  if (result) parts.push('(result eq ' + q(result) + ' or response/status eq ' + q(result) + ')');
  const text = $('text').value.trim();
  if (text) {
    const fields = ['_id', 'userId', 'eventName', 'transactionId', 'result', 'response/status', 'request/operation', 'objectId'];
    parts.push('(' + fields.map((f) => f + ' co ' + q(text)).join(' or ') + ')');
  }
  const raw = $('raw').value.trim();
  if (raw) parts.push('(' + raw + ')');
  return parts.length ? parts.join(' and ') : 'true';
}

function pageSize() {
  const text = $('page-size').value.trim();
  if (!/^[0-9]{1,7}$/.test(text) || Number(text) < 1 || Number(text) > MAX_PAGE_SIZE) {
    throw new ApiError('Page size must be a whole number from 1 to ' + MAX_PAGE_SIZE + ' (got "' + text + '").');
  }
  return Number(text);
}

async function search() {
  $('events-error').textContent = '';
  $('events-status').textContent = 'Searching…';
  try {
    const topic = $('topic').value;
    if (!topic) throw new ApiError('Choose a topic.');
    lastQuery = { topic, tenant: $('scope').value, filter: buildFilter(), pageSize: pageSize() };
  } catch (e) {
    showEventsError(e);
    return;
  }
  cookies = [null];
  await loadPage();
}

function showEventsError(e) {
  $('events-error').textContent = e.message;
  $('events-status').textContent = '';
  $('results').tBodies[0].replaceChildren();
  $('next-page').disabled = true;
}

async function loadPage() {
  const { topic, tenant, filter, pageSize: size } = lastQuery;
  const params = new URLSearchParams({ _queryFilter: filter, _pageSize: String(size), _sortKeys: sortKey });
  const cookie = cookies[cookies.length - 1];
  if (cookie) params.set('_pagedResultsCookie', cookie);
  if (tenant) params.set('tenant', tenant);
  let page;
  try {
    page = await api('/audit/' + encodeURIComponent(topic) + '?' + params);
  } catch (e) {
    showEventsError(e);
    return;
  }
  $('events-error').textContent = '';
  const body = $('results').tBodies[0];
  body.replaceChildren(...page.result.map((event) => eventRow(topic, tenant, event)));
  const first = (cookies.length - 1) * size;
  $('events-status').textContent = page.result.length
    ? 'Events ' + (first + 1) + '–' + (first + page.result.length) + ' of ' + page.totalPagedResults + ' (page ' + cookies.length + ')'
    : 'No event matches.';
  $('next-page').disabled = !page.pagedResultsCookie;
  $('first-page').disabled = cookies.length <= 1;
  $('next-page').dataset.cookie = page.pagedResultsCookie || '';
}

function resultOf(event) {
  if (event.result !== undefined) return event.result;
  return event.response && event.response.status;
}

function eventRow(topic, tenant, event) {
  const row = el('tr', null, 'event');
  for (const value of [event.timestamp, event._id, event.userId, event.eventName, resultOf(event)]) {
    row.append(el('td', typeof value === 'object' && value !== null ? JSON.stringify(value) : value));
  }
  row.tabIndex = 0;
  row.addEventListener('click', () => openEvent(topic, tenant, event._id));
  return row;
}

async function openEvent(topic, tenant, id) {
  const params = tenant ? '?tenant=' + encodeURIComponent(tenant) : '';
  try {
    const event = await api('/audit/' + encodeURIComponent(topic) + '/' + encodeURIComponent(id) + params);
    $('detail-id').textContent = id;
    $('detail-json').textContent = JSON.stringify(event, null, 2);
    const receivers = ((session.scopes[tenant] || {})[topic]) || [];
    $('detail-handlers').textContent = receivers.length ? receivers.join(', ') : 'no handler';
    $('detail').hidden = false;
  } catch (e) {
    $('events-error').textContent = e.message;
  }
}

// ---- handlers and dead letters -----------------------------------------------

async function loadHandlers() {
  $('handlers-error').textContent = '';
  let answer;
  try {
    answer = await api('/console/api/handlers');
  } catch (e) {
    $('handlers-error').textContent = e.message;
    return;
  }
  const body = $('handler-table').tBodies[0];
  body.replaceChildren(...answer.handlers.map((h) => handlerRow(h, answer.admin)));
}

function handlerRow(h, admin) {
  const row = el('tr');
  row.dataset.handler = h.name;
  row.append(el('td', h.name));
  const why = h.disabledReason || h.outputError || h.reloadError;
  row.append(el('td', h.state + (why ? ': ' + why : ''), 'state-' + h.state));
  row.append(el('td', h.lag === null || h.lag === undefined ? '–' : h.lag));
  row.append(el('td', h.received));
  row.append(el('td', h.delivered));
  const kinds = Object.entries(h.faults || {}).map(([k, n]) => k + ' ' + n).join(', ');
  row.append(el('td', h.deadLettered + (kinds ? ' (' + kinds + ')' : '')));
  row.append(el('td', h.fuelPerEvent));
  row.append(el('td', h.lastFault || ''));
  const actions = el('td');
  if (admin) {
    const button = el('button', 'Dead letters');
    button.type = 'button';
    button.addEventListener('click', () => openLetters(h.name));
    const verify = el('button', 'Verify log');
    verify.type = 'button';
    verify.addEventListener('click', () => verifyLog(h.name));
    actions.append(button, ' ', verify);
  }
  row.append(actions);
  return row;
}

let lettersHandler = null;

async function openLetters(handler) {
  lettersHandler = handler;
  $('letters').hidden = false;
  $('letters-handler').textContent = handler;
  $('letter-json').hidden = true;
  $('replay-result').textContent = '';
  await loadLetters();
}

async function loadLetters() {
  let answer;
  try {
    answer = await api('/console/api/dead-letters?handler=' + encodeURIComponent(lettersHandler));
  } catch (e) {
    $('letters-status').textContent = e.message;
    return;
  }
  $('letters-status').textContent = answer.total + ' dead letter(s)' + (answer.total > answer.deadLetters.length ? ', the newest ' + answer.deadLetters.length + ' shown' : '');
  $('replay').disabled = answer.total === 0;
  const body = $('letter-table').tBodies[0];
  body.replaceChildren(...answer.deadLetters.map((l) => {
    const row = el('tr');
    row.append(el('td', l.time), el('td', l.fault.kind), el('td', l.attempts), el('td', l.event.id + ' (' + l.event.topic + ')'),
      el('td', (l.fault.message || '').split('\n')[0].slice(0, 200)));
    const show = el('button', 'Show');
    show.type = 'button';
    show.addEventListener('click', () => showLetter(l.id));
    const cell = el('td');
    cell.append(show);
    row.append(cell);
    return row;
  }));
}

async function showLetter(id) {
  try {
    const letter = await api('/console/api/dead-letters/' + encodeURIComponent(id));
    $('letter-json').textContent = JSON.stringify(letter, null, 2);
    $('letter-json').hidden = false;
  } catch (e) {
    $('letters-status').textContent = e.message;
  }
}

async function replay() {
  $('replay').disabled = true;
  $('replay-result').textContent = 'Replaying…';
  try {
    const r = await api('/console/api/replay?handler=' + encodeURIComponent(lettersHandler), { method: 'POST' });
    let text = 'Replayed ' + r.attempted + ' dead letter(s) with version ' + r.version.slice(0, 12) + ': ' + r.recovered + ' recovered, ' + r.stillFailing + ' still failing';
    const kinds = Object.entries(r.faults || {}).map(([k, n]) => k + ' ' + n).join(', ');
    if (kinds) text += ' (' + kinds + ')';
    $('replay-result').textContent = text + '.';
  } catch (e) {
    $('replay-result').textContent = 'Replay failed: ' + e.message;
  }
  $('letter-json').hidden = true;
  await loadLetters();
  await loadHandlers();
}

// ---- integrity (`wasp verify` from the page) ----------------------------------

async function verifyLog(handler) {
  $('integrity').hidden = false;
  $('integrity-handler').textContent = handler;
  $('integrity-result').textContent = 'Verifying…';
  $('integrity-files').replaceChildren();
  let answer;
  try {
    answer = await api('/console/api/verify?handler=' + encodeURIComponent(handler), { method: 'POST' });
  } catch (e) {
    $('integrity-result').textContent = 'Cannot verify: ' + e.message;
    return;
  }
  const files = answer.topics.flatMap((t) => t.files.map((f) => Object.assign({ topic: t.topic }, f)));
  $('integrity-result').textContent = (answer.passed ? 'PASS' : 'FAIL') + ': ' + files.length + ' file(s) checked in ' + answer.directory;
  $('integrity-result').className = answer.passed ? 'state-running' : 'error';
  $('integrity-files').replaceChildren(...files.map((f) => el('li', f.passed
    ? 'PASS ' + f.file + ' (' + f.records + ' records)' + (f.note ? ': ' + f.note : '')
    : 'FAIL ' + f.file + (f.line ? ' line ' + f.line : '') + ': ' + f.message)));
}

// ---- live tail (server-sent events, read with fetch to send the token) --------

let tailAbort = null;

function stopTail() {
  if (tailAbort) tailAbort.abort();
  tailAbort = null;
  $('tail-toggle').textContent = 'Start';
  $('tail-state').textContent = 'stopped';
}

async function startTail() {
  $('tail-error').textContent = '';
  tailAbort = new AbortController();
  $('tail-toggle').textContent = 'Stop';
  try {
    const response = await fetch('/console/api/tail', { headers: { Authorization: 'Bearer ' + token }, signal: tailAbort.signal });
    if (!response.ok) throw new ApiError(response.status + ': ' + (await response.text()));
    $('tail-state').textContent = 'listening';
    const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = '';
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += value;
      let end;
      while ((end = buffer.indexOf('\n\n')) >= 0) {
        const message = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const kind = message.split('\n').find((l) => l.startsWith('event:'));
        const data = message.split('\n').filter((l) => l.startsWith('data:')).map((l) => l.slice(5).trim()).join('\n');
        if (data && kind && kind.includes('lagged')) tailNote(JSON.parse(data).skipped + ' events skipped: this page fell behind');
        else if (data) tailLine(JSON.parse(data));
      }
    }
  } catch (e) {
    if (e.name !== 'AbortError') $('tail-error').textContent = 'The live tail stopped: ' + e.message;
  }
  stopTail();
}

function tailLine(item) {
  const where = item.tenant ? 'tenant ' + item.tenant + ' / ' : '';
  tailNote(where + item.topic + ' #' + item.sequence + ' ' + JSON.stringify(item.event));
}

function tailNote(text) {
  const list = $('tail-list');
  list.prepend(el('li', text));
  while (list.children.length > 200) list.lastChild.remove();
}

// ---- wiring ----------------------------------------------------------------

document.addEventListener('DOMContentLoaded', () => {
  $('signin-form').addEventListener('submit', (e) => { e.preventDefault(); signIn($('token').value.trim()); });
  $('signout').addEventListener('click', signOut);
  for (const b of document.querySelectorAll('nav button')) b.addEventListener('click', () => showTab(b.dataset.tab));
  $('scope').addEventListener('change', fillTopics);
  $('topic').addEventListener('change', fillExport);
  $('export-button').addEventListener('click', exportEvents);
  $('search').addEventListener('submit', (e) => { e.preventDefault(); search(); });
  $('next-page').addEventListener('click', () => { cookies.push($('next-page').dataset.cookie); loadPage(); });
  $('first-page').addEventListener('click', () => { cookies = [null]; loadPage(); });
  for (const b of document.querySelectorAll('button.sort')) {
    b.addEventListener('click', () => {
      const key = b.dataset.key;
      sortKey = sortKey === key ? '-' + key : key;
      for (const other of document.querySelectorAll('button.sort')) other.removeAttribute('data-order');
      b.dataset.order = sortKey.startsWith('-') ? 'descending' : 'ascending';
      if (lastQuery) { cookies = [null]; loadPage(); }
    });
  }
  $('detail-close').addEventListener('click', () => { $('detail').hidden = true; });
  $('refresh-handlers').addEventListener('click', loadHandlers);
  $('replay').addEventListener('click', replay);
  $('tail-toggle').addEventListener('click', () => (tailAbort ? stopTail() : startTail()));
  if (token) signIn(token);
});
