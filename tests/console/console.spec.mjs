// The console in a real browser: playwright-core drives Debian's Chromium
// against a `wasp run` that tests/all/console.rs started (and filled with
// events). Prints one `ok - …` line per check; exits 1 at the first failure.
// Environment: WASP_URL, ADMIN_TOKEN, ACME_TOKEN, WASP_CONFIG (the config
// file, rewritten to fix handler `h`), WASP_PID (for SIGHUP), SCREENSHOTS
// (a directory), EXPORT_DIR (where the Export button's download is saved,
// as alice.ndjson), CHROMIUM (default /usr/bin/chromium).
import { chromium } from 'playwright-core';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const env = (name) => {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set`);
  return value;
};
const url = env('WASP_URL');
const ADMIN = env('ADMIN_TOKEN');
const ACME = env('ACME_TOKEN');
const shots = env('SCREENSHOTS');
fs.mkdirSync(shots, { recursive: true });

function check(condition, what, detail = '') {
  if (!condition) throw new Error(`FAILED: ${what}${detail ? `: ${detail}` : ''}`);
  console.log(`ok - ${what}`);
}

const userDataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'wasp-console-chromium-'));
const context = await chromium.launchPersistentContext(userDataDir, {
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  headless: true,
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
    '--disable-component-update', '--disable-sync'],
  viewport: { width: 1280, height: 900 },
  acceptDownloads: true,
  timezoneId: 'UTC',
});
const page = context.pages()[0] || await context.newPage();
const pageErrors = [];
page.on('pageerror', (e) => pageErrors.push(e.message));
page.on('dialog', (d) => { pageErrors.push(`a dialog opened: ${d.message()}`); d.dismiss(); });
const requested = [];
page.on('request', (r) => requested.push(r.url()));
const shot = (name) => page.screenshot({ path: path.join(shots, `${name}.png`), fullPage: true });
const text = (selector) => page.locator(selector).textContent();
const column = (n) => page.locator(`#results tbody tr td:nth-child(${n})`).allTextContents();

async function search(fields = {}) {
  for (const id of ['from', 'to', 'user', 'event-name', 'result', 'text', 'raw']) await page.fill(`#${id}`, fields[id] || '');
  await page.fill('#page-size', fields['page-size'] || '20');
  if (fields.scope !== undefined) await page.selectOption('#scope', fields.scope);
  await page.selectOption('#topic', fields.topic || 'access');
  await page.click('#search-button');
  await page.waitForFunction(() => {
    const status = document.getElementById('events-status').textContent;
    return (status && status !== 'Searching…') || document.getElementById('events-error').textContent;
  });
}

async function signIn(token) {
  await page.goto(`${url}/console`);
  await page.fill('#token', token);
  await page.click('#signin-form button[type=submit]');
}

try {
  // ---- sign-in ------------------------------------------------------------
  await signIn('not-a-token');
  await page.waitForFunction(() => document.getElementById('signin-error').textContent);
  check((await text('#signin-error')).includes('401'), 'a wrong token is refused with a clear message', await text('#signin-error'));
  await shot('signin');
  await signIn(ADMIN);
  await page.waitForSelector('#events:not([hidden])');
  check((await text('#who')) === 'admin', 'the admin signs in');
  const scopes = await page.locator('#scope option').allTextContents();
  check(JSON.stringify(scopes) === JSON.stringify(['top level', 'tenant acme', 'tenant globex']), 'the admin sees every tenant', scopes);

  // ---- search, page, sort -------------------------------------------------
  await search({ scope: '' });
  check((await page.locator('#results tbody tr').count()) === 20, 'the first page holds 20 events');
  check((await text('#events-status')).includes('of 26'), 'the total is shown', await text('#events-status'));
  await page.click('#next-page');
  await page.waitForFunction(() => document.getElementById('events-status').textContent.includes('page 2'));
  check((await page.locator('#results tbody tr').count()) === 6, 'the second page holds the other 6 (cookie paging)');
  check(await page.locator('#next-page').isDisabled(), 'there is no third page');
  await page.click('#first-page');
  await page.waitForFunction(() => document.getElementById('events-status').textContent.includes('page 1'));
  const newestFirst = await column(1);
  check(newestFirst[0] > newestFirst[1], 'newest first by default', newestFirst.slice(0, 2));
  await page.click('button.sort[data-key=timestamp]');
  await page.waitForFunction((first) => document.querySelector('#results tbody td').textContent !== first, newestFirst[0]);
  const oldestFirst = await column(1);
  check(oldestFirst[0] < oldestFirst[1], 'a click on Time sorts oldest first', oldestFirst.slice(0, 2));
  await shot('events');

  // ---- export with proofs ----------------------------------------------------
  await search({ user: 'alice' });
  check(JSON.stringify(await page.locator('#export-format option').allTextContents()) === '["NDJSON"]',
    'the export offers the query handler\'s format', await page.locator('#export-format option').allTextContents());
  const [download] = await Promise.all([page.waitForEvent('download'), page.click('#export-button')]);
  const saved = path.join(env('EXPORT_DIR'), 'alice.ndjson');
  await download.saveAs(saved);
  check(/^access-.*\.ndjson$/.test(download.suggestedFilename()), 'the download is named by the server', download.suggestedFilename());
  await page.waitForFunction(() => document.getElementById('export-status').textContent.startsWith('Downloaded'));
  const exported = fs.readFileSync(saved, 'utf8').trim().split('\n');
  check(exported.length === 11 && exported.slice(0, 10).every((l) => JSON.parse(l).userId === 'alice') && exported[10].startsWith('{"_export":'),
    'the export holds the search\'s 10 events and the signed manifest', exported.length);
  const exportRequest = requested.find((u) => u.includes('/export/access?'));
  check(exportRequest && exportRequest.includes('_queryFilter=userId+eq+%22alice%22') && requested.every((u) => !u.includes(ADMIN)),
    'the export asks for the search\'s filter, with the token in a header, never in a URL', exportRequest);
  await shot('export');

  // ---- filter by user, event name, result, time, text ------------------------
  await search({ user: 'alice' });
  const users = await column(3);
  check(users.length === 10 && users.every((u) => u === 'alice'), 'filter by user: only alice, all 10', users);
  await search({ user: 'bob', result: 'FAILED' });
  check((await column(5)).every((r) => r === 'FAILED') && (await column(3)).length === 5, 'user and result together', await column(3));
  await search({ 'event-name': 'AM-LOGIN' });
  check((await column(4)).length === 3, 'filter by event name');
  await search({ from: '2026-01-01T00:00:10', to: '2026-01-01T00:00:14' });
  check((await column(2)).length === 5, 'a time range', await column(2));
  await search({ text: 'ev-2' });
  check((await column(2)).every((id) => id.includes('ev-2')) && (await column(2)).length === 6, 'free text', await column(2));
  await search({ raw: '/response/statusCode eq "401"' });
  check((await column(2)).length === 5, 'a raw _queryFilter');

  // ---- an event's detail ---------------------------------------------------
  await search({ user: 'alice' });
  const firstId = (await column(2))[0];
  await page.locator('#results tbody tr').first().click();
  await page.waitForSelector('#detail:not([hidden])');
  const detail = JSON.parse(await text('#detail-json'));
  check(detail._id === firstId && detail.userId === 'alice', 'the detail view shows the event as JSON');
  check((await text('#detail-handlers')) === 'h, json, signed', 'and the handlers that received it', await text('#detail-handlers'));
  await shot('event-detail');
  await page.click('#detail-close');

  // ---- bad input -------------------------------------------------------------
  await search({ raw: 'userId eq' });
  check(/^400: .*_queryFilter|^400: /.test(await text('#events-error')), 'a broken _queryFilter gets the server\'s message', await text('#events-error'));
  await search({ 'page-size': '100000000' });
  check((await text('#events-error')).includes('Page size must be a whole number from 1 to 1000'), 'a huge page size is refused', await text('#events-error'));
  await search({ 'page-size': '-3' });
  check((await text('#events-error')).includes('Page size'), 'a negative page size is refused');
  await search({ from: '2026-01-02T00:00:00', to: '2026-01-01T00:00:00' });
  check((await text('#events-error')).includes('"From" is after "To"'), 'a reversed time range is refused');
  const xss = '<img src=x onerror="window.__pwned=1">';
  await search({ text: '<script>window.__pwned=2</script>' });
  check((await text('#events-status')) === 'No event matches.', 'script in a search term is only text');
  await search({ user: xss });
  check((await column(3))[0] === xss, 'an event holding markup is rendered as text', await column(3));
  await search({ raw: '"><script>window.__pwned=3</script>' });
  check((await text('#events-error')).startsWith('400'), 'markup in the raw filter is refused as a filter');
  await shot('bad-input');
  check((await page.evaluate(() => window.__pwned)) === undefined, 'no injected script ran');
  check(await page.locator('#results img, #events-error img, #results script').count() === 0, 'no markup was inserted');

  // ---- handlers, dead letters, replay ------------------------------------------
  await page.click('nav button[data-tab=handlers]');
  await page.waitForSelector('#handler-table tbody tr');
  const handlerNames = await page.locator('#handler-table tbody tr td:first-child').allTextContents();
  check(handlerNames.includes('h') && handlerNames.includes('acme/json') && handlerNames.includes('globex/json'), 'the admin sees every handler', handlerNames);
  const hRow = page.locator('#handler-table tbody tr[data-handler=h]');
  check((await hRow.locator('td').nth(1).textContent()) === 'running', 'h is running');
  const brokenState = await page.locator('#handler-table tbody tr[data-handler=broken] td').nth(1).textContent();
  check(brokenState.startsWith('disabled: ') && brokenState.length > 'disabled: '.length, 'a disabled handler shows why', brokenState);
  check((await hRow.locator('td').nth(5).textContent()) === '3 (guest-error 3)', 'dead letters by fault kind', await hRow.locator('td').nth(5).textContent());
  await hRow.locator('button', { hasText: 'Dead letters' }).click();
  await page.waitForFunction(() => document.getElementById('letters-status').textContent.includes('dead letter'));
  check((await text('#letters-status')) === '3 dead letter(s)', 'h has 3 dead letters', await text('#letters-status'));
  await page.locator('#letter-table tbody tr').first().locator('button').click();
  await page.waitForSelector('#letter-json:not([hidden])');
  const letter = JSON.parse(await text('#letter-json'));
  check(letter.fault.kind === 'guest-error' && letter.fault.message.startsWith('refused'), 'show: the fault record', letter.fault.message);
  await shot('handlers');

  await page.click('#replay');
  await page.waitForFunction(() => /Replayed|failed/.test(document.getElementById('replay-result').textContent));
  check((await text('#replay-result')).includes('3 still failing'), 'replay with the broken version keeps them', await text('#replay-result'));
  // Fix h (it now ignores `action`) and reload, then replay again.
  const configPath = env('WASP_CONFIG');
  const config = JSON.parse(fs.readFileSync(configPath, 'utf8'));
  const before = await (await fetch(`${url}/health`, { headers: { Authorization: `Bearer ${ADMIN}` } })).json();
  config.eventHandlers.find((h) => h.config.name === 'h').config.config = { healthy: true };
  fs.writeFileSync(configPath, JSON.stringify(config));
  process.kill(Number(env('WASP_PID')), 'SIGHUP');
  for (let i = 0; ; i++) {
    const health = await (await fetch(`${url}/health`, { headers: { Authorization: `Bearer ${ADMIN}` } })).json();
    if (JSON.stringify(health.lastReload) !== JSON.stringify(before.lastReload)) break;
    if (i > 300) throw new Error('the configuration was not reloaded');
    await new Promise((r) => setTimeout(r, 100));
  }
  await page.click('#replay');
  await page.waitForFunction(() => document.getElementById('replay-result').textContent.includes('0 still failing'));
  check((await text('#replay-result')).includes('3 recovered, 0 still failing'), 'replay after the fix recovers every dead letter', await text('#replay-result'));
  check((await text('#letters-status')) === '0 dead letter(s)', 'and the list is empty');
  await shot('replayed');

  // ---- integrity ------------------------------------------------------------
  const verify = async (handler) => {
    await page.locator(`#handler-table tbody tr[data-handler="${handler}"] button`, { hasText: 'Verify log' }).click();
    await page.waitForFunction(() => !['', 'Verifying…'].includes(document.getElementById('integrity-result').textContent));
    return text('#integrity-result');
  };
  let verdict = await verify('signed');
  check(verdict.startsWith('PASS: 1 file(s) checked'), 'verify: the signed log passes', verdict);
  check((await page.locator('#integrity-files li').allTextContents())[0].startsWith('PASS access.audit.json ('), 'per file, with its records');
  await shot('integrity');
  verdict = await verify('json');
  check(verdict.includes('400') && verdict.includes('keeps no tamper-evident log'), 'verify of an unsigned log says why it cannot', verdict);
  const signedLog = path.join(env('WASP_DATA'), 'signed', 'access.audit.json');
  fs.writeFileSync(signedLog, fs.readFileSync(signedLog, 'utf8').replace('"alice"', '"mallory"'));
  verdict = await verify('signed');
  const failure = (await page.locator('#integrity-files li').allTextContents())[0];
  check(verdict.startsWith('FAIL') && /^FAIL access\.audit\.json line \d+: /.test(failure), 'a tampered record fails verification, with its line', `${verdict} / ${failure}`);

  // ---- live tail ------------------------------------------------------------
  const publish = async (id, tenant) => {
    const answer = await fetch(`${url}/audit/access${tenant ? `?tenant=${tenant}` : ''}`,
      { method: 'POST', headers: { Authorization: `Bearer ${ADMIN}`, 'Content-Type': 'application/json' }, body: JSON.stringify({ _id: id }) });
    if (answer.status !== 201) throw new Error(`publish ${id}: ${answer.status} ${await answer.text()}`);
  };
  const tail = async () => {
    await page.click('nav button[data-tab=tail]');
    await page.click('#tail-toggle');
    await page.waitForFunction(() => document.getElementById('tail-state').textContent === 'listening');
  };
  const tailed = () => page.locator('#tail-list li').allTextContents();
  await tail();
  await publish('live-top');
  await publish('live-globex', 'globex');
  await page.waitForFunction(() => document.getElementById('tail-list').textContent.includes('live-globex'));
  const adminTail = await tailed();
  check(adminTail.length === 2 && adminTail[1].includes('live-top') && adminTail[0].startsWith('tenant globex / access'), 'the admin\'s live tail shows new events of every tenant', adminTail);
  await shot('tail');
  await page.click('#tail-toggle');

  // ---- a tenant token ---------------------------------------------------------
  await page.click('#signout');
  await page.waitForSelector('#signin:not([hidden])');
  await signIn(ACME);
  await page.waitForSelector('#events:not([hidden])');
  check((await text('#who')) === 'tenant acme', 'a tenant signs in');
  check(JSON.stringify(await page.locator('#scope option').allTextContents()) === '["tenant acme"]', 'it is offered only its own scope');
  await search({});
  check(JSON.stringify(await column(2)) === '["a1"]', 'it sees only its own events', await column(2));
  check(await page.locator('#export-button').isDisabled() && (await text('#export-status')).includes('keeps no tamper-evident log'),
    'no export where the query handler keeps no signed log, and the page says why', await text('#export-status'));
  // Through the page: make the page ask for globex's events.
  await page.evaluate(() => { const o = document.createElement('option'); o.value = 'globex'; o.textContent = 'tenant globex'; document.getElementById('scope').append(o); });
  await page.selectOption('#scope', 'globex');
  await page.evaluate(() => { const o = document.createElement('option'); o.value = 'access'; o.textContent = 'access'; document.getElementById('topic').append(o); });
  await page.click('#search-button');
  await page.waitForFunction(() => document.getElementById('events-error').textContent);
  check((await text('#events-error')).includes('403') && (await text('#events-error')).includes('may not query the events of tenant `globex`'),
    'asking for another tenant\'s events through the page is refused by the server', await text('#events-error'));
  check(await page.locator('#results tbody tr').count() === 0, 'and nothing of globex is shown');
  await shot('tenant-refused');
  // Through the API, with the page's own fetch.
  const api = await page.evaluate(async (token) => {
    const get = async (p, method = 'GET') => (await fetch(p, { method, headers: { Authorization: `Bearer ${token}` } })).status;
    const handlers = await (await fetch('/console/api/handlers', { headers: { Authorization: `Bearer ${token}` } })).json();
    return {
      query: await get('/audit/access?_queryFilter=true&tenant=globex'),
      read: await get('/audit/access/g1?tenant=globex'),
      letters: await get('/console/api/dead-letters?handler=globex/json'),
      replay: await get('/console/api/replay?handler=globex/json', 'POST'),
      handlers: handlers.handlers.map((h) => h.name),
    };
  }, ACME);
  check(api.query === 403 && api.read === 403, 'the API refuses another tenant\'s events (403)', JSON.stringify(api));
  check(api.letters === 403 && api.replay === 403, 'dead letters and replay need the admin token', JSON.stringify(api));
  check(JSON.stringify(api.handlers) === '["acme/json"]', 'a tenant sees only its own handlers', JSON.stringify(api.handlers));
  await page.click('nav button[data-tab=handlers]');
  await page.waitForSelector('#handler-table tbody tr');
  check(await page.locator('#handler-table tbody button').count() === 0, 'no dead-letter actions for a tenant');
  await shot('tenant-handlers');
  await tail();
  await publish('live-globex-2', 'globex');
  await publish('live-acme', 'acme');
  await page.waitForFunction(() => document.getElementById('tail-list').textContent.includes('live-acme'));
  const acmeTail = await tailed();
  check(acmeTail.length === 1 && acmeTail[0].startsWith('tenant acme / access'), 'a tenant\'s live tail gets only its own events (filtered by the server)', acmeTail);

  check(pageErrors.length === 0, 'no script error in the page', pageErrors.join('; '));
  console.log('all console checks passed');
} catch (e) {
  console.log(e.message);
  try { await shot('failure'); } catch (_) { /* the page may be gone */ }
  process.exitCode = 1;
} finally {
  await context.close();
  fs.rmSync(userDataDir, { recursive: true, force: true });
}
