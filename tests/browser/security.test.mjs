// The web admin's defences, against their own certmond: the first start
// without a password, cookie flags and headers, CSRF on forms and on API
// calls made with the session cookie, API calls without a cookie, logout
// ending the session, and the login lock-out.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';

import {
  launchBrowser, login, newContext, setPassword, shot, startDaemon, watch, PASSWORD,
} from './lib.mjs';

let daemon;
let browser;
let context;
let page;
const problems = [];
const T = { timeout: 60000 };

async function flashText(p = page) {
  const f = p.locator('.flash');
  await f.first().waitFor({ timeout: 10000 });
  return (await f.first().textContent()).trim();
}

describe('web admin security', () => {
  before(async () => {
    daemon = await startDaemon('security', { password: false });
    browser = await launchBrowser();
    context = await newContext(browser);
    page = await context.newPage();
    watch(page, problems);
  });

  after(async () => {
    await browser?.close();
    await daemon?.stop();
  });

  it('says how to set the password when none is set', T, async () => {
    await page.goto(`${daemon.url}/`);
    await page.waitForURL(/\/login/);
    const notice = await page.locator('.notice').textContent();
    assert.match(notice, /No password is set yet/);
    assert.match(notice, /certmon --db .* admin passwd/);
    await shot(page, '03-login-no-password');
    await page.getByLabel('Password').fill('anything-at-all');
    await page.getByRole('button', { name: 'Log in' }).click();
    assert.match(await flashText(), /Wrong user name or password/);
  });

  it('logs in once `certmon admin passwd` has set the password (no restart)', T, async () => {
    setPassword(daemon.db, daemon.dir);
    await login(page, daemon.url);
    await page.waitForURL(`${daemon.url}/`);
    assert.equal(await page.locator('h1').textContent(), 'Dashboard');
  });

  it('keeps the session in an HttpOnly, Secure, SameSite=Strict cookie with an expiry', T, async () => {
    const [c] = (await context.cookies()).filter((x) => x.name === 'certmon_session');
    assert.ok(c, 'session cookie');
    assert.equal(c.httpOnly, true);
    assert.equal(c.secure, true);
    assert.equal(c.sameSite, 'Strict');
    assert.match(c.value, /^[0-9a-f]{64}$/);
    const left = c.expires - Date.now() / 1000;
    assert.ok(left > 7 * 3600 && left <= 8 * 3600 + 5, `expires in ${left} s`);
  });

  it('sends the security headers, with a Content-Security-Policy', T, async () => {
    const res = await page.request.get(`${daemon.url}/monitor`);
    const h = res.headers();
    assert.match(h['content-security-policy'], /default-src 'self'/);
    assert.match(h['content-security-policy'], /frame-ancestors 'none'/);
    assert.equal(h['x-frame-options'], 'DENY');
    assert.equal(h['x-content-type-options'], 'nosniff');
    assert.match(h['strict-transport-security'], /max-age=/);
  });

  it('refuses a form POST without the CSRF token, and changes nothing', T, async () => {
    const form = {
      start_days: '7', frequency: '1', frequency_unit: 'days', emails: '',
      retry_cap: '1', retry_cap_unit: 'hours', give_up_after: '7', give_up_after_unit: 'days',
    };
    let res = await page.request.post(`${daemon.url}/monitor`, { form, maxRedirects: 0 });
    assert.equal(res.status(), 403);
    assert.match(await res.text(), /CSRF/);
    res = await page.request.post(`${daemon.url}/monitor`,
      { form: { ...form, csrf: 'f'.repeat(64) }, maxRedirects: 0 });
    assert.equal(res.status(), 403);
    res = await page.request.post(`${daemon.url}/services/expiry-monitor/stop`, { maxRedirects: 0 });
    assert.equal(res.status(), 403);
    await page.goto(`${daemon.url}/monitor`);
    assert.equal(await page.getByLabel('Notification Start Time').inputValue(), '30');
    assert.equal(await page.locator('#svc-expiry-monitor').count(), 0);
    await page.goto(`${daemon.url}/services`);
    assert.equal(await page.locator('#svc-expiry-monitor .badge').textContent(), 'Running');
    // the same form with the page's token is accepted (303, Post/Redirect/Get)
    const csrf = await page.locator('meta[name="csrf-token"]').getAttribute('content');
    res = await page.request.post(`${daemon.url}/monitor`,
      { form: { ...form, csrf }, maxRedirects: 0 });
    assert.equal(res.status(), 303);
    assert.equal(res.headers().location, '/monitor');
  });

  it('refuses API calls without a cookie or token, and state-changing ones without X-CSRF-Token', T, async () => {
    const anon = await newContext(browser);
    let res = await anon.request.get(`${daemon.url}/api/v1/certs`);
    assert.equal(res.status(), 401);
    res = await anon.request.post(`${daemon.url}/api/v1/units`, { data: { name: 'x-trust' } });
    assert.equal(res.status(), 401);
    // a page without a session goes to the login page
    res = await anon.request.get(`${daemon.url}/certs`, { maxRedirects: 0 });
    assert.equal(res.status(), 303);
    assert.match(res.headers().location, /^\/login/);
    await anon.close();
    // with the session cookie: reads work, writes need the CSRF header
    res = await page.request.get(`${daemon.url}/api/v1/certs`);
    assert.equal(res.status(), 200);
    assert.equal((await res.json()).status, 'ok');
    res = await page.request.post(`${daemon.url}/api/v1/units`, { data: { name: 'api-trust' } });
    assert.equal(res.status(), 403);
    await page.goto(`${daemon.url}/`);
    const csrf = await page.locator('meta[name="csrf-token"]').getAttribute('content');
    res = await page.request.post(`${daemon.url}/api/v1/units`, {
      data: { name: 'api-trust' }, headers: { 'X-CSRF-Token': csrf },
    });
    assert.equal(res.status(), 201);
  });

  it('ends the session at logout: the old cookie no longer works', T, async () => {
    const [old] = (await context.cookies()).filter((x) => x.name === 'certmon_session');
    await page.goto(`${daemon.url}/`);
    await page.getByRole('button', { name: 'Log out' }).click();
    await page.waitForURL(/\/login$/);
    const replay = await newContext(browser);
    await replay.addCookies([{ ...old }]);
    const res = await replay.request.get(`${daemon.url}/certs`, { maxRedirects: 0 });
    assert.equal(res.status(), 303);
    const api = await replay.request.get(`${daemon.url}/api/v1/certs`);
    assert.equal(api.status(), 401);
    await replay.close();
  });

  it('locks the login out after 5 failures in 5 minutes, even for the right password', T, async () => {
    for (let i = 0; i < 5; i++) {
      await login(page, daemon.url, 'admin', `wrong-${i}`);
      assert.match(await flashText(), /Wrong user name or password/);
    }
    await login(page, daemon.url, 'admin', PASSWORD);
    assert.match(await flashText(), /Too many failed logins/);
    assert.match(page.url(), /\/login/);
    await shot(page, '04-login-locked');
    const res = await page.request.get(`${daemon.url}/api/v1/events?name=web.login_locked`);
    assert.equal(res.status(), 401);
  });

  it('had no script errors and no dialogs', () => {
    assert.deepEqual(problems, []);
  });

  it('stops cleanly, with no sanitizer report in the daemon log', T, async () => {
    const { code, log } = await daemon.stop();
    assert.equal(code, 0, log);
    assert.doesNotMatch(log, /Sanitizer|runtime error:/);
  });
});
