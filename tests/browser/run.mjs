// End-to-end tests of the applicant and staff pages in Debian's Chromium, against a
// real `anju serve` on SQLite whose clock the test moves with libfaketime (run by .ci/run):
//
//     node tests/browser/run.mjs <anju-binary> [screenshot-dir]
//
// A new applicant checks eligibility, registers, fills the form with three mistakes,
// sees all three in the summary, fixes them, submits, prints the receipt (one A4 page)
// and sees the status; a second applicant gets 404 on the first one's pages; the notice
// page takes an objection; the same flow runs again in English with JavaScript disabled;
// a refused household asks for reconsideration; then the staff: a reviewer accepts, asks
// for a correction, the applicant resubmits, the reviewer passes it and a second case,
// the notice ends eleven days later, the supervisor seals and sends the batch, the bureau
// acknowledges it, approves one case and returns one, the dashboard shows the figures;
// the bureau imports units and runs a lottery round in which the approved household
// registers, is offered a unit and accepts it on its case page;
// the admin uploads a policy with a mistake, fixes it, simulates and publishes it.
// axe-core checks every page visited and fails on any serious or critical violation.
// Exits non-zero on the first failure, naming it.

import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';

const require = createRequire(import.meta.url);
const AXE = fs.readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');
const BIN = path.resolve(process.argv[2] ?? 'target/debug/anju');
const SHOTS = process.argv[3] ? path.resolve(process.argv[3]) : null;
const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';
const ADMIN = { login: 'admin@anju.test', password: 'browser-admin-password' };
const COMMUNITY = '410104003-01';

function fail(message) {
  console.error(`FATAL: ${message}`);
  process.exitCode = 1;
  throw new Error(message);
}

function check(ok, message) {
  if (!ok) fail(message);
}

/** A valid identity number (GB 11643 check character). */
function idNumber(address, birth, seq) {
  const body = `${address}${birth}${String(seq).padStart(3, '0')}`;
  const w = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
  const sum = [...body].reduce((s, c, i) => s + Number(c) * w[i], 0);
  return body + '10X98765432'[sum % 11];
}

async function freePort() {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

const work = fs.mkdtempSync(path.join(os.tmpdir(), 'anju-browser-'));
const FAKETIME_LIB = process.env.FAKETIME_LIB ?? '/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1';
if (!fs.existsSync(FAKETIME_LIB)) fail(`libfaketime is needed to move the server's clock: ${FAKETIME_LIB} (apt-get install faketime)`);
const CLOCK_FILE = path.join(work, 'clock');
fs.writeFileSync(CLOCK_FILE, '+0d\n');
const port = await freePort();
const BASE = `http://127.0.0.1:${port}`;
const server = spawn(BIN, ['serve'], {
  env: {
    ...process.env,
    ANJU_DATABASE_URL: `sqlite://${work}/anju.db?mode=rwc`,
    ANJU_LISTEN: `127.0.0.1:${port}`,
    ANJU_PUBLIC_URL: BASE,
    ANJU_MAIL_DIR: path.join(work, 'mail'),
    ANJU_LOG: 'warn',
    ANJU_BOOTSTRAP_ADMIN_LOGIN: ADMIN.login,
    ANJU_BOOTSTRAP_ADMIN_PASSWORD: ADMIN.password,
    ANJU_REGISTER_PER_HOUR: '1000',
    // The server's clock is the test's to move (libfaketime, Debian's faketime package):
    // the staff run lets a 10-day public notice end by writing "+11d" to this file.
    // Timers stay on the real monotonic clock.
    LD_PRELOAD: FAKETIME_LIB,
    FAKETIME_TIMESTAMP_FILE: CLOCK_FILE,
    FAKETIME_NO_CACHE: '1',
    FAKETIME_DONT_FAKE_MONOTONIC: '1',
  },
  stdio: ['ignore', fs.openSync(path.join(work, 'serve.log'), 'w'), 'inherit'],
});

async function api(method, p, body, token, headers = {}) {
  const res = await fetch(BASE + p, {
    method,
    headers: {
      'content-type': 'application/json',
      ...(token ? { authorization: `Bearer ${token}` } : {}),
      ...headers,
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : null };
}

async function waitReady() {
  for (let i = 0; i < 300; i++) {
    try {
      const r = await fetch(`${BASE}/health/ready`);
      if (r.status === 200) return;
    } catch {}
    await new Promise((r) => setTimeout(r, 100));
  }
  fail('the server did not become ready');
}

/** A case on public notice, made through the API as staff would. */
async function caseOnNotice() {
  const admin = (await api('POST', '/api/v1/auth/login', ADMIN)).body.token;
  const reviewer = { login: 'reviewer@anju.test', password: 'browser-reviewer-password' };
  const made = await api('POST', '/api/v1/admin/users', {
    role: 'reviewer', display_name: '审核员', email: reviewer.login, password: reviewer.password, places: [COMMUNITY],
  }, admin);
  check(made.status === 201, `creating a reviewer: ${made.status} ${JSON.stringify(made.body)}`);
  const rtoken = (await api('POST', '/api/v1/auth/login', reviewer)).body.token;
  await api('POST', '/api/v1/auth/register', { mobile: '13700000001', password: 'notice-password', display_name: '公示户' });
  const atoken = (await api('POST', '/api/v1/auth/login', { login: '13700000001', password: 'notice-password' })).body.token;
  const form = {
    programme: 'public_rental', applicant_class: 'local', community_code: COMMUNITY, filed_at: 'hukou',
    contact_mobile: '13700000001', language: 'zh', consent_verification: true, declaration_truthful: true,
    members: [{ relationship: 'applicant', name: '赵公示', id_number: idNumber('410104', '19800101', 91), gender: 'male',
      marital_status: 'single', hukou_city: '郑州', hukou_since: '2005-03-01', annual_income_fen: 2_000_000 }],
    housing: [], transfers: [], documents: ['id_card', 'hukou_book'],
  };
  const draft = await api('POST', '/api/v1/applications', form, atoken);
  check(draft.status === 201, `draft: ${JSON.stringify(draft.body)}`);
  const sub = await api('POST', `/api/v1/applications/${draft.body.id}/submit`, {}, atoken, { 'idempotency-key': 'notice-1' });
  check(sub.status === 201 && sub.body.status === 'eligible', `submit: ${JSON.stringify(sub.body)}`);
  let v = (await api('GET', `/api/v1/applications/${draft.body.id}`, undefined, rtoken)).body.version;
  v = (await api('POST', `/api/v1/applications/${draft.body.id}/actions`, { action: 'accept', version: v }, rtoken)).body.version;
  const passed = await api('POST', `/api/v1/applications/${draft.body.id}/actions`, { action: 'pass_review', version: v, comment: '属实' }, rtoken);
  check(passed.status === 200, `pass_review: ${JSON.stringify(passed.body)}`);
  return sub.body.number;
}

/** Signs in on the web page and checks where it lands. */
async function signIn(page, login, password, landing) {
  await page.goto(`${BASE}/login`);
  await page.fill('#f-login', login);
  await page.fill('#f-password', password);
  await page.getByRole('button', { name: '登录' }).click();
  check(new URL(page.url()).pathname === landing, `${login} lands on ${landing}, not ${page.url()}`);
}

/** The status a page answered with. */
async function statusOf(page, p) {
  const r = await page.goto(`${BASE}${p}`);
  return r.status();
}

/** A case submitted through the API by a new applicant; [id, number]. */
async function submitted(mobile, password, seq) {
  await api('POST', '/api/v1/auth/register', { mobile, password, display_name: `申请人${seq}` });
  const token = (await api('POST', '/api/v1/auth/login', { login: mobile, password })).body.token;
  const form = {
    programme: 'public_rental', applicant_class: 'local', community_code: COMMUNITY, filed_at: 'hukou',
    contact_mobile: mobile, language: 'zh', consent_verification: true, declaration_truthful: true,
    members: [{ relationship: 'applicant', name: `孙${seq}`, id_number: idNumber('410104', '19800101', seq), gender: 'male',
      marital_status: 'single', hukou_city: '郑州', hukou_since: '2005-03-01', annual_income_fen: 2_000_000 }],
    housing: [], transfers: [], documents: ['id_card', 'hukou_book'],
  };
  const draft = await api('POST', '/api/v1/applications', form, token);
  const sub = await api('POST', `/api/v1/applications/${draft.body.id}/submit`, {}, token, { 'idempotency-key': `staff-${seq}` });
  check(sub.status === 201 && sub.body.status === 'eligible', `submit ${seq}: ${JSON.stringify(sub.body)}`);
  return [draft.body.id, sub.body.number];
}

/** Opens an action's panel on the staff case page and returns its form. */
async function actionForm(page, name) {
  const panel = page.locator('details.act', { has: page.locator('summary', { hasText: name }) });
  if ((await panel.getAttribute('open')) === null) await panel.locator('summary').click();
  return panel;
}

async function staffJourney(browser) {
  const admin = (await api('POST', '/api/v1/auth/login', ADMIN)).body.token;
  const people = {
    reviewer: { login: 'reviewer@anju.test', password: 'browser-reviewer-password' },
    supervisor: { login: 'supervisor@anju.test', password: 'browser-supervisor-password' },
    bureau: { login: 'bureau@anju.test', password: 'browser-bureau-password' },
  };
  for (const [role, place] of [['supervisor', '410104003'], ['bureau', '410104']]) {
    const made = await api('POST', '/api/v1/admin/users', {
      role, display_name: role, email: people[role].login, password: people[role].password, places: [place],
    }, admin);
    check(made.status === 201, `creating the ${role}: ${JSON.stringify(made.body)}`);
  }
  const [a, aNumber] = await submitted('13700000011', 'staff-flow-password-a', 211);
  const [b, bNumber] = await submitted('13700000012', 'staff-flow-password-b', 213);

  const desk = { viewport: { width: 1366, height: 900 }, bypassCSP: true };
  const rctx = await browser.newContext(desk);
  const r = await rctx.newPage();
  await signIn(r, people.reviewer.login, people.reviewer.password, '/staff');
  check((await r.content()).includes(aNumber), 'the queue lists the first case');
  await axe(r, 'work queue');
  // The keyboard: j moves to the first case, x ticks it.
  await r.keyboard.press('j');
  check(await r.evaluate(() => document.activeElement?.closest('tbody') !== null), 'j focuses a case in the queue');
  await r.keyboard.press('x');
  check(await r.locator('tbody input[type=checkbox]:checked').count() === 1, 'x ticks the focused case');

  // Case A: accept, then a correction asked with nothing listed, then with two items.
  await r.goto(`${BASE}/staff/cases/${a}`);
  await axe(r, 'staff case page');
  await (await actionForm(r, '受理')).getByRole('button', { name: '受理' }).click();
  check(r.url().includes('done=accept'), `accepted: ${r.url()}`);
  let form = await actionForm(r, '一次性告知补正');
  await form.getByRole('button', { name: '一次性告知补正' }).click();
  const asked = await summary(r);
  check(asked.some((x) => x.href === '#request_correction-items'), `the summary names the items: ${JSON.stringify(asked)}`);
  await axe(r, 'staff case page with a problem');
  form = await actionForm(r, '一次性告知补正');
  await form.locator('#request_correction-items').fill('补交户口簿复印件\n补交收入证明');
  await form.getByRole('button', { name: '一次性告知补正' }).click();
  check((await r.content()).includes('待补正'), 'the case waits for the correction');

  // The applicant sees the items and resubmits from the applicant pages.
  const actx = await browser.newContext({ viewport: { width: 360, height: 780 }, bypassCSP: true });
  const ap = await actx.newPage();
  await signIn(ap, '13700000011', 'staff-flow-password-a', '/applications');
  await ap.goto(`${BASE}/applications/${a}`);
  check((await ap.content()).includes('补交收入证明'), 'the applicant sees what to correct');
  check((await statusOf(ap, '/staff')) === 403, 'an applicant is refused the desk');
  check((await statusOf(ap, `/staff/cases/${a}`)) === 403, 'an applicant is refused the staff case page');
  await ap.goto(`${BASE}/applications/${a}/edit/household`);
  await ap.goto(`${BASE}/applications/${a}/review`);
  await ap.getByRole('button', { name: '重新提交' }).click();
  check(new URL(ap.url()).pathname.endsWith('/receipt'), `resubmitted: ${ap.url()}`);
  await actx.close();

  // Back at the desk: accept again and pass with the opinion.
  await r.goto(`${BASE}/staff/cases/${a}`);
  await (await actionForm(r, '受理')).getByRole('button', { name: '受理' }).click();
  form = await actionForm(r, '通过初审，开始公示');
  await form.locator('#pass_review-comment').fill('经入户调查，情况属实');
  await form.getByRole('button', { name: '通过初审，开始公示' }).click();
  check((await r.content()).includes('公示中'), 'case A is on notice');
  // Case B: accepted in bulk from the queue, then passed.
  await r.goto(`${BASE}/staff?status=eligible`);
  await r.check(`#pick-${b}`);
  await r.selectOption('#bulk-action', 'accept');
  await r.getByRole('button', { name: '执行' }).click();
  check((await r.content()).includes('成功 1'), 'the bulk result lists the case');
  await axe(r, 'bulk result');
  await r.goto(`${BASE}/staff/cases/${b}`);
  form = await actionForm(r, '通过初审，开始公示');
  await form.locator('#pass_review-comment').fill('材料齐全');
  await form.getByRole('button', { name: '通过初审，开始公示' }).click();
  check((await statusOf(r, '/staff/batches')) === 403, 'a reviewer has no batches');

  // Eleven days later the notice has ended; closing due notices is what the ticker does
  // each minute. (Sessions from before the jump may have expired: sign in afresh.)
  fs.writeFileSync(CLOCK_FILE, '+11d\n');
  const stoken = (await api('POST', '/api/v1/auth/login', people.supervisor)).body.token;
  const closed = await api('POST', '/api/v1/review/notices/close-due', {}, stoken);
  check(closed.status === 200, `closing notices: ${JSON.stringify(closed.body)}`);
  const ready = (await api('GET', `/api/v1/applications/${a}`, undefined, stoken)).body;
  check(ready.status === 'ready_to_report', `case A after the notice: ${ready.status}`);

  // The supervisor builds, seals and sends the batch.
  const sctx = await browser.newContext(desk);
  const s = await sctx.newPage();
  await signIn(s, people.supervisor.login, people.supervisor.password, '/staff');
  await s.goto(`${BASE}/staff/batches`);
  await axe(s, 'batches');
  await s.selectOption('#new-programme', 'public_rental');
  await s.getByRole('button', { name: '新建批次' }).click();
  const batchPath = new URL(s.url()).pathname;
  await axe(s, 'draft batch');
  await s.check(`#add-${a}`);
  await s.check(`#add-${b}`);
  await s.getByRole('button', { name: '加入批次' }).click();
  await s.getByRole('button', { name: '封存批次' }).click();
  const hash = (await s.locator('code.hash').textContent()).trim();
  check(/^[0-9a-f]{64}$/.test(hash), `the manifest hash is shown: ${hash}`);
  await axe(s, 'sealed batch');
  await s.getByRole('button', { name: '上报区民政局' }).click();
  check((await s.content()).includes('批次已上报区民政局'), 'the batch is sent');
  await sctx.close();

  // The bureau acknowledges with the hash, approves A and returns B.
  const bctx = await browser.newContext(desk);
  const bu = await bctx.newPage();
  await signIn(bu, people.bureau.login, people.bureau.password, '/staff');
  await bu.goto(`${BASE}${batchPath}`);
  await axe(bu, 'batch to acknowledge');
  await bu.fill('#ack-count', '2');
  await bu.fill('#ack-sha256', hash);
  await bu.getByRole('button', { name: '签收' }).click();
  check((await bu.content()).includes('件数和哈希与封存清单一致'), 'received');
  await bu.selectOption(`#decision-${a}`, 'approve');
  await bu.selectOption(`#decision-${b}`, 'return');
  await bu.selectOption(`#reason-${b}`, 'incomplete_documents');
  await bu.fill(`#comment-${b}`, '缺少收入证明原件');
  await bu.getByRole('button', { name: '记录所选决定' }).click();
  check((await bu.content()).includes('决定已记录'), 'the decisions are recorded');
  await axe(bu, 'decided batch');
  const btoken = (await api('POST', '/api/v1/auth/login', people.bureau)).body.token;
  const caseA = (await api('GET', `/api/v1/applications/${a}`, undefined, btoken)).body;
  const caseB = (await api('GET', `/api/v1/applications/${b}`, undefined, btoken)).body;
  check(caseA.status === 'waitlisted' && caseB.status === 'returned', `A ${caseA.status}, B ${caseB.status}`);


  // The dashboard shows those numbers; the chart is drawn by the browser.
  await bu.goto(`${BASE}/staff/dashboard`);
  await axe(bu, 'dashboard');
  const funnel = (await api('GET', '/api/v1/reports/funnel', undefined, btoken)).body;
  for (const st of funnel.stages) {
    const cell = bu.locator('tbody tr', { has: bu.locator('th', { hasText: new RegExp(`^${st.label}$`) }) }).first().locator('td').first();
    check((await cell.textContent()).trim() === String(st.count), `dashboard ${st.label}: ${st.count}`);
  }
  const approved = funnel.stages.find((x) => x.stage === 'approved');
  check(approved && approved.count >= 1, `the funnel counts the approval: ${JSON.stringify(approved)}`);
  const returned = funnel.outcomes.find((x) => x.outcome === 'returned');
  check(returned && returned.count >= 1, `the funnel counts the return: ${JSON.stringify(returned)}`);
  const drawn = await bu.evaluate(async () => {
    const img = document.querySelector('figure.chart img');
    await img.decode();
    return img.naturalWidth;
  });
  check(drawn > 0, 'the chart image is drawn');
  if (SHOTS) await bu.screenshot({ path: path.join(SHOTS, 'dashboard.png'), fullPage: true });
  // Every label lies inside the drawing, in the browser's own fonts.
  await bu.goto(`${BASE}/staff/dashboard/funnel.svg`);
  const cut = await bu.evaluate(() => {
    const svg = document.documentElement;
    const width = svg.viewBox.baseVal.width;
    return [...document.querySelectorAll('text')]
      .map((t) => ({ text: t.textContent, box: t.getBBox() }))
      .filter(({ box }) => box.x < 0 || box.x + box.width > width || box.width === 0)
      .map(({ text }) => text);
  });
  check(cut.length === 0, `chart labels cut off or not drawn: ${JSON.stringify(cut)}`);
  await bctx.close();
  await allocationJourney(browser, a, people);
  // A year on, household A declares for its annual re-verification (年审): an empty
  // declaration first (the summary names the promise), then the real one.
  fs.writeFileSync(CLOCK_FILE, '+360d\n');
  const yctx = await browser.newContext({ viewport: { width: 360, height: 780 }, bypassCSP: true });
  const yp = await yctx.newPage();
  await signIn(yp, '13700000011', 'staff-flow-password-a', '/applications');
  await yp.goto(`${BASE}/applications/${a}`);
  await yp.getByRole('link', { name: '年审申报' }).click();
  await axe(yp, 'annual re-verification');
  await yp.getByRole('button', { name: /提交/ }).click();
  const undeclared = await summary(yp);
  check(undeclared.some((x) => x.href.endsWith('#f-declaration_truthful')), `the summary names the promise: ${JSON.stringify(undeclared)}`);
  await axe(yp, 'annual re-verification with a problem');
  await yp.check('#f-declaration_truthful');
  await yp.getByRole('button', { name: /提交/ }).click();
  check(new URL(yp.url()).pathname === `/applications/${a}`, `declared: ${yp.url()}`);
  const after = (await api('GET', `/api/v1/applications/${a}`, undefined, (await api('POST', '/api/v1/auth/login', people.bureau)).body.token)).body;
  check(after.events[after.events.length - 1].action === 'reverify', `re-verified: ${JSON.stringify(after.events.at(-1))}`);
  await yctx.close();

  // The admin runs the service, not cases: the dashboard, never the desk.
  const adctx = await browser.newContext(desk);
  const ad = await adctx.newPage();
  await signIn(ad, ADMIN.login, ADMIN.password, '/staff/dashboard');
  check((await statusOf(ad, '/staff')) === 403, 'the admin is refused the desk');
  check((await statusOf(ad, `/staff/cases/${a}`)) === 403, 'the admin is refused case pages');
  check((await statusOf(ad, '/staff/batches')) === 403, 'the admin is refused batches');
  // A policy edited as TOML: a mistake first, seen and fixed, then simulated and published.
  await ad.goto(`${BASE}/admin/policies`);
  await axe(ad, 'policies');
  const file = await ad.request.get(`${BASE}/admin/policies/zz-gzf-2015.1/toml`);
  check(file.status() === 200, `the policy as TOML: ${file.status()}`);
  const shipped = await file.text();
  const from = new Date(Date.now() + 400 * 86400e3 + 8 * 3600e3).toISOString().slice(0, 10);
  const edited = shipped
    .replace('version = "zz-gzf-2015.1"', 'version = "zz-gzf-browser.1"')
    .replace('effective_from = "2015-01-01"', `effective_from = "${from}"`)
    .replace('dibao_multiple_percent = 500', 'dibao_multiple_percent = 100')
    .replace('notice_days = 10', 'notice_days = -3');
  check(edited.includes('zz-gzf-browser.1') && edited.includes('notice_days = -3'), 'the edit applies');
  await ad.fill('#f-toml', edited);
  await ad.getByRole('button', { name: '检查并模拟' }).click();
  const wrong = await summary(ad);
  check(wrong.some((x) => x.text.includes('deadlines.notice_days')), `the mistake is named: ${JSON.stringify(wrong)}`);
  await axe(ad, 'policy with a mistake');
  await ad.fill('#f-toml', edited.replace('notice_days = -3', 'notice_days = 10'));
  await ad.getByRole('button', { name: '检查并模拟' }).click();
  check((await ad.content()).includes('模拟结果'), 'the simulation shows');
  await axe(ad, 'policy simulated');
  await ad.getByRole('button', { name: /^发布/ }).click();
  check((await ad.content()).includes('已发布：zz-gzf-browser.1'), 'the version is published');
  const listed = (await api('GET', '/api/v1/policies/zz-gzf-browser.1')).body;
  check(listed && listed.effective_from === from, `published from ${from}: ${JSON.stringify(listed && listed.effective_from)}`);
  for (const [p, label] of [['/admin/outbox', 'outbox'], ['/admin/users', 'accounts'], ['/admin/places', 'places']]) {
    await ad.goto(`${BASE}${p}`);
    await axe(ad, label);
  }
  await adctx.close();
  await rctx.close();
  console.log(`staff: ${aNumber} approved, ${bNumber} returned, through the desk, the batch and the bureau's pages`);
}

/** 配租: the bureau imports two units and runs a lottery round; household A (approved,
 * waiting) registers on its case page, the secrets are shown once, the draw is made, A is
 * offered a unit and accepts it on its case page; anyone sees the masked ranking. */
async function allocationJourney(browser, a, people) {
  const desk = { viewport: { width: 1280, height: 900 }, bypassCSP: true };
  const bctx = await browser.newContext(desk);
  const bu = await bctx.newPage();
  await signIn(bu, people.bureau.login, people.bureau.password, '/staff');
  await bu.goto(`${BASE}/staff/units`);
  await axe(bu, 'housing stock');
  const csv = '项目,楼栋,房号,保障类别,建筑面积,居室,楼层,月租金（元）,无障碍\n'
    + '南关安居小区,1号楼,101,公租房,45.5,1,1,136.50,是\n南关安居小区,1号楼,102,公租房,60,2,1,180,否\n';
  await bu.setInputFiles('#f-file', { name: 'units.csv', mimeType: 'text/csv', buffer: Buffer.from(csv) });
  await bu.getByRole('button', { name: '导入', exact: true }).click();
  check((await bu.content()).includes('已导入 2'), 'two units imported');
  await bu.getByRole('link', { name: /^101/ }).click();
  await axe(bu, 'housing unit');
  await bu.goto(`${BASE}/staff/rounds`);
  await axe(bu, 'allocation rounds');
  const today = await bu.inputValue('#f-intent_opens_on');
  const closes = new Date(Date.parse(`${today}T00:00:00Z`) + 2 * 86400e3).toISOString().slice(0, 10);
  await bu.fill('#f-name', '浏览器测试配租方案');
  await bu.selectOption('#f-method', 'lottery');
  await bu.selectOption('#f-groups', 'public_rental');
  await bu.fill('#f-intent_closes_on', closes);
  await bu.getByRole('button', { name: '新建', exact: true }).click();
  const roundPath = new URL(bu.url()).pathname;
  check(/^\/staff\/rounds\/\d+$/.test(roundPath), `the round is created: ${bu.url()}`);
  await axe(bu, 'allocation round');
  await bu.getByRole('button', { name: /^发布方案/ }).click();
  check((await bu.content()).includes('意向登记中'), 'registration is open');
  await bctx.close();

  const actx = await browser.newContext({ viewport: { width: 360, height: 780 }, bypassCSP: true });
  const ap = await actx.newPage();
  await signIn(ap, '13700000011', 'staff-flow-password-a', '/applications');
  await ap.goto(`${BASE}/applications/${a}`);
  await ap.getByRole('button', { name: '登记配租意向' }).click();
  check((await ap.content()).includes('已登记意向'), 'A registered its intent');
  await axe(ap, 'case page with an allocation round');
  await actx.close();

  // Registration closes; the sessions from before the jump expire, so all sign in again.
  fs.writeFileSync(CLOCK_FILE, '+15d\n');
  const b2 = await browser.newContext(desk);
  const bp = await b2.newPage();
  await signIn(bp, people.bureau.login, people.bureau.password, '/staff');
  await bp.goto(`${BASE}${roundPath}`);
  await bp.getByRole('button', { name: /^截止登记/ }).click();
  const secrets = await bp.locator('#secrets-title + p + ol code').allTextContents();
  check(secrets.length === 2, `two secrets shown once: ${secrets.length}`);
  await axe(bp, 'round with the secrets');
  await bp.fill('#f-secrets-0', secrets[0]);
  await bp.fill('#f-secrets-1', secrets[1]);
  await bp.fill('#f-public_value', '0372');
  await bp.getByRole('button', { name: '摇号', exact: true }).click();
  check((await bp.content()).includes('选房中'), 'drawn: choosing');
  await bp.getByRole('button', { name: '提供该房源' }).click();
  check((await bp.content()).includes('记录：接受'), 'a unit is offered');
  await b2.close();

  const a2 = await browser.newContext({ viewport: { width: 360, height: 780 }, bypassCSP: true });
  const ap2 = await a2.newPage();
  await signIn(ap2, '13700000011', 'staff-flow-password-a', '/applications');
  await ap2.goto(`${BASE}/applications/${a}`);
  await axe(ap2, 'case page with an offer');
  await ap2.getByRole('button', { name: '接受房源' }).click();
  check((await ap2.content()).includes('已配租房源'), 'A accepted the unit');
  await a2.close();

  const pctx = await browser.newContext({ bypassCSP: true });
  const pp = await pctx.newPage();
  await pp.goto(`${BASE}/rounds/${roundPath.split('/').pop()}`);
  await axe(pp, 'public allocation ranking');
  check((await pp.locator('tbody tr').count()) === 1, 'one household ranked');
  await pctx.close();
  console.log('allocation: stock imported, a lottery round drawn, a unit let on the web pages');
}

const audited = new Set();

/** axe-core's serious and critical findings on the page (WCAG 2.1 A and AA rules). */
async function violations(page) {
  await page.addScriptTag({ content: AXE });
  const result = await page.evaluate(async () =>
    // eslint-disable-next-line no-undef
    await axe.run(document, { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'] } }));
  return result.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
}

async function axe(page, label) {
  const url = new URL(page.url()).pathname;
  const bad = await violations(page);
  if (bad.length) {
    const detail = bad.map((v) => `${v.id} (${v.impact}): ${v.nodes.slice(0, 3).map((n) => n.target.join(' ')).join('; ')}`);
    fail(`axe on ${label} (${url}):\n  ${detail.join('\n  ')}`);
  }
  audited.add(url.replace(/\d+/g, '{n}'));
}

/** The error summary's links: [{href, text}]. */
async function summary(page) {
  return page.$$eval('.error-summary a', (as) => as.map((a) => ({ href: a.getAttribute('href'), text: a.textContent })));
}

async function fillMembers(page, members) {
  for (let i = 0; i < members.length; i++) {
    if (i > 0) await page.getByRole('button', { name: /添加一名家庭成员|Add a household member/ }).click();
    const m = members[i];
    await page.selectOption(`#f-members-${i}-relationship`, m.relationship);
    await page.fill(`#f-members-${i}-name`, m.name);
    await page.fill(`#f-members-${i}-id_number`, m.id);
    await page.check(`input[name="members[${i}].gender"][value="${m.gender}"]`);
    await page.selectOption(`#f-members-${i}-marital_status`, m.marital);
    await page.fill(`#f-members-${i}-hukou_city`, '郑州');
    await page.fill(`#f-members-${i}-hukou_since`, '2005-03-01');
  }
}

/** One applicant's whole journey. `t` picks the text for the language in use. */
async function journey(context, { mobile, t, audit, shots }) {
  const page = await context.newPage();
  const visit = async (label) => {
    if (audit) await axe(page, label);
  };
  await page.goto(`${BASE}/`);
  check((await page.title()).length > 0, 'the start page has a title');
  await visit('start');

  // Do I qualify?
  await page.goto(`${BASE}/check`);
  await visit('check');
  await page.check('input[name="programme"][value="public_rental"]');
  await page.check('input[name="applicant_class"][value="local"]');
  await page.fill('#f-household_size', '2');
  await page.fill('#f-applicant_age', '38');
  await page.fill('#f-hukou_years', '12');
  await page.fill('#f-annual_income', '48000');
  await page.fill('#f-housing_area', '0');
  await page.getByRole('button', { name: t('查看结果', 'Check') }).click();
  check(await page.getByText(t('看来符合申请条件', 'you appear to qualify')).count() > 0, 'the quick check says eligible');
  await visit('check result');

  // Register and sign in.
  await page.goto(`${BASE}/register`);
  await visit('register');
  await page.fill('#f-display_name', '王小明');
  await page.fill('#f-mobile', mobile);
  await page.fill('#f-email', `${mobile}@example.org`);
  await page.fill('#f-password', 'a-long-password');
  await page.getByRole('button', { name: t('注册', 'Register') }).click();
  await visit('registered');
  await page.fill('#f-login', mobile);
  await page.fill('#f-password', 'a-long-password');
  await page.getByRole('button', { name: t('登录', 'Sign in') }).click();
  check(new URL(page.url()).pathname === '/applications', `signed in lands on my applications, not ${page.url()}`);
  await visit('my applications (empty)');

  // The form, step by step.
  await page.goto(`${BASE}/apply`);
  await visit('apply: household');
  await page.check('input[name="programme"][value="public_rental"]');
  await page.check('input[name="applicant_class"][value="local"]');
  await page.selectOption('#f-community_code', COMMUNITY);
  await page.check('input[name="filed_at"][value="hukou"]');
  await page.getByRole('button', { name: t('保存并继续', 'Save and continue') }).last().click();
  check(page.url().endsWith('/edit/members'), `after the first step: ${page.url()}`);
  const id = page.url().split('/')[4];
  const seq = Number(mobile.slice(-3)) % 900 + 1;
  await fillMembers(page, [
    { relationship: 'applicant', name: '王小明', id: idNumber('410104', '19850715', seq * 2 + 1 > 999 ? 1 : seq * 2 + 1), gender: 'male', marital: 'married' },
    { relationship: 'spouse', name: '李小红', id: idNumber('410104', '19870302', 24), gender: 'female', marital: 'married' },
  ]);
  await visit('apply: members');
  await page.getByRole('button', { name: t('保存并继续', 'Save and continue') }).last().click();
  check(page.url().endsWith('/edit/income'), `after members: ${page.url()} ${JSON.stringify(await summary(page))}`);
  await visit('apply: income');
  await page.fill('#f-members-0-annual_income_fen', '36000');
  await page.fill('#f-members-1-annual_income_fen', '24000');
  await page.getByRole('button', { name: t('保存并继续', 'Save and continue') }).last().click();
  await visit('apply: housing');
  await page.getByRole('button', { name: t('添加一处现住房', 'Add a dwelling you live in or hold') }).click();
  await page.fill('#f-housing-0-address', '郑州市管城区惠工街 1 号');
  await page.fill('#f-housing-0-area_m2', '30');
  await page.selectOption('#f-housing-0-nature', 'rented_private');
  await page.getByRole('button', { name: t('保存并继续', 'Save and continue') }).last().click();
  check(page.url().endsWith('/edit/contact'), `after housing: ${page.url()}`);
  await visit('apply: contact');
  if (shots) await page.screenshot({ path: path.join(shots, 'form.png'), fullPage: true });
  // Three mistakes: no mobile, no documents, no declaration.
  await page.check('#f-consent_verification');
  await page.getByRole('button', { name: t('保存并继续', 'Save and continue') }).last().click();
  check(page.url().endsWith('/review'), `to the review page: ${page.url()}`);
  await visit('review');
  await page.getByRole('button', { name: t('提交申请', 'Submit') }).last().click();
  const problems = await summary(page);
  check(problems.length === 3, `three problems in the summary, not ${JSON.stringify(problems)}`);
  for (const f of ['contact_mobile', 'documents', 'declaration_truthful']) {
    check(problems.some((p) => p.href.endsWith(`#f-${f}`)), `the summary links to ${f}: ${JSON.stringify(problems)}`);
  }
  await visit('review with problems');
  // Fix them from the summary's link.
  await page.click(`.error-summary a[href$="#f-contact_mobile"]`);
  check(page.url().includes('/edit/contact#f-contact_mobile'), `the link leads to the field: ${page.url()}`);
  await page.fill('#f-contact_mobile', mobile);
  await page.check('input[name="documents"][value="id_card"]');
  await page.check('input[name="documents"][value="hukou_book"]');
  await page.check('#f-declaration_truthful');
  await page.getByRole('button', { name: t('保存并继续', 'Save and continue') }).last().click();
  // Submit; then the back button and submitting the same page again makes no second one.
  await page.getByRole('button', { name: t('提交申请', 'Submit') }).last().click();
  check(page.url().endsWith(`/applications/${id}/receipt`), `submitted to the receipt: ${page.url()} ${JSON.stringify(await summary(page))}`);
  const number = (await page.locator('dd strong').first().textContent()).trim();
  check(/^410104003-\d{4}-\d{6}$/.test(number), `a case number on the receipt: ${number}`);
  await visit('receipt');
  if (audit) {
    const pdf = await page.pdf({ format: 'A4', printBackground: false });
    const pages = (pdf.toString('latin1').match(/\/Type\s*\/Page[^s]/g) || []).length;
    check(pages === 1, `the receipt prints on one A4 page, not ${pages}`);
  }
  await page.goBack();
  await page.goBack();
  if (await page.getByRole('button', { name: t('提交申请', 'Submit') }).count() > 0) {
    await page.getByRole('button', { name: t('提交申请', 'Submit') }).last().click();
  }
  await page.goto(`${BASE}/applications`);
  const rows = await page.locator('tbody tr').count();
  check(rows === 1, `one application in my list after a repeat, not ${rows}`);
  await page.goto(`${BASE}/applications/${id}`);
  check(await page.getByText(t('符合条件，待受理', 'Eligible, waiting to be accepted')).count() > 0, 'the case page shows the status');
  check(await page.locator('.tag.pass').count() > 0, 'the decision rule by rule');
  await visit('case');
  if (shots) await page.screenshot({ path: path.join(shots, 'case.png') });
  await page.close();
  return { id, number };
}

let browser;
try {
  await waitReady();
  const onNotice = await caseOnNotice();
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--no-sandbox', '--disable-background-networking', '--disable-gpu'],
  });
  const phone = { viewport: { width: 360, height: 780 }, deviceScaleFactor: 1, bypassCSP: true };

  // 0. The accessibility check can fail: a page with an unlabelled input and an image
  // without text must be refused.
  {
    const ctx = await browser.newContext({ bypassCSP: true });
    const p = await ctx.newPage();
    await p.setContent('<!doctype html><html lang="en"><title>t</title><main><img src="x.png"><input type="text"></main></html>');
    const found = (await violations(p)).map((v) => v.id);
    check(found.includes('image-alt') && found.includes('label'), `axe missed known faults: ${found}`);
    await ctx.close();
  }
  const zh = (a) => a;

  // 1. The applicant, in Chinese, with JavaScript, every page audited.
  const first = await browser.newContext({ ...phone });
  if (SHOTS) fs.mkdirSync(SHOTS, { recursive: true });
  const mine = await journey(first, { mobile: '13800001001', t: zh, audit: true, shots: SHOTS });
  console.log(`applicant 1 submitted ${mine.number}`);

  // 2. Someone else's pages are not found.
  const second = await browser.newContext({ ...phone });
  const p2 = await second.newPage();
  await p2.goto(`${BASE}/register`);
  await p2.fill('#f-display_name', '张三');
  await p2.fill('#f-mobile', '13800002002');
  await p2.fill('#f-password', 'another-long-password');
  await p2.getByRole('button', { name: '注册' }).click();
  await p2.fill('#f-login', '13800002002');
  await p2.fill('#f-password', 'another-long-password');
  await p2.getByRole('button', { name: '登录' }).click();
  for (const suffix of ['', '/receipt', '/edit/members', '/withdraw']) {
    const res = await p2.goto(`${BASE}/applications/${mine.id}${suffix}`);
    check(res.status() === 404, `another applicant's /applications/${mine.id}${suffix} answers ${res.status()}`);
    check(!(await p2.content()).includes(mine.number), 'and shows nothing of it');
  }
  await axe(p2, '404');

  // 3. The public notice and an objection.
  const p3 = await first.newPage();
  await p3.goto(`${BASE}/notices`);
  check((await p3.content()).includes(onNotice), `the notice lists ${onNotice}`);
  await axe(p3, 'notices');
  await p3.fill('#f-number', onNotice);
  await p3.getByRole('button', { name: '查找' }).click();
  check((await p3.locator('tbody tr').count()) === 1, 'searching by number finds the one case');
  await p3.getByRole('link', { name: new RegExp(`提出异议`) }).first().click();
  await axe(p3, 'objection form');
  await p3.fill('#f-name', '孙');
  await p3.fill('#f-contact', '13912345678');
  await p3.fill('#f-content', '该户有自有住房');
  await p3.getByRole('button', { name: '提交异议' }).click();
  check(await p3.getByText('异议已收到').count() > 0, 'the objection is received');
  await axe(p3, 'objection received');

  // 4. In English, with JavaScript disabled: the whole journey again.
  const plain = await browser.newContext({ ...phone, javaScriptEnabled: false });
  const cookieSetter = await plain.newPage();
  await cookieSetter.goto(`${BASE}/lang/en?back=/`);
  check((await cookieSetter.getAttribute('html', 'lang')) === 'en', 'the switch turns the page English');
  await cookieSetter.close();
  const en = (_zh, e) => e;
  const theirs = await journey(plain, { mobile: '13800003003', t: en, audit: false, shots: null });
  console.log(`applicant 3 (English, no JavaScript) submitted ${theirs.number}`);

  // 5. A refused household asks for reconsideration (复核) from its case page.
  await api('POST', '/api/v1/auth/register', { mobile: '13800004004', password: 'appeal-password-1', display_name: '钱复核' });
  const rtoken = (await api('POST', '/api/v1/auth/login', { login: '13800004004', password: 'appeal-password-1' })).body.token;
  const refusedForm = {
    programme: 'public_rental', applicant_class: 'local', community_code: COMMUNITY, filed_at: 'hukou',
    contact_mobile: '13800004004', language: 'zh', consent_verification: true, declaration_truthful: true,
    members: [{ relationship: 'applicant', name: '钱复核', id_number: idNumber('410104', '19800101', 93), gender: 'male',
      marital_status: 'single', hukou_city: '郑州', hukou_since: '2005-03-01', annual_income_fen: 90_000_000 }],
    housing: [], transfers: [], documents: ['id_card', 'hukou_book'],
  };
  const rdraft = await api('POST', '/api/v1/applications', refusedForm, rtoken);
  const rsub = await api('POST', `/api/v1/applications/${rdraft.body.id}/submit`, {}, rtoken, { 'idempotency-key': 'appeal-1' });
  check(rsub.status === 201 && rsub.body.status === 'ineligible', `the refused case: ${JSON.stringify(rsub.body)}`);
  const fourth = await browser.newContext({ ...phone });
  const p4 = await fourth.newPage();
  await p4.goto(`${BASE}/login`);
  await p4.fill('#f-login', '13800004004');
  await p4.fill('#f-password', 'appeal-password-1');
  await p4.getByRole('button', { name: '登录' }).click();
  await p4.goto(`${BASE}/applications/${rdraft.body.id}`);
  await p4.getByRole('link', { name: '申请复核' }).click();
  await axe(p4, 'appeal form');
  await p4.getByRole('button', { name: '提交复核申请' }).click();
  const appealProblems = await summary(p4);
  check(appealProblems.some((x) => x.href.endsWith('#f-reasons')), `the summary names the reasons: ${JSON.stringify(appealProblems)}`);
  await axe(p4, 'appeal form with a problem');
  await p4.fill('#f-reasons', '收入证明把年终奖算了两次');
  await p4.getByRole('button', { name: '提交复核申请' }).click();
  check((await p4.content()).includes('复核答复截止日期'), 'the case page shows when the answer is due');
  await axe(p4, 'case under appeal');
  await fourth.close();
  console.log('applicant 4 asked for reconsideration');

  // 6. The staff pages: a reviewer's desk, the supervisor's batch, the bureau's inbox
  // and the dashboard, each role refused the others' pages.
  await staffJourney(browser);

  console.log(`axe: no serious or critical violation on ${audited.size} kinds of page`);
  console.log('browser tests: passed');
} catch (e) {
  if (!process.exitCode) {
    console.error(e);
    process.exitCode = 1;
  }
  const log = path.join(work, 'serve.log');
  if (fs.existsSync(log)) console.error(fs.readFileSync(log, 'utf8').slice(-3000));
} finally {
  if (browser) await browser.close();
  server.kill('SIGTERM');
}
