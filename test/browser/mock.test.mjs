// Panel behaviour that one real server with one local agent cannot show,
// against mock-server.mjs (mosquitto behind a small HTTPS stand-in): several
// hosts, one offline; one press going to every host with that action; error
// codes on buttons; the MQTT 5 properties of each command; the hold repeat;
// the trackpad's stream; and reconnecting with a pushed token.
import { describe, before, after, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import * as L from './lib.mjs';

function skipReason() {
  const m = L.missing({ x11: false }).filter((x) => !x.startsWith(L.MFD));
  if (!existsSync('/usr/sbin/mosquitto')) m.push('mosquitto (run: sudo apt-get install mosquitto)');
  if (!existsSync('/usr/bin/openssl')) m.push('openssl (run: sudo apt-get install openssl)');
  if (!m.length) return false;
  const msg = `missing prerequisites: ${m.join('; ')}`;
  if (L.CI) throw new Error(msg);
  return msg;
}
const skip = skipReason();
if (skip) test('panel behaviour against the mock server', { skip }, () => {});

const DESK = '1a2b3c4d-0000-4000-8000-000000000001';
const LAPTOP = '1a2b3c4d-0000-4000-8000-000000000002';
const MEDIA = '1a2b3c4d-0000-4000-8000-000000000003';

describe('panel behaviour against the mock server', { skip }, () => {
  let mock, browser, ctx, page, log;
  const cmds = (pred) => mock.commands.filter(pred);
  const button = (host, action) => page.locator(`.host[data-host="${host}"] button[data-action="${action}"]`);

  before(async () => {
    const { startMock } = await import('./mock-server.mjs');
    mock = await startMock({ approveAfterMs: 0 });
    browser = await L.launchBrowser();
    ctx = await browser.newContext({ ignoreHTTPSErrors: true, viewport: { width: 1024, height: 768 }, hasTouch: true });
    ({ page, log } = await L.openPage(ctx, mock.url));
    await page.goto(mock.url + '/');
    await L.waitFor(() => page.evaluate(() => window.__mfd.state === 'naming'), { message: 'the naming step' });
    await page.click('#pair-start');
    await L.waitFor(() => page.evaluate(() => window.__mfd.state === 'connected'), { timeout: 15000, message: 'connected' });
    await button(DESK, 'mute-mic').waitFor();
  });

  after(async () => {
    await browser?.close().catch(() => {});
    await mock?.stop();
  });

  test('every host shows, the offline one dimmed with its actions disabled', async () => {
    await L.waitFor(async () => (await page.locator('.host').count()) === 3, { message: 'three hosts' });
    assert.deepEqual(await page.locator('.host h3').allInnerTexts(), ['desk', 'laptop', 'media-pc'], 'by name: a host going offline keeps its place');
    assert.ok(await page.locator(`.host[data-host="${MEDIA}"]`).evaluate((el) => el.classList.contains('offline')));
    assert.ok(await button(MEDIA, 'play').isDisabled());
    assert.ok(await button(DESK, 'mute-mic').isEnabled());
    assert.match(await page.locator(`.host[data-host="${DESK}"] .meta`).innerText(), /x11 · 2560×1440/);
    assert.deepEqual(await page.locator('#target option').allInnerTexts(), ['desk', 'laptop'], 'only online hosts can be driven');
  });

  test('a press carries MQTT 5 response topic, correlation data and a 10 s expiry, and shows ok with the latency', async () => {
    const n = mock.commands.length;
    await button(DESK, 'sign').click();
    await L.waitFor(async () => /^✓ \d+ ms$/.test(await button(DESK, 'sign').locator('.result').innerText()), { message: 'ok on the button' });
    const [c] = mock.commands.slice(n);
    assert.equal(c.topic, `mfd/v1/hosts/${DESK}/cmd/p-1`);
    assert.deepEqual(Object.keys(c.cmd).sort(), ['action', 'id', 'op']);
    assert.equal(c.cmd.op, 'action.run');
    assert.equal(c.cmd.action, 'sign');
    assert.equal(c.responseTopic, 'mfd/v1/clients/p-1/reply');
    assert.equal(c.correlationData, c.cmd.id);
    assert.equal(c.messageExpiryInterval, 10);
  });

  test('an error shows on the button and as a plain sentence on its host', async () => {
    await button(LAPTOP, 'screenshot').click();
    await L.waitFor(async () => /^✗ no input$/.test(await button(LAPTOP, 'screenshot').locator('.result').innerText()), { message: 'no input on the button' });
    assert.ok(await button(LAPTOP, 'screenshot').evaluate((el) => el.classList.contains('err')));
    assert.match(await page.locator(`.host[data-host="${LAPTOP}"] .status`).innerText(), /^Screenshot: The host has no screen to drive/);
  });

  test('with "all hosts" one press goes to every online host with that action, with each result', async () => {
    const n = mock.commands.length;
    await page.check('#all-hosts');
    await button(DESK, 'mute-mic').click();
    const out = button(DESK, 'mute-mic').locator('.result');
    await L.waitFor(async () => /^✓ 2$/.test(await out.innerText()), { message: 'both hosts ok on the button' });
    assert.match(await page.locator(`.host[data-host="${DESK}"] .status`).innerText(), /desk: Done in \d+ ms\. laptop: Done in \d+ ms\./);
    const sent = mock.commands.slice(n).filter((c) => c.cmd.op === 'action.run');
    assert.deepEqual(sent.map((c) => c.host).sort(), [DESK, LAPTOP]);
    assert.notEqual(sent[0].cmd.id, sent[1].cmd.id);
    await page.uncheck('#all-hosts');
  });

  test('a hold button sends key.down at once and every second, and key.up on release', async () => {
    const n = mock.commands.length;
    const hold = page.locator('button.hold[data-key="space"]');
    const box = await hold.boundingBox();
    await page.mouse.move(box.x + box.width / 2, box.y + box.height / 2);
    await page.mouse.down();
    await L.waitFor(() => mock.commands.slice(n).filter((c) => c.cmd.op === 'key.down').length >= 3, { timeout: 5000, message: 'three key.down' });
    await page.mouse.up();
    await L.waitFor(() => mock.commands.slice(n).some((c) => c.cmd.op === 'key.up'), { message: 'key.up' });
    const sent = mock.commands.slice(n);
    const downs = sent.filter((c) => c.cmd.op === 'key.down');
    assert.ok(downs.every((c) => c.cmd.key === 'space' && c.host === DESK));
    assert.equal(new Set(downs.map((c) => c.cmd.id)).size, downs.length, 'each repeat has its own id');
    for (let i = 1; i < downs.length; i++) {
      const gap = downs[i].at - downs[i - 1].at;
      assert.ok(gap > 800 && gap < 1300, `repeat gap ${gap} ms`);
    }
    assert.equal(sent.at(-1).cmd.op, 'key.up');
    assert.equal(sent.at(-1).cmd.key, 'space');
  });

  test('the keyboard works a hold button: Space down and up', async () => {
    const n = mock.commands.length;
    await page.locator('button.hold[data-key="shift"]').focus();
    await page.keyboard.down(' ');
    await L.waitFor(() => mock.commands.slice(n).some((c) => c.cmd.op === 'key.down' && c.cmd.key === 'shift'), { message: 'key.down shift' });
    await page.keyboard.up(' ');
    await L.waitFor(() => mock.commands.slice(n).some((c) => c.cmd.op === 'key.up' && c.cmd.key === 'shift'), { message: 'key.up shift' });
  });

  test('trackpad moves within one frame go out as one summed mouse.move', async () => {
    const n = mock.commands.length;
    await page.evaluate(() => {
      const pad = document.getElementById('trackpad');
      const r = pad.getBoundingClientRect();
      const at = (type, i) => pad.dispatchEvent(new PointerEvent(type, {
        pointerId: 7, pointerType: 'touch', isPrimary: true, bubbles: true, cancelable: true,
        clientX: r.left + 20 + i * 4, clientY: r.top + 20 + i * 2,
      }));
      at('pointerdown', 0);
      for (let i = 1; i <= 25; i++) at('pointermove', i);
      at('pointerup', 25);
    });
    await L.waitFor(() => mock.commands.slice(n).some((c) => c.cmd.op === 'mouse.move'), { message: 'a move' });
    await L.sleep(200);
    const moves = mock.commands.slice(n).filter((c) => c.cmd.op === 'mouse.move');
    assert.deepEqual(moves.map((c) => [c.cmd.x, c.cmd.y, c.cmd.rel]), [[160, 80, true]]);
  });

  test('trackpad moves are relative and add up to the drag', async () => {
    const n = mock.commands.length;
    const box = await page.locator('#trackpad').boundingBox();
    const x0 = box.x + 40;
    const y0 = box.y + 40;
    await page.mouse.move(x0, y0);
    await page.mouse.down();
    for (let i = 1; i <= 25; i++) await page.mouse.move(x0 + i * 4, y0 + i * 2);
    await page.mouse.up();
    const want = { x: Math.trunc(100 * 1.6), y: Math.trunc(50 * 1.6) };
    await L.waitFor(() => {
      const moves = mock.commands.slice(n).filter((c) => c.cmd.op === 'mouse.move');
      return moves.reduce((s, c) => s + c.cmd.x, 0) >= want.x - 1;
    }, { message: 'the moves to add up' });
    const moves = mock.commands.slice(n).filter((c) => c.cmd.op === 'mouse.move');
    assert.ok(moves.every((c) => c.cmd.rel === true && Number.isInteger(c.cmd.x) && Number.isInteger(c.cmd.y)));
    assert.ok(Math.abs(moves.reduce((s, c) => s + c.cmd.x, 0) - want.x) <= 1);
    assert.ok(Math.abs(moves.reduce((s, c) => s + c.cmd.y, 0) - want.y) <= 1);
    assert.ok(!mock.commands.slice(n).some((c) => c.cmd.op === 'mouse.click'), 'a drag is no click');
  });

  test('a pushed token is used make-before-break: a new connection, then the old one closes', async () => {
    assert.equal(mock.openSockets(), 1);
    const expires = new Date(Date.now() + 30 * 60e3).toISOString();
    await mock.pushToken('p-1', 'mock-2', expires);
    await L.waitFor(() => page.evaluate(() => window.__mfd.rotations === 1), { message: 'one rotation' });
    await L.waitFor(() => mock.openSockets() === 1, { message: 'the old connection to close' });
    assert.equal(await page.evaluate(() => window.__mfd.state), 'connected');
    // A push that does not outlast the token in use is ignored.
    await mock.pushToken('p-1', 'mock-3', expires);
    await L.sleep(300);
    assert.equal(await page.evaluate(() => window.__mfd.rotations), 1);
    await button(DESK, 'lock').click();
    await L.waitFor(async () => /^✓/.test(await button(DESK, 'lock').locator('.result').innerText()), { message: 'a press on the new connection' });
  });

  test('an action that runs past 10 s shows running until its reply, not a timeout', async () => {
    mock.delay('terminal', 11000);
    const out = button(DESK, 'terminal').locator('.result');
    await button(DESK, 'terminal').click();
    await L.waitFor(async () => (await out.innerText()) === 'running…', { message: 'running… on the button' });
    const t0 = Date.now();
    await L.waitFor(async () => /^✓ \d+ ms$/.test(await out.innerText()), { timeout: 15000, message: 'ok on the button' });
    const ms = Number(/(\d+) ms/.exec(await out.innerText())[1]);
    console.log(`# the 11 s action showed running… and then "${await out.innerText()}" (${Date.now() - t0} ms after running… was seen)`);
    assert.ok(ms >= 11000, `ok after ${ms} ms, want the action's 11 s`);
  });

  test('an action whose host goes offline ends its wait at once', async () => {
    mock.delay('terminal', 60000);
    const status = `mfd/v1/hosts/${DESK}/status`;
    const out = button(DESK, 'terminal').locator('.result');
    await button(DESK, 'terminal').click();
    await L.waitFor(async () => (await out.innerText()) === 'running…', { message: 'running… on the button' });
    await mock.publish(status, JSON.stringify({ host: DESK, online: false }), true);
    await L.waitFor(async () => (await out.innerText()) === '✗ host offline', { message: 'host offline on the button' });
    assert.match(await page.locator(`.host[data-host="${DESK}"] .status`).innerText(), /^Terminal: The host went offline before it answered\.$/);
    await mock.publish(status, JSON.stringify({ host: DESK, name: 'desk', online: true, os: 'linux', input: 'x11', version: 'mock', screen: { w: 2560, h: 1440 } }), true);
    await L.waitFor(async () => button(DESK, 'terminal').isEnabled(), { message: 'desk back online' });
    mock.delay('terminal', 0);
  });

  test('hostile host payloads are ignored or sanitised, and two hosts of one name show short host IDs', async () => {
    const bad = [
      ['0badbad1-0000-4000-8000-000000000000', '{"host":"x","name":123,"online":true}'],
      ['0badbad2-0000-4000-8000-000000000000', '{"host":"x","name":null,"online":true,"screen":"big"}'],
      ['0badbad3-0000-4000-8000-000000000000', 'null'],
      ['0badbad4-0000-4000-8000-000000000000', '[1,2]'],
      ['0badbad5-0000-4000-8000-000000000000', '{"name":{"toString":1},"online":true}'],
    ];
    const twin = '7e7e7e7e-0000-4000-8000-000000000007';
    const topics = [];
    for (const [id, status] of bad) {
      topics.push(`mfd/v1/hosts/${id}/status`, `mfd/v1/hosts/${id}/actions`, `mfd/v1/hosts/${id}/input`);
      await mock.publish(`mfd/v1/hosts/${id}/status`, status, true);
      await mock.publish(`mfd/v1/hosts/${id}/actions`, '{"actions":[{"id":7},null,{"id":"ok-id","label":{"x":1}}]}', true);
      await mock.publish(`mfd/v1/hosts/${id}/input`, '{"x":1}', true);
    }
    topics.push(`mfd/v1/hosts/${twin}/status`);
    await mock.publish(`mfd/v1/hosts/${twin}/status`, JSON.stringify({ host: twin, name: 'desk', online: true, input: 'x11' }), true);
    const names = () => page.locator('.host h3').allInnerTexts();
    const check = async (when) => {
      await L.waitFor(async () => (await names()).includes('desk (7e7e7e7e)'), { message: `the twin desk ${when}` });
      const got = await names();
      assert.ok(got.includes('desk (1a2b3c4d)') && got.includes('laptop') && got.includes('media-pc'), `${when}: hosts ${got}`);
      assert.ok(got.includes('0badbad1') && got.includes('0badbad2') && got.includes('0badbad5'), `${when}: a host with a bad name shows by its short ID: ${got}`);
      assert.ok(!got.some((n) => /0badbad[34]/.test(n)), `${when}: a status that is no object is ignored: ${got}`);
      const targets = await page.locator('#target option').allInnerTexts();
      assert.ok(targets.includes('desk (1a2b3c4d)') && targets.includes('desk (7e7e7e7e)'), `${when}: targets ${targets}`);
      assert.ok(await button(DESK, 'mute-mic').isEnabled());
    };
    await check('live');
    // The retained messages come first after a reload: the bug of issue 11
    // showed "no host online" then.
    await page.reload();
    await L.waitFor(() => page.evaluate(() => window.__mfd.state === 'connected'), { timeout: 15000, message: 'connected after reload' });
    await check('after a reload');
    console.log(`# hosts shown with the bad payloads retained: ${(await names()).join(', ')}`);
    for (const t of topics) await mock.publish(t, '', true);
    await L.waitFor(async () => (await names()).join() === 'desk,laptop,media-pc', { message: 'the bad hosts gone again' });
  });

  test('no console errors and nothing fetched from another origin', () => {
    assert.deepEqual(log.errors, []);
    assert.deepEqual(log.foreign, []);
  });
});
