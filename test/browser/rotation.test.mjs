// Token rotation against a real mfd serve: the broker pushes a fresh token at
// two thirds of the old one's life and the panel reconnects with it
// (make-before-break) before the old one runs out. Tokens live 15 minutes by
// default; MFD_TOKEN_TTL (a Go duration) shortens them, and the test fails
// if the server does not honour it.
import { describe, before, after, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import https from 'node:https';
import { randomUUID } from 'node:crypto';
import * as L from './lib.mjs';

const TTL_S = 30;
let skip = L.skipReason({ x11: false });

function post(url, body) {
  return new Promise((resolve, reject) => {
    const req = https.request(url, { method: 'POST', rejectUnauthorized: false, headers: { 'Content-Type': 'application/json' } }, (res) => {
      let b = '';
      res.on('data', (d) => { b += d; });
      res.on('end', () => resolve({ status: res.statusCode, body: b ? JSON.parse(b) : null }));
    });
    req.on('error', reject);
    req.end(JSON.stringify(body));
  });
}

if (skip) test('token rotation against a real mfd serve', { skip }, () => {});

describe('token rotation against a real mfd serve', { skip }, () => {
  let dir, srv, browser, page, log, connectedAt;

  before(async () => {
    dir = L.tempDir();
    const port = await L.freePort();
    process.env.MFD_TOKEN_TTL = `${TTL_S}s`;
    try {
      srv = await L.startServer({ stateDir: join(dir, 'state'), port, noAgent: true });
    } finally {
      delete process.env.MFD_TOKEN_TTL;
    }
    // Does this server honour MFD_TOKEN_TTL? Ask with a throwaway client.
    const key = randomUUID();
    const r = await post(`${srv.url}/authorise`, { client_id: key, name: 'ttl probe', role: 'panel' });
    if (r.status === 202) await srv.cli('approve', r.body.pairing_code);
    const ok = await post(`${srv.url}/authorise`, { client_id: key, name: 'ttl probe', role: 'panel' });
    const life = (Date.parse(ok.body.expires_at) - Date.now()) / 1000;
    assert.ok(life < TTL_S + 5, `mfd serve does not honour MFD_TOKEN_TTL (tokens live ${Math.round(life)} s)`);
    browser = await L.launchBrowser();
    const ctx = await browser.newContext({ ignoreHTTPSErrors: true });
    ({ page, log } = await L.openPage(ctx, srv.url));
    await page.goto(srv.url + '/');
    const code = await L.pairingCode(page);
    await srv.cli('approve', code);
    await L.waitFor(() => page.evaluate(() => window.__mfd.state === 'connected'), { message: 'connected' });
    connectedAt = Date.now();
  });

  after(async () => {
    await browser?.close().catch(() => {});
    await srv?.stop();
    if (dir) L.cleanup(dir);
  });

  test('a pushed token is taken before the old one runs out, and the session outlives the old token', async (t) => {
    const sub = await page.evaluate(() => window.__mfd.sub);
    await L.waitFor(() => page.evaluate(() => window.__mfd.pushed >= 1), { timeout: TTL_S * 1000, interval: 250, message: 'a rotation with a pushed token' });
    // Until past the first token's end and the broker's grace (30 s), the
    // panel stays on its planned connections: no unplanned reconnect.
    const until = connectedAt + (TTL_S + 30 + 5) * 1000;
    while (Date.now() < until) {
      const s = await page.evaluate(() => ({ state: window.__mfd.state, connects: window.__mfd.connects, sub: window.__mfd.sub }));
      assert.deepEqual(s, { state: 'connected', connects: 1, sub }, 'no unplanned reconnect');
      await L.sleep(500);
    }
    assert.ok(await page.evaluate(() => window.__mfd.rotations) >= 1);
    assert.deepEqual(log.errors, []);
  });
});
