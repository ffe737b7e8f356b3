// Helpers of the browser tests: a real certmond on loopback with a temporary
// store, test certificates made with the openssl CLI, Debian's chromium
// driven by playwright-core, and screenshots under $TEST_OUTPUT/screenshots.
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import https from 'node:https';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '..', '..');

export const CERTMON = process.env.CERTMON_BIN || path.join(root, 'build', 'certmon');
export const CERTMOND = process.env.CERTMOND_BIN || path.join(root, 'build', 'certmond');
export const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
export const OUT = process.env.TEST_OUTPUT || path.join(root, 'test-output');
export const SHOTS = path.join(OUT, 'screenshots');
export const PASSWORD = 'correct-horse-battery';

fs.mkdirSync(SHOTS, { recursive: true });

export function tmpdir(prefix) {
  return fs.mkdtempSync(path.join(os.tmpdir(), `certmon-browser-${prefix}-`));
}

export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

// Runs the certmon CLI on the store; returns stdout.
export function certmon(db, args, input) {
  return execFileSync(CERTMON, ['--db', db, ...args], {
    input, encoding: 'utf8', stdio: ['pipe', 'pipe', 'pipe'],
  });
}

export function setPassword(db, dir, password = PASSWORD) {
  const f = path.join(dir, 'admin-password');
  fs.writeFileSync(f, password + '\n', { mode: 0o600 });
  certmon(db, ['admin', 'passwd', '--password-file', f]);
}

function probe(url) {
  return new Promise((resolve) => {
    const req = https.get(url, { rejectUnauthorized: false, timeout: 1000 }, (res) => {
      res.resume();
      resolve(res.statusCode);
    });
    req.on('error', () => resolve(0));
    req.on('timeout', () => { req.destroy(); resolve(0); });
  });
}

// Starts certmond on a free loopback port; resolves when /healthz answers.
// Returns { url, proc, db, dir, startMs, stop() }.
export async function startDaemon(name, { password = true } = {}) {
  const dir = tmpdir(name);
  const db = path.join(dir, 'certmon.db');
  if (password) setPassword(db, dir);
  const port = await freePort();
  const url = `https://127.0.0.1:${port}`;
  const log = fs.openSync(path.join(OUT, `browser-${name}-certmond.log`), 'w');
  const t0 = Date.now();
  const proc = spawn(CERTMOND, ['--db', db, '--listen', `127.0.0.1:${port}`],
    { stdio: ['ignore', log, log] });
  let exited = null;
  proc.on('exit', (code) => { exited = code; });
  for (;;) {
    if (exited !== null) throw new Error(`certmond exited with ${exited}; see browser-${name}-certmond.log`);
    if (await probe(`${url}/healthz`) === 200) break;
    if (Date.now() - t0 > 20000) throw new Error('certmond did not listen within 20 s');
    await new Promise((r) => setTimeout(r, 50));
  }
  const startMs = Date.now() - t0;
  const logFile = path.join(OUT, `browser-${name}-certmond.log`);
  return {
    url, proc, db, dir, startMs, logFile,
    // Stops the daemon; returns its exit code and its log.
    async stop() {
      if (exited === null) {
        const done = new Promise((r) => proc.once('exit', r));
        proc.kill('SIGTERM');
        await done;
      }
      try { fs.closeSync(log); } catch { /* closed already */ }
      fs.rmSync(dir, { recursive: true, force: true });
      return { code: exited, log: fs.readFileSync(logFile, 'utf8') };
    },
  };
}

export async function launchBrowser() {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--no-first-run',
      '--disable-background-networking', '--disable-component-update',
      '--disable-sync'],
  });
}

export async function newContext(browser, opts = {}) {
  return browser.newContext({
    ignoreHTTPSErrors: true,
    viewport: { width: 1360, height: 900 },
    acceptDownloads: true,
    ...opts,
  });
}

// A full-page screenshot.
export async function shot(page, name) {
  const file = path.join(SHOTS, `${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  return file;
}

// Every page must fail the test on a script error or a dialog (an
// unescaped <script> or onerror= would open one).
export function watch(page, problems) {
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  page.on('dialog', async (d) => {
    problems.push(`unexpected dialog: ${d.message()}`);
    await d.dismiss();
  });
  page.on('console', (m) => {
    if (m.type() === 'error' && !/favicon/.test(m.text())) problems.push(`console: ${m.text()}`);
  });
}

export async function login(page, url, user = 'admin', password = PASSWORD) {
  await page.goto(`${url}/login`);
  await page.getByLabel('User name').fill(user);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Log in' }).click();
  await page.waitForLoadState('load');
}

// Test certificates, made with the openssl CLI in dir.
export function makeCerts(dir) {
  const run = (args, opts = {}) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe', ...opts });
  const selfSigned = (name, cn, days, extra = []) => {
    run(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256',
      '-nodes', '-keyout', `${name}.key`, '-out', `${name}.pem`, '-days', String(days),
      '-subj', `/O=Example Corp/CN=${cn}`, ...extra]);
    return path.join(dir, `${name}.pem`);
  };
  const certs = {};
  certs.server = selfSigned('server', 'web01.example.com', 20,
    ['-addext', 'subjectAltName=DNS:web01.example.com,DNS:www.example.com']);
  certs.longLived = selfSigned('long', 'portal.example.com', 400);
  certs.critical = selfSigned('critical', 'sip-edge.example.com', 1);
  certs.soon = selfSigned('soon', 'ldap.example.com', 45);
  certs.later = selfSigned('later', 'mail.example.com', 75);
  certs.xss = selfSigned('xss', '<img src=x onerror=alert(1)>', 60);
  selfSigned('p12', 'p12-identity.example.com', 200);
  run(['pkcs12', '-export', '-inkey', 'p12.key', '-in', 'p12.pem', '-out', 'id.p12',
    '-passout', 'pass:s3cret-p12']);
  certs.p12 = path.join(dir, 'id.p12');
  certs.p12Password = 's3cret-p12';
  fs.writeFileSync(path.join(dir, 'garbage.pem'), 'this is not a certificate\n');
  certs.garbage = path.join(dir, 'garbage.pem');
  // an expired one, made 40 days ago: libfaketime preloaded directly (the
  // `faketime` wrapper keeps a semaphore per PID in /dev/shm that a killed
  // process leaves behind, and a later one with the same PID then fails)
  const multiarch = fs.readdirSync('/usr/lib').find(
    (d) => fs.existsSync(path.join('/usr/lib', d, 'faketime/libfaketime.so.1')));
  if (!multiarch) throw new Error('libfaketime not found: apt-get install faketime');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec',
    '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'old.key', '-out',
    'old.pem', '-days', '30', '-subj', '/O=Example Corp/CN=legacy.example.com'],
  {
    cwd: dir, stdio: 'pipe',
    env: { ...process.env, FAKETIME: '-40d',
      LD_PRELOAD: path.join('/usr/lib', multiarch, 'faketime/libfaketime.so.1') },
  });
  certs.expired = path.join(dir, 'old.pem');
  return certs;
}
