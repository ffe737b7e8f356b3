// The web admin as an administrator uses it, in a real headless Chromium
// against a real certmond: log in, certificates (upload PEM and PKCS#12,
// table, filter, sort, details, PEM download, delete), every settings page
// (save, reload, persisted, validation errors), services, events, mail,
// units, the dashboard, a narrow window, keyboard and labels, logout.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';

import {
  certmon, freePort, launchBrowser, login, makeCerts, newContext, shot,
  startDaemon, tmpdir, watch, PASSWORD,
} from './lib.mjs';

let daemon;
let browser;
let context;
let page;
let certs;
let certDir;
let smtpd = null;
let smtpPort = 0;
let smtpOut = '';
const problems = [];

const T = { timeout: 60000 };

async function flashText() {
  const f = page.locator('.flash');
  await f.first().waitFor({ timeout: 10000 });
  return (await f.first().textContent()).trim();
}

async function cellTexts(col) {
  return page.locator(`table.certs tbody tr td:nth-child(${col})`).allTextContents();
}

function json(args) {
  return JSON.parse(certmon(daemon.db, [...args, '--json']));
}

async function waitPort(port) {
  for (let i = 0; i < 100; i++) {
    const ok = await new Promise((resolve) => {
      const s = net.connect(port, '127.0.0.1', () => { s.end(); resolve(true); });
      s.on('error', () => resolve(false));
    });
    if (ok) return true;
    await new Promise((r) => setTimeout(r, 100));
  }
  return false;
}

// Every visible form control of the page has a label bound to it.
async function unlabelled() {
  return page.evaluate(() => [...document.querySelectorAll('input, select, textarea')]
    .filter((el) => el.type !== 'hidden')
    .filter((el) => (el.labels === null || el.labels.length === 0) && !el.getAttribute('aria-label'))
    .map((el) => el.name || el.id));
}

describe('web admin', () => {
  before(async () => {
    certDir = tmpdir('certs');
    certs = makeCerts(certDir);
    daemon = await startDaemon('admin');
    // some certificates in other states, uploaded with the CLI
    certmon(daemon.db, ['cert', 'upload', '--unit', 'CallManager', certs.critical]);
    certmon(daemon.db, ['cert', 'upload', '--unit', 'ipsec', certs.soon]);
    certmon(daemon.db, ['cert', 'upload', '--unit', 'tomcat-trust', certs.later]);
    certmon(daemon.db, ['cert', 'upload', '--unit', 'CAPF', certs.longLived]);
    certmon(daemon.db, ['cert', 'upload', '--unit', 'TVS', certs.expired]);
    browser = await launchBrowser();
    context = await newContext(browser);
    page = await context.newPage();
    watch(page, problems);
    // a real SMTP server (aiosmtpd) for "Send test e-mail"
    smtpPort = await freePort();
    smtpd = spawn('/usr/bin/python3', ['-m', 'aiosmtpd', '-n', '-l', `127.0.0.1:${smtpPort}`],
      { stdio: ['ignore', 'pipe', 'pipe'] });
    smtpd.stdout.on('data', (b) => { smtpOut += b.toString(); });
    if (!(await waitPort(smtpPort))) {
      throw new Error('aiosmtpd does not listen: apt-get install python3-aiosmtpd');
    }
  });

  after(async () => {
    await browser?.close();
    await daemon?.stop();
    smtpd?.kill();
    if (certDir) fs.rmSync(certDir, { recursive: true, force: true });
  });

  it('listens within 5 s of its first start, key generation included', () => {
    assert.ok(daemon.startMs < 5000, `took ${daemon.startMs} ms`);
  });

  it('sends a visitor to the login page, refuses a wrong password, then logs in', T, async () => {
    await page.goto(`${daemon.url}/certs`);
    assert.match(page.url(), /\/login\?next=%2Fcerts$/);
    await shot(page, '01-login');
    await page.getByLabel('User name').fill('admin');
    await page.getByLabel('Password').fill('not-the-password');
    await page.getByRole('button', { name: 'Log in' }).click();
    assert.match(await flashText(), /Wrong user name or password/);
    assert.match(page.url(), /\/login\?next=%2Fcerts$/);
    await shot(page, '02-login-failed');
    // one failure does not slow the next correct login
    const t0 = Date.now();
    await page.getByLabel('Password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.waitForURL(/\/certs$/);
    assert.ok(Date.now() - t0 < 3000);
    assert.equal(await page.locator('h1').textContent(), 'Certificate Management');
  });

  it('shows the menu grouped Security and Services, as plain links, on every page', T, async () => {
    for (const path of ['/', '/certs', '/units', '/monitor', '/revocation', '/params',
      '/services', '/mail', '/events', '/certs/upload']) {
      await page.goto(daemon.url + path);
      const nav = page.getByRole('navigation', { name: 'Main menu' });
      assert.equal(await nav.locator('h2').allTextContents().then((t) => t.join('|')), 'Security|Services');
      for (const name of ['Certificate Management', 'Certificate Monitor', 'Certificate Revocation',
        'Enterprise Parameters', 'Network Services', 'Events']) {
        assert.ok(await nav.getByRole('link', { name, exact: true }).isVisible(), `${name} on ${path}`);
      }
      assert.deepEqual(await unlabelled(), [], `unlabelled controls on ${path}`);
    }
  });

  it('uploads a PEM and shows it in the table', T, async () => {
    await page.goto(`${daemon.url}/certs/upload`);
    await shot(page, '10-upload-form');
    await page.getByLabel('Unit', { exact: true }).selectOption('tomcat');
    await page.getByLabel('Certificate file').setInputFiles(certs.server);
    await page.getByRole('button', { name: 'Upload', exact: true }).click();
    await page.waitForURL(/\/certs\?unit=tomcat$/);
    assert.match(await flashText(), /Uploaded server\.pem to tomcat: 1 added/);
    assert.ok((await cellTexts(2)).some((t) => t.includes('web01.example.com')));
  });

  it('refuses a PKCS#12 with a wrong password, next to the field, then uploads it', T, async () => {
    await page.goto(`${daemon.url}/certs/upload`);
    await page.getByLabel('Unit', { exact: true }).selectOption('CallManager');
    await page.getByLabel('Certificate file').setInputFiles(certs.p12);
    await page.getByLabel('PKCS#12 password').fill('wrong-password');
    await page.getByRole('button', { name: 'Upload', exact: true }).click();
    await page.waitForURL(/\/certs\/upload$/);
    assert.match(await flashText(), /Not uploaded/);
    const err = await page.locator('#e-password').textContent();
    assert.match(err, /id\.p12/);
    assert.match(err, /password/i);
    assert.equal(await page.getByLabel('Unit', { exact: true }).inputValue(), 'CallManager');
    await shot(page, '11-upload-error');
    await page.getByLabel('Certificate file').setInputFiles(certs.p12);
    await page.getByLabel('PKCS#12 password').fill(certs.p12Password);
    await page.getByRole('button', { name: 'Upload', exact: true }).click();
    await page.waitForURL(/\/certs\?unit=CallManager$/);
    assert.match(await flashText(), /Uploaded id\.p12 to CallManager: 1 added.*private key/);
    assert.ok((await cellTexts(2)).some((t) => t.includes('p12-identity.example.com')));
  });

  it('explains a file that is not a certificate, and changes nothing', T, async () => {
    const before_ = json(['cert', 'list']).count;
    await page.goto(`${daemon.url}/certs/upload?unit=tomcat`);
    await page.getByLabel('Certificate file').setInputFiles(certs.garbage);
    await page.getByRole('button', { name: 'Upload', exact: true }).click();
    await page.waitForURL(/\/certs\/upload$/);
    assert.match(await page.locator('#e-file').textContent(), /garbage\.pem/);
    assert.equal(json(['cert', 'list']).count, before_);
    // a file above the request size cap is refused in words, not with a JSON error
    await page.getByLabel('Unit', { exact: true }).selectOption('tomcat');
    await page.getByLabel('Certificate file').setInputFiles({
      name: 'huge.pem', mimeType: 'application/x-pem-file', buffer: Buffer.alloc(3 * 1024 * 1024, 65),
    });
    await page.getByRole('button', { name: 'Upload', exact: true }).click();
    await page.waitForURL(/\/certs\/upload$/);
    assert.match(await flashText(), /larger than 2 MiB/);
    assert.equal(json(['cert', 'list']).count, before_);
  });

  it('renders a hostile common name as text', T, async () => {
    await page.goto(`${daemon.url}/certs/upload`);
    await page.getByLabel('Unit', { exact: true }).selectOption('Phone-trust');
    await page.getByLabel('Certificate file').setInputFiles(certs.xss);
    await page.getByRole('button', { name: 'Upload', exact: true }).click();
    await page.waitForURL(/unit=Phone-trust/);
    const cns = await cellTexts(2);
    assert.ok(cns.some((t) => t.includes('<img src=x onerror=alert(1)>')), cns.join(','));
    assert.equal(await page.locator('table.certs img').count(), 0);
  });

  it('lists, filters by unit and state, searches by name, and sorts', T, async () => {
    await page.goto(`${daemon.url}/certs`);
    await shot(page, '12-certs');
    const all = (await cellTexts(1)).length;
    assert.ok(all >= 8, `${all} rows`);
    // by unit
    await page.getByLabel('Unit', { exact: true }).selectOption('tomcat');
    await page.getByRole('button', { name: 'Apply' }).click();
    await page.waitForURL(/unit=tomcat/);
    const units = await cellTexts(1);
    assert.ok(units.length >= 2 && units.every((u) => u === 'tomcat'), units.join(','));
    // by state
    await page.getByLabel('Unit', { exact: true }).selectOption('');
    await page.getByLabel('State').selectOption('critical');
    await page.getByRole('button', { name: 'Apply' }).click();
    await page.waitForURL(/state=critical/);
    assert.deepEqual(await cellTexts(2), ['sip-edge.example.com']);
    assert.deepEqual((await cellTexts(7)).map((s) => s.trim()), ['critical']);
    // search by name
    await page.getByLabel('State').selectOption('');
    await page.getByLabel('Search by name').fill('p12');
    await page.getByRole('button', { name: 'Apply' }).click();
    await page.waitForURL(/q=p12/);
    assert.deepEqual(await cellTexts(2), ['p12-identity.example.com']);
    await shot(page, '13-certs-search');
    // sorting: by common name, both ways, and by expiry (server-side)
    await page.goto(`${daemon.url}/certs`);
    await page.getByRole('link', { name: /^Common name/ }).click();
    await page.waitForURL(/sort=cn&dir=asc/);
    const up = (await cellTexts(2)).map((s) => s.toLowerCase());
    assert.deepEqual(up, [...up].sort((a, b) => a.localeCompare(b, 'en')));
    assert.equal(await page.locator('th[aria-sort="ascending"]').count(), 1);
    await page.getByRole('link', { name: /^Common name/ }).click();
    await page.waitForURL(/sort=cn&dir=desc/);
    const down = (await cellTexts(2)).map((s) => s.toLowerCase());
    assert.deepEqual(down, [...up].reverse());
    await page.getByRole('link', { name: /^Days left/ }).click();
    await page.waitForURL(/sort=days&dir=asc/);
    const days = (await cellTexts(6)).map(Number);
    assert.deepEqual(days, [...days].sort((a, b) => a - b));
    await page.getByRole('link', { name: /^Days left/ }).click();
    await page.waitForURL(/sort=days&dir=desc/);
    const daysDown = (await cellTexts(6)).map(Number);
    assert.deepEqual(daysDown, [...days].reverse());
  });

  it('shows a certificate with all its fields, history, events, and its PEM', T, async () => {
    await page.goto(`${daemon.url}/certs?q=web01`);
    await page.getByRole('link', { name: 'web01.example.com', exact: true }).click();
    await page.waitForURL(/\/certs\/tomcat\/[0-9a-f]{64}$/);
    assert.equal(await page.locator('h1').textContent(), 'web01.example.com');
    const fields = await page.locator('dl.fields').textContent();
    for (const f of ['Subject', 'Issuer', 'Serial number', 'Valid until', 'Revocation status',
      'Public key', 'EC 256 bits', 'DNS:www.example.com', 'SHA-256 fingerprint']) {
      assert.ok(fields.includes(f), f);
    }
    assert.ok(await page.getByRole('heading', { name: 'History' }).isVisible());
    assert.match(await page.locator('section[aria-labelledby="ev-h"]').textContent(), /cert\.added/);
    await shot(page, '14-cert-detail');
    const [download] = await Promise.all([
      page.waitForEvent('download'),
      page.getByRole('link', { name: 'Download PEM' }).click(),
    ]);
    const pem = fs.readFileSync(await download.path(), 'utf8');
    assert.match(pem, /^-----BEGIN CERTIFICATE-----/);
    assert.match(download.suggestedFilename(), /^tomcat-[0-9a-f]{16}\.pem$/);
  });

  it('deletes a certificate after a confirmation', T, async () => {
    await page.goto(`${daemon.url}/certs?unit=Phone-trust`);
    await page.locator('table.certs td.cn a').first().click();
    await page.getByRole('link', { name: 'Delete…' }).click();
    await page.waitForURL(/\/delete$/);
    assert.equal(await page.locator('h1').textContent(), 'Delete certificate');
    await shot(page, '15-delete-confirm');
    await page.getByRole('button', { name: 'Delete certificate' }).click();
    await page.waitForURL(/\/certs\?unit=Phone-trust$/);
    assert.match(await flashText(), /Deleted <img src=x onerror=alert\(1\)>/);
    assert.equal(await page.locator('table.certs td.cn').count(), 0);
    assert.equal(json(['cert', 'list', '--unit', 'Phone-trust']).count, 0);
  });

  it('saves the Certificate Monitor settings, keeps them, and refuses bad input next to the field', T, async () => {
    await page.goto(`${daemon.url}/monitor`);
    await shot(page, '20-monitor');
    await page.getByLabel('Notification Start Time').fill('45');
    await page.getByLabel('Notification Frequency', { exact: true }).fill('12');
    await page.getByLabel('Notification Frequency (unit)').selectOption('hours');
    await page.getByLabel('Enable E-mail notification').check();
    await page.getByLabel('Enable LSC Monitoring').check();
    await page.getByLabel('E-mail IDs').fill('pki@example.com; oncall@example.com');
    await page.getByRole('button', { name: 'Save', exact: true }).click();
    assert.equal(await flashText(), 'Certificate Monitor settings saved.');
    await page.reload();
    assert.equal(await page.getByLabel('Notification Start Time').inputValue(), '45');
    assert.equal(await page.getByLabel('Notification Frequency', { exact: true }).inputValue(), '12');
    assert.equal(await page.getByLabel('Notification Frequency (unit)').inputValue(), 'hours');
    assert.ok(await page.getByLabel('Enable E-mail notification').isChecked());
    assert.ok(await page.getByLabel('Enable LSC Monitoring').isChecked());
    assert.match(await page.getByLabel('E-mail IDs').inputValue(), /^pki@example\.com; ?oncall@example\.com$/);
    const shown = json(['monitor', 'show']).monitor;
    assert.equal(shown.start_days, 45);
    assert.equal(shown.frequency, '12h');
    assert.equal(shown.email, true);
    // bad input: message next to the field, values kept, nothing saved
    await page.getByLabel('Notification Start Time').fill('400');
    await page.getByLabel('E-mail IDs').fill('pki@example.com; not an address');
    await page.getByRole('button', { name: 'Save', exact: true }).click();
    assert.match(await flashText(), /Settings not saved/);
    assert.match(await page.locator('#e-start_days').textContent(), /1 to 365/);
    assert.match(await page.locator('#e-emails').textContent(), /not an address/);
    assert.equal(await page.getByLabel('Notification Start Time').getAttribute('aria-invalid'), 'true');
    assert.equal(await page.getByLabel('Notification Start Time').inputValue(), '400');
    await shot(page, '21-monitor-error');
    assert.equal(json(['monitor', 'show']).monitor.start_days, 45);
    // the error is shown once: a reload shows the stored values
    await page.reload();
    assert.equal(await page.getByLabel('Notification Start Time').inputValue(), '45');
    assert.equal(await page.locator('#e-start_days').count(), 0);
  });

  it('saves the SMTP settings in their own form and sends a test e-mail', T, async () => {
    await page.goto(`${daemon.url}/monitor`);
    await page.getByLabel('SMTP host').fill('127.0.0.1');
    await page.getByLabel('Port', { exact: true }).fill(String(smtpPort));
    await page.getByLabel('Connection security').selectOption('none');
    await page.getByLabel('From address').fill('bad-address');
    await page.getByRole('button', { name: 'Save SMTP settings' }).click();
    assert.match(await page.locator('#e-from').textContent(), /bad-address/);
    await page.getByLabel('From address').fill('certmon@example.com');
    await page.getByRole('button', { name: 'Save SMTP settings' }).click();
    assert.equal(await flashText(), 'SMTP settings saved.');
    await page.reload();
    assert.equal(await page.getByLabel('SMTP host').inputValue(), '127.0.0.1');
    assert.equal(await page.getByLabel('Connection security').inputValue(), 'none');
    const smtp = json(['smtp', 'show']).smtp;
    assert.equal(smtp.host, '127.0.0.1');
    assert.equal(smtp.from, 'certmon@example.com');
    // the monitor settings were not touched by this form
    assert.equal(json(['monitor', 'show']).monitor.start_days, 45);
    await page.getByLabel('Test recipient').fill('pki@example.com');
    await page.getByRole('button', { name: 'Send test e-mail' }).click();
    assert.match(await flashText(), /Test e-mail delivered to pki@example\.com; the server said: 250/);
    await shot(page, '22-monitor-smtp-test');
    for (let i = 0; i < 50 && !smtpOut.includes('[certmon] test message'); i++) {
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.ok(smtpOut.includes('[certmon] test message'));
  });

  it('runs the monitor now, and shows its mail in the queue', T, async () => {
    await page.goto(`${daemon.url}/monitor/preview`);
    assert.ok((await page.locator('table tbody tr').count()) >= 2);
    await shot(page, '23-monitor-preview');
    await page.goto(`${daemon.url}/monitor`);
    await page.getByRole('button', { name: 'Run now' }).click();
    assert.match(await flashText(), /Run done: \d+ certificates? notified; mail: (sent|queued|failed)/);
    await page.goto(`${daemon.url}/mail?all=1`);
    assert.ok((await page.locator('table.data tbody tr').count()) >= 1);
    await shot(page, '24-mail-queue');
    await page.getByRole('button', { name: 'Deliver now' }).click();
    assert.match(await flashText(), /attempted/);
  });

  it('saves the Certificate Revocation settings and refuses a bad URI', T, async () => {
    await page.goto(`${daemon.url}/revocation`);
    assert.ok(await page.getByLabel('Use OCSP URI from Certificate').isChecked());
    await shot(page, '30-revocation');
    await page.getByLabel('Enable OCSP').check();
    await page.getByLabel('Use configured OCSP URI').check();
    await page.getByLabel('OCSP Configured URI').fill('http://ocsp.example.com/responder');
    await page.getByLabel('Enable Revocation Check').check();
    await page.getByLabel('Check Every', { exact: true }).fill('6');
    await page.getByLabel('Check Every (unit)').selectOption('hours');
    await page.getByLabel('Enable CRL').check();
    await page.getByLabel('CRL URIs').fill('http://crl.example.com/root.crl\nhttps://pki.example.com/issuing.crl');
    await page.getByRole('button', { name: 'Save', exact: true }).click();
    assert.equal(await flashText(), 'Certificate Revocation settings saved.');
    await page.goto(`${daemon.url}/revocation`);
    assert.ok(await page.getByLabel('Enable OCSP').isChecked());
    assert.ok(await page.getByLabel('Use configured OCSP URI').isChecked());
    assert.equal(await page.getByLabel('OCSP Configured URI').inputValue(), 'http://ocsp.example.com/responder');
    assert.ok(await page.getByLabel('Enable Revocation Check').isChecked());
    assert.equal(await page.getByLabel('Check Every', { exact: true }).inputValue(), '6');
    assert.equal(await page.getByLabel('Check Every (unit)').inputValue(), 'hours');
    assert.ok(await page.getByLabel('Enable CRL').isChecked());
    assert.equal(await page.getByLabel('CRL URIs').inputValue(),
      'http://crl.example.com/root.crl\nhttps://pki.example.com/issuing.crl');
    // bad input
    await page.getByLabel('OCSP Configured URI').fill('ftp://ocsp.example.com/');
    await page.getByLabel('Check Every', { exact: true }).fill('31');
    await page.getByLabel('Check Every (unit)').selectOption('days');
    await page.getByRole('button', { name: 'Save', exact: true }).click();
    assert.match(await flashText(), /Settings not saved/);
    assert.match(await page.locator('#e-uri').textContent(), /http:\/\/ or https:\/\//);
    await shot(page, '31-revocation-error');
    await page.goto(`${daemon.url}/revocation`);
    assert.equal(await page.getByLabel('OCSP Configured URI').inputValue(), 'http://ocsp.example.com/responder');
    // a duration out of range is refused next to its field
    await page.getByLabel('Check Every', { exact: true }).fill('31');
    await page.getByLabel('Check Every (unit)').selectOption('days');
    await page.getByRole('button', { name: 'Save', exact: true }).click();
    assert.match(await page.locator('#e-every').textContent(), /1 hour to 30 days/);
    // "configured" without a URI is refused
    await page.goto(`${daemon.url}/revocation`);
    await page.getByLabel('OCSP Configured URI').fill('');
    await page.getByRole('button', { name: 'Save', exact: true }).click();
    assert.match(await page.locator('#e-uri').textContent(), /needed/);
  });

  it('saves the Enterprise Parameters and refuses a bad frequency', T, async () => {
    await page.goto(`${daemon.url}/params`);
    await shot(page, '32-params');
    await page.getByLabel('Certificate Validity Check').check();
    await page.getByLabel('Validity Check Frequency', { exact: true }).fill('12');
    await page.getByLabel('Validity Check Frequency (unit)').selectOption('hours');
    await page.getByLabel('Common Criteria mode').check();
    await page.getByRole('button', { name: 'Save', exact: true }).click();
    assert.equal(await flashText(), 'Enterprise Parameters saved.');
    await page.goto(`${daemon.url}/params`);
    assert.ok(await page.getByLabel('Certificate Validity Check').isChecked());
    assert.equal(await page.getByLabel('Validity Check Frequency', { exact: true }).inputValue(), '12');
    assert.equal(await page.getByLabel('Validity Check Frequency (unit)').inputValue(), 'hours');
    assert.ok(await page.getByLabel('Common Criteria mode').isChecked());
    await page.getByLabel('Validity Check Frequency', { exact: true }).fill('0');
    await page.getByRole('button', { name: 'Save', exact: true }).click();
    assert.match(await page.locator('#e-validity_check_frequency').textContent(), /whole number/);
    await shot(page, '33-params-error');
    await page.goto(`${daemon.url}/params`);
    assert.equal(await page.getByLabel('Validity Check Frequency', { exact: true }).inputValue(), '12');
  });

  it('stops, starts and restarts a service', T, async () => {
    const state = () => page.locator('#svc-expiry-monitor .badge').textContent();
    await page.goto(`${daemon.url}/services`);
    await shot(page, '40-services');
    assert.equal(await state(), 'Running');
    await page.getByRole('button', { exact: true, name: 'Stop Certificate Expiry Monitor' }).click();
    assert.equal(await flashText(), 'Certificate Expiry Monitor stopped.');
    assert.equal(await state(), 'Stopped');
    assert.ok(await page.getByRole('button', { exact: true, name: 'Stop Certificate Expiry Monitor' }).isDisabled());
    assert.equal(json(['service', 'list']).services[0].state, 'Stopped');
    await shot(page, '41-services-stopped');
    await page.getByRole('button', { exact: true, name: 'Start Certificate Expiry Monitor' }).click();
    assert.equal(await state(), 'Running');
    await page.getByRole('button', { exact: true, name: 'Restart Certificate Revocation Check' }).click();
    assert.equal(await flashText(), 'Certificate Revocation Check restarted.');
    assert.equal(json(['service', 'list']).services[1].state, 'Running');
  });

  it('adds and removes a unit, and exports a bundle', T, async () => {
    await page.goto(`${daemon.url}/units`);
    await page.getByLabel('Name').fill('lab-trust');
    await page.getByRole('button', { name: 'Add unit' }).click();
    assert.match(await flashText(), /Unit lab-trust \(trust\) added/);
    assert.ok(await page.getByRole('rowheader', { name: 'lab-trust' }).isVisible());
    await shot(page, '42-units');
    const [download] = await Promise.all([
      page.waitForEvent('download'),
      page.getByRole('link', { name: 'Export bundle of tomcat-trust' }).click(),
    ]);
    assert.match(fs.readFileSync(await download.path(), 'utf8'), /BEGIN CERTIFICATE/);
    await page.getByRole('link', { name: 'Remove… lab-trust' }).click();
    await page.getByRole('button', { name: 'Remove unit' }).click();
    assert.match(await flashText(), /Unit lab-trust removed/);
    assert.equal(await page.getByRole('rowheader', { name: 'lab-trust' }).count(), 0);
  });

  it('shows the alarm and audit log, filtered and paged', T, async () => {
    await page.goto(`${daemon.url}/events`);
    await shot(page, '43-events');
    assert.ok((await page.locator('table.events tbody tr').count()) > 5);
    await page.getByLabel('Kind').selectOption('alarm');
    await page.getByRole('button', { name: 'Apply' }).click();
    await page.waitForURL(/kind=alarm/);
    const kinds = await page.locator('table.events tbody td:nth-child(2)').allTextContents();
    assert.ok(kinds.length >= 1 && kinds.every((k) => k === 'alarm'), kinds.join(','));
    // paged: 50 a page, "Older" goes on from the last one shown
    for (let i = 0; i < 8; i++) {   // enough events for two pages
      certmon(daemon.db, ['unit', 'add', `paging-${i}`]);
      certmon(daemon.db, ['unit', 'remove', `paging-${i}`]);
    }
    await page.goto(`${daemon.url}/events`);
    const total = json(['events', '--limit', '1000']).events.length;
    assert.ok(total > 50, `${total} events`);
    const first = await page.locator('table.events tbody tr').allTextContents();
    assert.equal(first.length, 50);
    await page.getByRole('link', { name: /Older/ }).click();
    await page.waitForURL(/before=\d+/);
    const second = await page.locator('table.events tbody tr').allTextContents();
    assert.equal(second.length, Math.min(50, total - 50));
    assert.ok(await page.getByRole('link', { name: 'Newest' }).isVisible());
    await page.getByLabel('Kind').selectOption('audit');
    await page.getByLabel('Event name').fill('web.login_failed');
    await page.getByRole('button', { name: 'Apply' }).click();
    await page.waitForURL(/name=web\.login_failed/);
    assert.match(await page.locator('table.events tbody').textContent(), /failed login as 'admin'/);
  });

  it('shows the dashboard: counts by state and the chart of upcoming expiries', T, async () => {
    await page.goto(`${daemon.url}/`);
    const total = await page.locator('.card-total .card-num').textContent();
    assert.equal(Number(total), json(['cert', 'list']).count);
    assert.equal(await page.locator('.card-critical .card-num').textContent(), '1');
    assert.ok((await page.locator('figure.chart svg rect').count()) >= 3);
    assert.match(await page.locator('figure.chart svg title').first().textContent(), /next 90 days/);
    await shot(page, '00-dashboard');
  });

  it('works by keyboard: skip link first, visible focus', T, async () => {
    await page.goto(`${daemon.url}/monitor`);
    await page.keyboard.press('Tab');
    assert.equal(await page.evaluate(() => document.activeElement.textContent), 'Skip to content');
    await page.keyboard.press('Enter');
    assert.equal(await page.evaluate(() => document.activeElement.id), 'main');
    await page.keyboard.press('Tab');
    const outline = await page.evaluate(() => getComputedStyle(document.activeElement).outlineStyle);
    assert.notEqual(outline, 'none');
  });

  it('works in a narrow window: the menu stacks above the content', T, async () => {
    const narrow = await newContext(browser, {
      viewport: { width: 390, height: 844 }, storageState: await context.storageState(),
    });
    const p = await narrow.newPage();
    watch(p, problems);
    for (const [path, name] of [['/', '50-narrow-dashboard'], ['/certs', '51-narrow-certs'],
      ['/monitor', '52-narrow-monitor'], ['/services', '53-narrow-services']]) {
      await p.goto(daemon.url + path);
      const nav = await p.locator('nav.sidenav').boundingBox();
      const main = await p.locator('main').boundingBox();
      assert.ok(nav.y + nav.height <= main.y + 1, `${path}: menu above the content`);
      const overflow = await p.evaluate(() => document.documentElement.scrollWidth);
      assert.ok(overflow <= 391, `${path}: page ${overflow} px wide`);
      await shot(p, name);
    }
    await narrow.close();
  });

  it('logs out', T, async () => {
    await page.goto(`${daemon.url}/`);
    await page.getByRole('button', { name: 'Log out' }).click();
    await page.waitForURL(/\/login$/);
    assert.equal(await flashText(), 'You have logged out.');
    await page.goto(`${daemon.url}/monitor`);
    assert.match(page.url(), /\/login\?next=/);
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
