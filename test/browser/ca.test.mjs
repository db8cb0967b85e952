// The local CA on the pairing screen (issue 11), in Debian's Chromium driven
// by playwright-core, against two real `mfd serve`: one with a fresh state
// dir, whose certificate is signed by a name-constrained local CA, and one
// with a state dir from before the local CA (a self-signed certificate, made
// here with openssl as an older mfd made it), which has no /ca.crt.
import { describe, before, after, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { X509Certificate } from 'node:crypto';
import https from 'node:https';
import * as L from './lib.mjs';

const skip = L.skipReason({ x11: false, openssl: true });

const CONTROLS = 'button, input, select, textarea, summary, [role="tab"], [role="application"], a[href]';
const PLATFORMS = ['iOS', 'Android', 'Windows', 'macOS', 'Linux', 'ChromeOS'];

// colons writes a hex fingerprint as the host prints it at start-up.
const colons = (hex) => hex.toUpperCase().match(/../g).join(':');

// oldStateDir makes a state dir as an mfd from before the local CA left it:
// tls.pem holds one self-signed certificate (CA:TRUE) and its key.
async function oldStateDir(dir) {
  mkdirSync(dir, { mode: 0o700 });
  const cert = join(dir, 'cert.tmp');
  const key = join(dir, 'key.tmp');
  await L.run('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
    '-keyout', key, '-out', cert, '-days', '3650', '-subj', '/CN=mfd old',
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=digitalSignature,keyCertSign',
    '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1']);
  writeFileSync(join(dir, 'tls.pem'), readFileSync(cert, 'utf8') + readFileSync(key, 'utf8'), { mode: 0o600 });
  L.cleanup(cert);
  L.cleanup(key);
}

// get fetches url over TLS verified against ca alone, or unverified when
// ca is null.
function get(url, ca) {
  return new Promise((resolve, reject) => {
    const opts = ca ? { ca, rejectUnauthorized: true } : { rejectUnauthorized: false };
    https.get(url, { ...opts, timeout: 5000 }, (res) => {
      let body = '';
      res.on('data', (d) => { body += d; });
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body }));
    }).on('error', reject);
  });
}

if (skip) test('the local CA on the pairing screen', { skip }, () => {});

describe('the local CA on the pairing screen', { skip }, () => {
  let dir, srv, old, browser, ctx, page, log;

  const step = (name, fn) => test(name, async () => {
    try {
      await fn();
    } catch (err) {
      for (const [what, s] of [['mfd serve', srv], ['mfd serve (old state dir)', old]]) {
        const tail = (s ? s.log() : '').split('\n').filter((l) => !l.includes('█')).slice(-15).join('\n');
        err.message += `\n--- ${what}, last lines ---\n${tail}`;
      }
      throw err;
    }
  });
  const state = (p = page) => p.evaluate(() => window.__mfd && window.__mfd.state);

  before(async () => {
    dir = L.tempDir('mfd-ca-');
    srv = await L.startServer({ stateDir: join(dir, 'state'), port: await L.freePort(), noAgent: true });
    await oldStateDir(join(dir, 'state-old'));
    old = await L.startServer({ stateDir: join(dir, 'state-old'), port: await L.freePort(), noAgent: true });
    browser = await L.launchBrowser();
    ctx = await browser.newContext({ ignoreHTTPSErrors: true, viewport: { width: 390, height: 844 }, hasTouch: true, acceptDownloads: true });
    ({ page, log } = await L.openPage(ctx, srv.url));
  });

  after(async () => {
    await browser?.close().catch(() => {});
    await srv?.stop();
    await old?.stop();
    if (dir) L.cleanup(dir);
  });

  step('the pairing screen offers the CA, optional, with the fingerprint the host printed', async () => {
    const fp = srv.info.tls_ca_fingerprint_sha256;
    assert.match(fp || '', /^[0-9a-f]{64}$/, `/info of a fresh state dir names its CA: ${JSON.stringify(srv.info)}`);
    const printed = /local CA SHA-256:\s+([0-9A-F:]{95})/.exec(srv.log());
    assert.ok(printed, 'mfd serve prints the local CA fingerprint at start-up');
    assert.equal(printed[1], colons(fp), 'the printed CA fingerprint is the one /info names');

    await page.goto(srv.url + '/');
    await L.waitFor(async () => (await state()) === 'naming', { message: 'the naming step' });
    const section = page.locator('#pair-ca');
    assert.ok(await section.isVisible(), 'the CA section shows on the pairing screen');
    const summary = section.locator('summary');
    assert.match(await summary.innerText(), /optional/i);
    await summary.click();
    assert.equal((await section.locator('#pair-ca-fp').innerText()).trim(), printed[1], 'the fingerprint to compare, as the host printed it');
    const text = await section.innerText();
    assert.match(text, /optional/i);
    assert.match(text, /name constraints/i, 'it says the CA is name-constrained');
    assert.match(text, /nothing else/i, 'it says the CA trusts nothing else');
    assert.match(text, /TLS SHA-256 fingerprint/, 'the fingerprint check stays for those who do not install it');
    for (const p of PLATFORMS) assert.ok(text.includes(p), `install steps for ${p}`);
    assert.match(text, /Certificate Trust Settings/, 'iOS: the full trust switch');
    assert.match(text, /Trusted Root Certification Authorities/, 'Windows: the store');
    assert.match(text, /Always Trust/, 'macOS');
    assert.match(text, /Install a certificate, CA certificate/, 'Android');

    // It stays while the code is shown.
    await L.pairingCode(page, 'CA tablet');
    assert.ok(await section.isVisible(), 'the CA section shows with the pairing code too');
  });

  step('the link is relative and downloads the CA that /info names', async () => {
    const link = page.locator('#pair-ca a#pair-ca-link');
    await link.waitFor({ state: 'visible', timeout: 5000 });
    const href = await link.getAttribute('href');
    assert.ok(href && !href.includes('//') && !href.includes(':') && !href.startsWith('/'), `a relative link, got ${href}`);
    const url = new URL(href, page.url());
    assert.equal(url.origin, new URL(srv.url).origin);
    const before = page.url();
    const [download] = await Promise.all([page.waitForEvent('download', { timeout: 10000 }), link.click()]);
    assert.equal(download.suggestedFilename(), 'mfd-ca.crt');
    const pem = readFileSync(await download.path());
    const cert = new X509Certificate(pem);
    assert.equal(cert.fingerprint256.replace(/:/g, '').toLowerCase(), srv.info.tls_ca_fingerprint_sha256, 'the download is the CA /info names');
    assert.equal(cert.ca, true, 'the download is a CA certificate');
    assert.notEqual(cert.fingerprint256.replace(/:/g, '').toLowerCase(), srv.info.tls_fingerprint_sha256, 'not the leaf');
    console.log(`ca.crt: ${cert.subject.replace(/\n/g, ', ')}, ca ${cert.ca}, SHA-256 ${cert.fingerprint256.slice(0, 23)}…`);

    // What a phone sees: the type that makes it offer installation.
    const r = await get(url.href, null);
    assert.equal(r.status, 200);
    assert.equal(r.headers['content-type'], 'application/x-x509-ca-cert');
    assert.match(r.headers['content-disposition'] || '', /filename="mfd-ca\.crt"/);

    // A device that installed it trusts the server by its name.
    const v = await get(`https://localhost:${new URL(srv.url).port}/info`, pem);
    assert.equal(v.status, 200, 'the server verifies against the downloaded CA alone');

    // The download left the pairing where it was.
    assert.equal(page.url(), before);
    assert.equal(await state(), 'pending');
  });

  step('every control on the pairing screen is at least 44 px', async () => {
    for (const [w, hgt] of [[390, 844], [1024, 768]]) {
      await page.setViewportSize({ width: w, height: hgt });
      const controls = await page.evaluate((sel) => [...document.querySelectorAll(`#screen-pair :is(${sel})`)]
        .filter((el) => el.getClientRects().length && getComputedStyle(el).visibility !== 'hidden')
        .map((el) => { const r = el.getBoundingClientRect(); return { el: el.id || el.textContent.trim().slice(0, 20) || el.tagName, w: r.width, h: r.height }; }), CONTROLS);
      assert.ok(controls.some((c) => c.el === 'pair-ca-link'), `the link was measured: ${JSON.stringify(controls)}`);
      assert.deepEqual(controls.filter((c) => c.w < 44 || c.h < 44), [], `controls under 44 px at ${w}x${hgt}`);
    }
  });

  step('a server with a state dir from before the local CA shows no CA section', async () => {
    assert.equal(old.info.tls_ca_fingerprint_sha256, undefined, `/info: ${JSON.stringify(old.info)}`);
    assert.equal((await get(`${old.url}/ca.crt`, null)).status, 404);
    const ctx2 = await browser.newContext({ ignoreHTTPSErrors: true, viewport: { width: 390, height: 844 } });
    const { page: p2, log: log2 } = await L.openPage(ctx2, old.url);
    await p2.goto(old.url + '/');
    await L.waitFor(async () => (await state(p2)) === 'naming', { message: 'the naming step' });
    assert.ok(await p2.locator('#pair-naming').isVisible());
    assert.equal(await p2.locator('#pair-ca').isVisible(), false, 'no CA section without a local CA');
    assert.equal(await p2.locator('a[href]').count(), 0, 'no link to a /ca.crt that answers 404');
    await L.pairingCode(p2, 'Old tablet');
    assert.equal(await p2.locator('#pair-ca').isVisible(), false, 'none with the pairing code either');
    await ctx2.close();
    assert.deepEqual(log2.errors, []);
    assert.deepEqual(log2.foreign, []);
  });

  step('no console errors and no request to another origin', () => {
    assert.deepEqual(log.errors, []);
    assert.deepEqual(log.foreign, []);
  });
});
