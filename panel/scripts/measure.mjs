// measure prints, as one JSON line, the panel's gzipped bundle size and the
// time from page load (navigation start) to MQTT connected on loopback,
// against a real `mfd serve` in headless Chromium; `make bench` reads it.
// The load time is the median of several reloads of an already paired page.
//
//   node panel/scripts/measure.mjs   (needs bin/mfd and test/node_modules)
import { readFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const RUNS = Number(process.env.MFD_MEASURE_RUNS) || 9;

const gz = (f) => gzipSync(readFileSync(join(root, 'dist', f))).length;
const result = {
  // All the JavaScript a page loads: boot.js and app.js (MQTT.js inside).
  bundle_gzip_bytes: gz('boot.js') + gz('app.js'),
  load_to_connected_ms: null,
};

async function loadToConnected() {
  const L = await import('../../test/browser/lib.mjs');
  const why = L.missing({ x11: false });
  if (why.length) {
    result.skipped = `missing: ${why.join('; ')}`;
    if (L.CI) throw new Error(result.skipped);
    return;
  }
  const dir = L.tempDir('mfd-measure-');
  const port = await L.freePort();
  let srv, browser;
  try {
    srv = await L.startServer({ stateDir: join(dir, 'state'), port, noAgent: true });
    browser = await L.launchBrowser();
    const ctx = await browser.newContext({ ignoreHTTPSErrors: true });
    const page = await ctx.newPage();
    await page.goto(srv.url + '/');
    const code = await L.pairingCode(page);
    await srv.cli('approve', code);
    await L.waitFor(() => page.evaluate(() => window.__mfd.state === 'connected'), { message: 'connected' });
    const runs = [];
    for (let i = 0; i < RUNS; i++) {
      await page.reload();
      runs.push(await L.waitFor(() => page.evaluate(() => window.__mfd.connectedAt), { message: 'connected after reload' }));
    }
    runs.sort((a, b) => a - b);
    result.load_to_connected_ms = Math.round(runs[runs.length >> 1]);
    result.load_to_connected_runs_ms = runs.map(Math.round);
  } finally {
    await browser?.close().catch(() => {});
    await srv?.stop();
    L.cleanup(dir);
  }
}

try {
  await loadToConnected();
} catch (err) {
  result.error = err.message.split('\n')[0];
  process.exitCode = 1;
}
console.log(JSON.stringify(result));
