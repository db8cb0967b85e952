// The deck (issue 14), in Debian's Chromium driven by playwright-core,
// against a real `mfd serve` whose agent drives a real Xvfb: naming before
// pairing, icons, pages by tab and by swipe, buttons that keep their box,
// a toggle that follows a probe on the host, config edits without reload,
// a broken edit, the manifest, the live keyboard (read back with xev), the
// full-screen trackpad (read back with xdotool), control sizes at a phone's
// and a tablet's viewport, and the screenshots in docs/.
import { describe, before, after, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { existsSync, mkdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import * as L from './lib.mjs';

const skip = L.skipReason();

// config is the host config with the flag file the toggle's probe tests;
// more is appended to the actions.
const config = (flag, { more = '', typo = false } = {}) => `pages:
  - name: Main
    buttons: [mute, hello, missing, lamp]
  - name: Media
    buttons: [play, vol-up]
actions:
  - id: mute
    ${typo ? 'lable' : 'label'}: Mute mic
    icon: mdi:microphone-off
    color: "#c62828"
    steps:
      - {exec: [sh, -c, "if [ -e '${flag}' ]; then rm '${flag}'; else touch '${flag}'; fi"]}
    state:
      exec: [test, -e, "${flag}"]
      every: 500ms
  - id: hello
    label: Type hello
    icon: mdi:keyboard
    steps: [{op: text.type, text: hello}]
  - id: missing
    label: Start editor
    icon: mdi:console
    color: "#37474f"
    steps: [{exec: [mfd-no-such-program, --flag]}]
  - id: lamp
    label: Desk lamp
    icon: mdi:lightbulb-on
    color: "#f9a825"
    steps: [{op: text.type, text: lamp}]
  - id: play
    label: Play / pause
    icon: mdi:play-pause
    color: "#2e7d32"
    steps: [{op: text.type, text: play}]
  - id: vol-up
    label: Louder
    icon: mdi:volume-plus
    steps: [{op: text.type, text: up}]
${more}`;

const CONTROLS = 'button, input, select, textarea, summary, [role="tab"], [role="application"], a[href]';

if (skip) test('the deck against a real mfd serve', { skip }, () => {});

describe('the deck against a real mfd serve', { skip }, () => {
  let x, dir, flag, cfgPath, srv, browser, ctx, page, log, xev, sub;

  const host = () => page.locator('.host').first();
  const key = (id) => page.locator(`.host button[data-action="${id}"]`);
  const boxes = () => page.evaluate(() => [...document.querySelectorAll('.host, .host .key, .host .tab')]
    .map((el) => { const r = el.getBoundingClientRect(); return [el.dataset.action || el.dataset.page || 'card', r.x, r.y, r.width, r.height]; }));

  const step = (name, fn) => test(name, async () => {
    try {
      await fn();
    } catch (err) {
      const tail = (srv ? srv.log() : '').split('\n').filter((l) => !l.includes('█')).slice(-25).join('\n');
      err.message += `\n--- mfd serve, last lines ---\n${tail}`;
      throw err;
    }
  });

  before(async () => {
    x = await L.startXvfb();
    dir = L.tempDir('mfd-deck-');
    flag = join(dir, 'mic-muted');
    cfgPath = L.writeConfig(dir, config(flag));
    const port = await L.freePort();
    srv = await L.startServer({ stateDir: join(dir, 'state'), port, config: cfgPath, display: x.display });
    xev = await L.Xev.start(x.env);
    browser = await L.launchBrowser();
    ctx = await browser.newContext({ ignoreHTTPSErrors: true, viewport: { width: 1024, height: 768 }, hasTouch: true });
    ({ page, log } = await L.openPage(ctx, srv.url));
  });

  after(async () => {
    await browser?.close().catch(() => {});
    await xev?.stop();
    await srv?.stop();
    await x?.stop();
    if (dir) L.cleanup(dir);
  });

  step('pairing asks for the device name first, and the request carries it', async () => {
    await page.goto(srv.url + '/');
    await L.waitFor(() => page.evaluate(() => window.__mfd.state === 'naming'), { message: 'the naming step' });
    const offered = await page.locator('#device-name').inputValue();
    assert.match(offered, / on /, `a default from the user agent, got ${offered}`);
    assert.deepEqual((await srv.clients()).filter((c) => c.role === 'panel'), [], 'no request goes out before the name is given');
    const code = await L.pairingCode(page, 'Deck tablet');
    const p = (await srv.clients()).find((c) => c.pairing_code === code);
    assert.equal(p.name, 'Deck tablet');
    sub = p.sub;
    await srv.cli('approve', code);
    await L.waitFor(() => page.evaluate(() => window.__mfd.state === 'connected'), { timeout: 15000, message: 'connected' });
    await key('mute').waitFor({ state: 'visible', timeout: 15000 });
  });

  step('icons are drawn: an svg in each button that has one, on every page', async () => {
    for (const [tab, ids] of [[0, ['mute', 'hello', 'missing', 'lamp']], [1, ['play', 'vol-up']]]) {
      await page.locator(`.host [role="tab"][data-page="${tab}"]`).click();
      for (const id of ids) {
        await key(id).waitFor({ state: 'visible' });
        assert.equal(await key(id).locator('svg path').count(), 1, `an icon on ${id}`);
        const d = await key(id).locator('svg path').getAttribute('d');
        assert.ok(d && d.length > 20, `${id}'s icon has path data`);
      }
    }
    // The colour is drawn: the configured colour is the button's.
    const bg = await key('play').evaluate((el) => getComputedStyle(el).backgroundColor);
    assert.equal(bg, 'rgb(46, 125, 50)');
    await page.locator('.host [role="tab"][data-page="0"]').click();
  });

  step('pages switch by tab and by swipe', async () => {
    const tabs = host().locator('[role="tab"]');
    assert.deepEqual(await tabs.allInnerTexts(), ['Main', 'Media']);
    assert.equal(await host().locator('[role="tablist"]').count(), 1);
    assert.equal(await tabs.nth(0).getAttribute('aria-selected'), 'true');
    await tabs.nth(1).click();
    await key('play').waitFor({ state: 'visible' });
    assert.equal(await key('mute').count(), 0, 'the Main page is gone');
    assert.equal(await tabs.nth(1).getAttribute('aria-selected'), 'true');
    assert.equal(await tabs.nth(0).getAttribute('aria-selected'), 'false');
    await tabs.nth(0).click();
    await key('mute').waitFor({ state: 'visible' });

    // A swipe left starting on a button goes to the next page and presses
    // nothing; a swipe right comes back.
    const grid = await host().locator('.grid').boundingBox();
    const cdp = await ctx.newCDPSession(page);
    const swipe = async (fromX, toX) => {
      const y = grid.y + 40;
      await cdp.send('Input.dispatchTouchEvent', { type: 'touchStart', touchPoints: [{ x: fromX, y, id: 1 }] });
      for (let i = 1; i <= 8; i++) {
        await cdp.send('Input.dispatchTouchEvent', { type: 'touchMove', touchPoints: [{ x: fromX + ((toX - fromX) * i) / 8, y, id: 1 }] });
      }
      await cdp.send('Input.dispatchTouchEvent', { type: 'touchEnd', touchPoints: [] });
    };
    const m = xev.mark();
    await swipe(grid.x + 40, grid.x + 40 + 240);
    assert.equal(await tabs.nth(0).getAttribute('aria-selected'), 'true', 'no page before the first');
    await swipe(grid.x + grid.width - 20, grid.x + grid.width - 260);
    await L.waitFor(async () => (await tabs.nth(1).getAttribute('aria-selected')) === 'true', { message: 'the Media page after a swipe left' });
    await key('play').waitFor({ state: 'visible' });
    await swipe(grid.x + 20, grid.x + 260);
    await L.waitFor(async () => (await tabs.nth(0).getAttribute('aria-selected')) === 'true', { message: 'the Main page after a swipe right' });
    await cdp.detach();
    assert.equal(await page.locator('.host .key.busy, .host .key.ok, .host .key.err').count(), 0, 'a swipe presses nothing');
    assert.equal(xev.typed(m), '', 'nothing typed during the swipes');
  });

  step('a button keeps its exact box when its result arrives, and the error is a sentence with the host\'s reason', async () => {
    const before = await boxes();
    await xev.focus();
    const m = xev.mark();
    await key('hello').click();
    await L.waitFor(() => xev.typed(m).includes('hello'), { message: '"hello" in xev' });
    await L.waitFor(async () => /^✓ \d+ ms$/.test(await key('hello').locator('.result').innerText()), { message: 'the ok badge' });
    assert.deepEqual(await boxes(), before, 'no box moved after an ok result');

    await key('missing').click();
    await L.waitFor(async () => (await key('missing').getAttribute('class')).includes('err'), { message: 'the error on the button' });
    assert.deepEqual(await boxes(), before, 'no box moved after an error result');
    const status = await host().locator('.status').innerText();
    assert.match(status, /Start editor: Something went wrong on the host\./);
    assert.match(status, /mfd-no-such-program/, 'the program the host could not find');
    assert.doesNotMatch(status, /^internal/);
    assert.match(await key('missing').getAttribute('title'), /executable file not found/);
  });

  step('a toggle\'s aria-pressed follows the state probe on the host', async () => {
    const mute = key('mute');
    await L.waitFor(async () => (await mute.getAttribute('aria-pressed')) === 'false', { message: 'off while the flag file is absent' });
    writeFileSync(flag, '');
    await L.waitFor(async () => (await mute.getAttribute('aria-pressed')) === 'true', { message: 'on once the host has the flag file' });
    rmSync(flag);
    await L.waitFor(async () => (await mute.getAttribute('aria-pressed')) === 'false', { message: 'off again once it is gone' });
    // A press flips it on the host; the probe right after shows it.
    await mute.click();
    await L.waitFor(async () => (await mute.getAttribute('aria-pressed')) === 'true', { message: 'on after a press' });
    assert.ok(existsSync(flag));
  });

  step('an edit of the config file shows up without reload and without restart', async () => {
    await page.evaluate(() => { window.__sameDocument = true; });
    const t0 = Date.now();
    writeFileSync(cfgPath, config(flag, { more: `  - id: added
    label: Added live
    icon: mdi:rocket-launch
    steps: [{op: text.type, text: new}]
` }));
    await L.waitFor(async () => (await page.locator('.host [role="tab"]').allInnerTexts()).includes('Other'), { timeout: 5000, message: 'the new action on a page of its own' });
    console.log(`config edit to panel: ${Date.now() - t0} ms`);
    await page.locator('.host [role="tab"]', { hasText: 'Other' }).click();
    await key('added').waitFor({ state: 'visible' });
    assert.equal(await key('added').locator('.label').innerText(), 'Added live');
    assert.ok(await page.evaluate(() => window.__sameDocument), 'the page was not reloaded');
    assert.equal(srv.proc.exited, null, 'the server was not restarted');
    await page.locator('.host [role="tab"]', { hasText: 'Main' }).click();
  });

  step('a broken edit keeps the old buttons and shows the error', async () => {
    writeFileSync(cfgPath, config(flag, { typo: true }));
    const err = host().locator('.config-error');
    await L.waitFor(() => err.isVisible(), { timeout: 5000, message: 'the config error on the host card' });
    const text = await err.innerText();
    assert.match(text, /line 8: unknown field "lable" \(did you mean "label"\?\)/);
    assert.match(text, /last good version/);
    assert.equal(await key('mute').locator('.label').innerText(), 'Mute mic', 'the old buttons stay');
    assert.ok((await page.locator('.host [role="tab"]').allInnerTexts()).includes('Other'), 'the last good config stays in force');
    assert.match(srv.log(), /keeping the last good config/);
    writeFileSync(cfgPath, config(flag));
    await L.waitFor(async () => !(await err.isVisible()), { timeout: 5000, message: 'the error to clear after a fix' });
    await L.waitFor(async () => !(await page.locator('.host [role="tab"]').allInnerTexts()).includes('Other'), { message: 'the fixed config in force' });
  });

  step('the web app manifest is valid and the page installable', async () => {
    const r = await page.evaluate(async () => {
      const res = await fetch('manifest.webmanifest');
      return { type: res.headers.get('content-type'), body: await res.json() };
    });
    assert.equal(r.type, 'application/manifest+json');
    assert.ok(['standalone', 'fullscreen'].includes(r.body.display));
    const cdp = await ctx.newCDPSession(page);
    const m = await cdp.send('Page.getAppManifest');
    assert.deepEqual(m.errors, [], 'Chromium parses the manifest without errors');
    assert.match(m.url, /manifest\.webmanifest$/);
    // Playwright's contexts are incognito, which alone keeps a page from
    // being installed; any other reason is the page's.
    const inst = await cdp.send('Page.getInstallabilityErrors');
    assert.deepEqual(inst.installabilityErrors.filter((e) => e.errorId !== 'in-incognito'), [], 'Chromium finds the page installable');
    await cdp.detach();
  });

  step('the live keyboard types as you type, backspace and Enter included', async () => {
    await xev.focus();
    const m = xev.mark();
    await page.click('#live-toggle');
    assert.equal(await page.locator('#live-toggle').getAttribute('aria-pressed'), 'true');
    assert.ok(await page.locator('#live-keys').evaluate((el) => el === document.activeElement), 'the live box has the focus');
    await page.keyboard.type('hi yo');
    await L.waitFor(() => xev.typed(m).includes('hi yo'), { message: `"hi yo" in xev (saw ${JSON.stringify(xev.typed(m))})` });
    await page.keyboard.press('Backspace');
    await page.keyboard.press('Enter');
    await L.waitFor(() => {
      const names = xev.since(m).filter((e) => e.type === 'KeyPress').map((e) => e.name);
      const bs = names.indexOf('BackSpace');
      return bs > 0 && names.indexOf('Return', bs) > bs;
    }, { message: 'BackSpace then Return in xev' });
    assert.equal(await page.locator('#live-keys').inputValue(), '', 'no submit box fills up');
    await page.click('#live-toggle');
  });

  step('the full-screen trackpad fills the screen and moves the pointer', async () => {
    await page.click('#pad-full');
    const vp = page.viewportSize();
    const pad = await page.locator('#trackpad').boundingBox();
    assert.ok(pad.height > vp.height * 0.7 && pad.width > vp.width * 0.9, `the pad is ${pad.width}x${pad.height} in ${vp.width}x${vp.height}`);
    await L.run('xdotool', ['mousemove', '640', '512'], { env: x.env });
    const from = await L.mouseLocation(x.env);
    const cx = pad.x + pad.width / 2;
    const cy = pad.y + pad.height / 2;
    await page.mouse.move(cx, cy);
    await page.mouse.down();
    for (let i = 1; i <= 10; i++) await page.mouse.move(cx + i * 10, cy + i * 6);
    await page.mouse.up();
    const to = await L.waitFor(async () => {
      const p = await L.mouseLocation(x.env);
      return p.x >= from.x + 80 && p.y >= from.y + 40 ? p : null;
    }, { message: 'the pointer to move right and down' });
    console.log(`full-screen trackpad drag 100,60 px: pointer ${from.x},${from.y} -> ${to.x},${to.y}`);
    await page.click('#pad-full');
    assert.equal(await page.locator('#pad-full').getAttribute('aria-pressed'), 'false');
  });

  step('a rename in the settings is stored on the server', async () => {
    await page.locator('details.settings summary').click();
    await page.fill('#settings-name', 'Kitchen deck');
    await page.locator('#settings-name').press('Tab');
    await L.waitFor(async () => (await srv.clients()).find((c) => c.sub === sub)?.name === 'Kitchen deck', { message: 'the new name in mfd clients list' });
  });

  step('a press vibrates, and the wake lock setting holds the screen on', async () => {
    await page.evaluate(() => {
      window.__vibrations = [];
      navigator.vibrate = (p) => { window.__vibrations.push(p); return true; };
    });
    await key('lamp').click();
    await L.waitFor(() => page.evaluate(() => window.__vibrations.length === 1), { message: 'one vibration for one press' });
    await page.evaluate(() => { document.querySelector('details.settings').open = true; });
    assert.ok(await page.isChecked('#settings-vibrate'), 'vibration is on by default');
    await page.uncheck('#settings-vibrate');
    await key('lamp').click();
    await L.waitFor(async () => /✓/.test(await key('lamp').locator('.result').innerText()), { message: 'the second press done' });
    assert.equal(await page.evaluate(() => window.__vibrations.length), 1, 'no vibration once turned off');
    await page.check('#settings-vibrate');
    assert.equal(await page.evaluate(() => window.__mfd.wake.held), false);
    await page.check('#settings-wake');
    await L.waitFor(() => page.evaluate(() => window.__mfd.wake.held), { message: 'the screen wake lock held' });
    await page.reload();
    await L.waitFor(() => page.evaluate(() => window.__mfd.state === 'connected'), { message: 'connected after reload' });
    await L.waitFor(() => page.evaluate(() => window.__mfd.wake.held), { message: 'the wake lock taken again after a reload (the setting is kept)' });
    await page.evaluate(() => { document.querySelector('details.settings').open = true; });
    await page.uncheck('#settings-wake');
    await L.waitFor(async () => !(await page.evaluate(() => window.__mfd.wake.held)), { message: 'the wake lock released' });
    await page.evaluate(() => { document.querySelector('details.settings').open = false; });
  });

  step('every control is at least 44 px at 390x844 and 1024x768', async () => {
    await page.click('#live-toggle');
    await page.evaluate(() => { document.querySelector('details.settings').open = true; });
    for (const [w, hgt] of [[390, 844], [1024, 768]]) {
      await page.setViewportSize({ width: w, height: hgt });
      for (const tab of [0, 1]) {
        await page.locator(`.host [role="tab"][data-page="${tab}"]`).click();
        const small = await page.evaluate((sel) => [...document.querySelectorAll(sel)]
          .filter((el) => el.getClientRects().length && getComputedStyle(el).visibility !== 'hidden')
          .map((el) => { const r = el.getBoundingClientRect(); return { el: el.id || el.dataset.action || el.dataset.key || el.textContent.trim().slice(0, 20) || el.tagName, w: r.width, h: r.height }; })
          .filter((c) => c.w < 44 || c.h < 44), CONTROLS);
        const n = await page.evaluate((sel) => [...document.querySelectorAll(sel)].filter((el) => el.getClientRects().length).length, CONTROLS);
        assert.ok(n > 20, `checked ${n} controls`);
        assert.deepEqual(small, [], `controls under 44 px at ${w}x${hgt}, page ${tab}`);
      }
    }
    await page.click('#live-toggle');
    await page.evaluate(() => { document.querySelector('details.settings').open = false; });
    await page.locator('.host [role="tab"][data-page="0"]').click();
  });

  step('screenshots at 390x844 and 1024x768, dark and light', async () => {
    // MFD_UPDATE_SCREENSHOTS=1 writes them to docs/, where they are kept;
    // otherwise they go to the temp dir, so a test run leaves no diff.
    const docs = process.env.MFD_UPDATE_SCREENSHOTS === '1' ? join(L.REPO, 'docs') : join(dir, 'docs');
    mkdirSync(docs, { recursive: true });
    if (!existsSync(flag)) await key('mute').click();
    await L.waitFor(async () => (await key('mute').getAttribute('aria-pressed')) === 'true', { message: 'the toggle on' });
    await key('hello').click();
    await L.waitFor(async () => /✓/.test(await key('hello').locator('.result').innerText()));
    for (const scheme of ['dark', 'light']) {
      await page.emulateMedia({ colorScheme: scheme });
      for (const [w, hgt] of [[390, 844], [1024, 768]]) {
        await page.setViewportSize({ width: w, height: hgt });
        await page.evaluate(() => { window.scrollTo(0, 0); document.activeElement?.blur(); });
        const file = join(docs, `panel-${w}x${hgt}-${scheme}.png`);
        await page.screenshot({ path: file });
        assert.ok(statSync(file).size > 5000, `${file} is a real picture`);
      }
    }
    await page.emulateMedia({ colorScheme: null });
  });

  step('no console errors and no request to another origin', () => {
    assert.deepEqual(log.errors, []);
    assert.deepEqual(log.foreign, []);
  });
});
