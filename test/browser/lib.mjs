// Helpers for the panel's browser tests: a real Xvfb, a real `mfd serve`,
// the `mfd clients` CLI, xev and xdotool to read the X server back, and
// Debian's Chromium driven by playwright-core.
import { spawn, execFile } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import net from 'node:net';
import https from 'node:https';

export const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
export const MFD = process.env.MFD_BIN || join(REPO, 'bin/mfd');
export const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
export const CI = process.env.CI === 'true';

const which = (cmd) => (process.env.PATH || '').split(':').some((d) => d && existsSync(join(d, cmd)));

// missing returns what the browser tests need and this machine lacks, with
// the line that installs it; an empty list when all is there.
export function missing({ x11 = true, openssl = false } = {}) {
  const out = [];
  if (!existsSync(MFD)) out.push(`${MFD} (run: make build)`);
  if (!existsSync(CHROMIUM)) out.push('chromium (run: sudo apt-get install chromium)');
  if (x11) {
    if (!which('Xvfb')) out.push('Xvfb (run: sudo apt-get install xvfb)');
    if (!which('xev')) out.push('xev (run: sudo apt-get install x11-utils)');
    if (!which('xdotool')) out.push('xdotool (run: sudo apt-get install xdotool)');
    if (!which('stdbuf')) out.push('stdbuf (run: sudo apt-get install coreutils)');
  }
  if (openssl && !which('openssl')) out.push('openssl (run: sudo apt-get install openssl)');
  if (!existsSync(join(REPO, 'test/node_modules/playwright-core'))) {
    out.push('playwright-core (run: cd test && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci)');
  }
  return out;
}

// skipReason is false when the tests can run, else why they skip. In CI a
// missing prerequisite is a failure, never a skip: it throws.
export function skipReason(opts) {
  const m = missing(opts);
  if (!m.length) return false;
  const msg = `missing prerequisites: ${m.join('; ')}`;
  if (CI) throw new Error(msg);
  return msg;
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// waitFor polls fn until it returns a truthy value (which it returns) or
// throws after timeout with the last error or message.
export async function waitFor(fn, { timeout = 10000, interval = 50, message = 'condition' } = {}) {
  const end = Date.now() + timeout;
  let last;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > end) {
      throw new Error(`timed out after ${timeout} ms waiting for ${message}${last ? `: ${last.message}` : ''}`);
    }
    await sleep(interval);
  }
}

export function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.unref();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

export function tempDir(prefix = 'mfd-browser-') {
  return mkdtempSync(join(tmpdir(), prefix));
}

export function run(cmd, args, opts = {}) {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { timeout: 15000, ...opts }, (err, stdout, stderr) => {
      if (err) {
        err.message += `\nstdout: ${stdout}\nstderr: ${stderr}`;
        reject(err);
      } else resolve(stdout);
    });
  });
}

// Proc is a spawned process whose output is kept for failure messages.
class Proc {
  constructor(cmd, args, opts) {
    this.out = '';
    this.exited = null;
    this.p = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], ...opts });
    this.p.stdout.on('data', (d) => { this.out += d; });
    this.p.stderr.on('data', (d) => { this.out += d; });
    this.p.on('exit', (code, sig) => { this.exited = { code, sig }; });
    this.p.on('error', (err) => { this.out += `\nspawn error: ${err.message}`; this.exited = { code: -1 }; });
  }

  tail(n = 3000) {
    return this.out.slice(-n);
  }

  async stop(signal = 'SIGTERM', timeout = 5000) {
    if (this.exited) return;
    const done = new Promise((r) => this.p.once('exit', r));
    this.p.kill(signal);
    const t = setTimeout(() => { if (!this.exited) this.p.kill('SIGKILL'); }, timeout);
    await done;
    clearTimeout(t);
  }
}

// startXvfb starts a real X server on a free display number.
export async function startXvfb() {
  for (let n = 90 + Math.floor(Math.random() * 400); ; n++) {
    if (existsSync(`/tmp/.X11-unix/X${n}`) || existsSync(`/tmp/.X${n}-lock`)) continue;
    const display = `:${n}`;
    const proc = new Proc('Xvfb', [display, '-screen', '0', '1280x1024x24', '-nolisten', 'tcp']);
    try {
      await waitFor(async () => {
        if (proc.exited) throw new Error(`Xvfb exited: ${proc.tail()}`);
        await run('xdotool', ['getmouselocation'], { env: { ...process.env, DISPLAY: display } });
        return true;
      }, { timeout: 10000, message: `Xvfb on ${display}` });
    } catch (err) {
      await proc.stop();
      if (/already active|server is already/i.test(proc.out)) continue;
      throw err;
    }
    return { display, env: { ...process.env, DISPLAY: display }, stop: () => proc.stop() };
  }
}

function getJSON(url) {
  return new Promise((resolve, reject) => {
    const req = https.get(url, { rejectUnauthorized: false, timeout: 2000 }, (res) => {
      let body = '';
      res.on('data', (d) => { body += d; });
      res.on('end', () => {
        try { resolve({ status: res.statusCode, body: JSON.parse(body) }); } catch (err) { reject(err); }
      });
    });
    req.on('error', reject);
    req.on('timeout', () => req.destroy(new Error('timeout')));
  });
}

// startServer starts `mfd serve` and waits until GET /info answers.
export async function startServer({ stateDir, port, config, display, noAgent = false }) {
  const args = ['serve', '--state-dir', stateDir, '--listen', `127.0.0.1:${port}`];
  if (config) args.push('--config', config);
  if (noAgent) args.push('--no-agent');
  const env = { ...process.env, MFD_STATE_DIR: stateDir };
  if (display) env.DISPLAY = display; else delete env.DISPLAY;
  const proc = new Proc(MFD, args, { env });
  const url = `https://127.0.0.1:${port}`;
  let info;
  try {
    info = await waitFor(async () => {
      if (proc.exited) throw new Error(`mfd serve exited (${JSON.stringify(proc.exited)})`);
      const r = await getJSON(`${url}/info`);
      return r.status === 200 && r.body.server_id ? r.body : null;
    }, { timeout: 20000, message: 'mfd serve to answer /info' });
  } catch (err) {
    await proc.stop();
    err.message += `\nserver output:\n${proc.tail()}`;
    throw err;
  }
  return {
    url, info, stateDir, proc,
    log: () => proc.tail(6000),
    stop: () => proc.stop(),
    clients: () => clientsList(stateDir),
    cli: (...a) => run(MFD, ['clients', ...a, '--state-dir', stateDir], { env }),
  };
}

export async function clientsList(stateDir) {
  const out = await run(MFD, ['clients', 'list', '--json', '--state-dir', stateDir]);
  const v = JSON.parse(out || '[]');
  return Array.isArray(v) ? v : [];
}

export function writeConfig(dir, yaml) {
  const p = join(dir, 'host.yaml');
  writeFileSync(p, yaml);
  return p;
}

// Xev runs xev on its own focused window and parses what it prints.
export class Xev {
  static async start(xenv, name = `mfd-xev-${process.pid}`) {
    const x = new Xev();
    x.env = xenv;
    x.events = [];
    x.buf = '';
    x.proc = spawn('stdbuf', ['-oL', 'xev', '-name', name, '-geometry', '400x300+0+0', '-event', 'keyboard', '-event', 'button'], {
      env: xenv, stdio: ['ignore', 'pipe', 'pipe'],
    });
    x.proc.stdout.on('data', (d) => x.feed(String(d)));
    x.proc.stderr.on('data', () => {});
    const wid = (await waitFor(async () => (await run('xdotool', ['search', '--name', `^${name}$`], { env: xenv })).trim().split('\n')[0], {
      timeout: 10000, message: 'the xev window',
    }));
    x.wid = wid;
    await x.focus();
    return x;
  }

  async focus() {
    await waitFor(async () => {
      await run('xdotool', ['windowfocus', '--sync', this.wid], { env: this.env });
      const f = (await run('xdotool', ['getwindowfocus'], { env: this.env })).trim();
      return f === this.wid;
    }, { timeout: 5000, message: 'focus on the xev window' });
  }

  // feed parses xev's output line by line: xev starts each event with a
  // blank line, so an event is complete at its own last line, not at the
  // next blank one.
  feed(s) {
    this.buf += s;
    const lines = this.buf.split('\n');
    this.buf = lines.pop();
    for (const line of lines) {
      if (/^\w+ event, serial/.test(line)) this.block = [line];
      else if (this.block) this.block.push(line);
      else continue;
      if (/^\s+XFilterEvent returns/.test(line) || /^\s+state 0x[0-9a-f]+, button \d+/.test(line)) {
        this.parse(this.block.join('\n'));
        this.block = null;
      }
    }
  }

  parse(block) {
    const at = Date.now();
    let m = /^(KeyPress|KeyRelease) event[\s\S]*?keycode (\d+) \(keysym 0x([0-9a-f]+), ([^)]*)\)(?:[\s\S]*?XLookupString gives \d+ bytes:(?: \(([0-9a-f ]+)\))?)?/.exec(block.trim());
    if (m) {
      const bytes = m[5] ? Buffer.from(m[5].replace(/ /g, ''), 'hex').toString('utf8') : '';
      this.events.push({ type: m[1], keycode: Number(m[2]), keysym: parseInt(m[3], 16), name: m[4], text: bytes, at });
      return;
    }
    m = /^(ButtonPress|ButtonRelease) event[\s\S]*?button (\d+)/.exec(block.trim());
    if (m) this.events.push({ type: m[1], button: Number(m[2]), at });
  }

  // mark returns the index from which since() reads.
  mark() { return this.events.length; }

  since(i) { return this.events.slice(i); }

  // typed returns the text of the KeyPress events since mark i.
  typed(i) {
    return this.since(i).filter((e) => e.type === 'KeyPress').map((e) => e.text).join('');
  }

  async stop() {
    if (this.proc.exitCode == null) {
      const done = new Promise((r) => this.proc.once('exit', r));
      this.proc.kill();
      await done;
    }
  }
}

export async function mouseLocation(xenv) {
  const out = await run('xdotool', ['getmouselocation', '--shell'], { env: xenv });
  const v = Object.fromEntries(out.trim().split('\n').map((l) => l.split('=')));
  return { x: Number(v.X), y: Number(v.Y) };
}

export const LAUNCH_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run', '--ignore-certificate-errors'];

export async function launchBrowser() {
  const { chromium } = await import('playwright-core');
  const env = { ...process.env };
  delete env.DISPLAY;
  return chromium.launch({ executablePath: CHROMIUM, args: LAUNCH_ARGS, env, timeout: 30000 });
}

// openPage opens a page that records console errors and page errors, and
// every request that left for another origin.
export async function openPage(context, url) {
  const page = await context.newPage();
  const log = { errors: [], foreign: [] };
  const origin = new URL(url).origin;
  page.on('console', (m) => { if (m.type() === 'error') log.errors.push(`console: ${m.text()}`); });
  page.on('pageerror', (e) => log.errors.push(`pageerror: ${e.message}`));
  page.on('request', (r) => {
    const u = r.url();
    if (!u.startsWith(origin + '/') && !u.startsWith('wss://' + new URL(url).host + '/') && !u.startsWith('data:')) log.foreign.push(u);
  });
  return { page, log };
}

// pairingCode takes a fresh page through the naming step of a first
// pairing (with name, or the default the panel offers) and returns the
// pairing code once the page shows it.
export async function pairingCode(page, name = null) {
  return waitFor(() => page.evaluate((n) => {
    const m = window.__mfd;
    if (m.state === 'naming') {
      if (n) document.getElementById('device-name').value = n;
      document.getElementById('pair-start').click();
      return null;
    }
    return m.state === 'pending' && m.code;
  }, name), { timeout: 15000, message: 'a pairing code' });
}

export function cleanup(dir) {
  try { rmSync(dir, { recursive: true, force: true }); } catch { /* best effort */ }
}
