// Unit tests of the panel's pure helpers, run in node without a browser.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { defaultName, parseKeyList } from '../../panel/src/storage.js';
import { formatResult } from '../../panel/src/dom.js';
import { register } from 'node:module';

// hosts.js draws icons from `mdi-icons`, a module the panel's build makes
// (panel/scripts/build.mjs); here it is an empty icon set.
register('data:text/javascript,' + encodeURIComponent(`export async function resolve(spec, ctx, next) {
  return spec === 'mdi-icons' ? { url: 'data:text/javascript,export default {}', shortCircuit: true } : next(spec, ctx);
}`));

test('defaultName names the device from its user agent', () => {
  const cases = [
    ['Mozilla/5.0 (iPad; CPU OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1', 'Safari on iPad'],
    ['Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Mobile Safari/537.36', 'Chrome on Android phone'],
    ['Mozilla/5.0 (Linux; Android 13; SM-X700) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36', 'Chrome on Android tablet'],
    ['Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0', 'Firefox on Linux'],
    ['Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36 Edg/120.0', 'Edge on Windows'],
    ['curl/8', 'Browser on device'],
  ];
  for (const [ua, want] of cases) assert.equal(defaultName(ua), want, `defaultName(${JSON.stringify(ua)})`);
});

test('parseKeyList trims, lowercases, drops duplicates and empties', () => {
  assert.deepEqual(parseKeyList(' Shift, ctrl,,SPACE , shift '), ['shift', 'ctrl', 'space']);
  assert.deepEqual(parseKeyList(''), []);
  assert.equal(parseKeyList(Array.from({ length: 40 }, (_, i) => `f${i}`).join(',')).length, 16);
});

test('formatResult says ok or the error code, with the latency', () => {
  assert.equal(formatResult({ ok: true, code: 'ok', ms: 12 }), 'ok · 12 ms');
  assert.equal(formatResult({ ok: false, code: 'no_input', ms: 7 }), 'no_input · 7 ms');
  assert.equal(formatResult({ ok: false, code: 'offline', ms: 0 }), 'offline');
});

test('cleanStatus keeps only fields of the right type, and null for a non-object', async () => {
  const { cleanStatus } = await import('../../panel/src/layout.js');
  for (const v of [null, 123, 'x', [], true]) assert.equal(cleanStatus(v), null, `cleanStatus(${JSON.stringify(v)})`);
  assert.deepEqual(cleanStatus({ host: 'h', name: 123, online: 'yes', os: ['linux'], input: 'x11', screen: { w: '1920', h: 1080 } }),
    { online: false, input: 'x11' });
  assert.deepEqual(cleanStatus({ name: ' desk ', online: true, version: '1', screen: { w: 1920.4, h: 1080 }, caps: { unicode: true, x: 'y' } }),
    { name: 'desk', online: true, version: '1', screen: { w: 1920, h: 1080 }, caps: { unicode: true } });
  assert.equal(cleanStatus({ name: 'n'.repeat(500), online: true }).name, undefined, 'an over-long name is dropped');
});

test('cleanActions keeps well-formed actions, each id once, at most 200, and pages naming only those', async () => {
  const { cleanActions } = await import('../../panel/src/layout.js');
  const none = { actions: [], pages: [], configError: '' };
  for (const v of [null, 5, 'x', { actions: 'x' }, { actions: { id: 'a' } }, [], { actions: [], pages: 'x', config_error: {} }]) {
    assert.deepEqual(cleanActions(v), none, `cleanActions(${JSON.stringify(v)})`);
  }
  const plain = { icon: '', color: '', toggle: false };
  assert.deepEqual(cleanActions({ actions: [null, 7, { id: 5 }, { id: 'bad id' }, { id: 'a', label: 9, icon: {}, color: 7, toggle: 1 }, { id: 'a', label: 'again', toggle: true }, { id: 'b', label: ' B ', icon: 'mdi:x' }] }).actions,
    [{ id: 'a', label: 'a', ...plain }, { id: 'b', label: 'B', ...plain, icon: 'mdi:x' }]);
  assert.equal(cleanActions({ actions: Array.from({ length: 500 }, (_, i) => ({ id: `a${i}` })) }).actions.length, 200);
  const v = cleanActions({
    actions: [{ id: 'a' }, { id: 'b' }],
    pages: [{ name: 'P', buttons: ['a', 'a', 'b', 'a'] }, { name: '   ', buttons: ['a'] }, { name: 'Q', buttons: 'a' }, null, ...Array.from({ length: 80 }, (_, i) => ({ name: `p${i}`, buttons: ['b'] }))],
    config_error: 'line 2: unknown field "action"',
  });
  assert.deepEqual(v.pages[0], { name: 'P', buttons: ['a', 'b'] }, 'a button once per page');
  assert.equal(v.pages.length, 50, 'at most 50 pages, and none without a name');
  assert.equal(v.configError, 'line 2: unknown field "action"');
});

test('cleanState reads ON and OFF, in any case, and nothing else', async () => {
  const { cleanState } = await import('../../panel/src/layout.js');
  for (const [text, want] of [['ON', true], [' on\n', true], ['OFF', false], ['off', false], ['', null], ['1', null], ['true', null], ['{"on":true}', null], [null, null]]) {
    assert.equal(cleanState(text), want, `cleanState(${JSON.stringify(text)})`);
  }
});

test('Hosts.update never throws on hostile payloads, and list and name keep working', async () => {
  const { Hosts } = await import('../../panel/src/hosts.js');
  const hosts = new Hosts(null, null, { onPress() {}, onChange() {} });
  hosts.queueDraw = () => {}; // no DOM in node
  const good = '1a2b3c4d-0000-4000-8000-000000000001';
  const twin = '9f8e7d6c-0000-4000-8000-000000000009';
  hosts.update(`mfd/v1/hosts/${good}/status`, JSON.stringify({ host: good, name: 'desk', online: true }));
  const bad = ['null', '123', '"x"', '[]', '{"name":123,"online":true}', '{"name":null,"online":true}', '{"name":{"a":1}}', '{', '{"screen":7,"online":true}'];
  bad.forEach((b, i) => {
    const id = `00000000-0000-4000-8000-00000000000${i}`;
    for (const leaf of ['status', 'actions', 'input', 'state/a']) hosts.update(`mfd/v1/hosts/${id}/${leaf}`, b);
  });
  hosts.update(`mfd/v1/hosts/${good}/actions`, '{"actions":[{"id":"a"},{"id":{}},"x"]}');
  // A toggle's state and the input switch are ON or OFF, anything else unknown.
  const desk = hosts.hosts.get(good);
  hosts.update(`mfd/v1/hosts/${good}/state/a`, 'on');
  hosts.update(`mfd/v1/hosts/${good}/input`, 'off');
  assert.equal(desk.states.get('a'), true);
  assert.equal(desk.input, 'OFF');
  hosts.update(`mfd/v1/hosts/${good}/state/a`, '{"x":1}');
  hosts.update(`mfd/v1/hosts/${good}/input`, '<b>on</b>');
  assert.equal(desk.states.has('a'), false);
  assert.equal(desk.input, null);
  const list = hosts.list();
  assert.ok(list.some((x) => x.id === good && x.status.online), 'the good host is listed');
  for (const x of list) assert.equal(typeof hosts.name(x.id), 'string');
  assert.deepEqual(hosts.withAction('a'), [good]);
  assert.equal(hosts.name(good), 'desk');
  // A second host with the same name: both show a short host ID.
  hosts.update(`mfd/v1/hosts/${twin}/status`, JSON.stringify({ host: twin, name: 'Desk', online: true }));
  assert.equal(hosts.name(good), 'desk (1a2b3c4d)');
  assert.equal(hosts.name(twin), 'Desk (9f8e7d6c)');
  hosts.update(`mfd/v1/hosts/${twin}/status`, '');
  assert.equal(hosts.name(good), 'desk');
  // A host without a name shows its short ID, longer where another host's
  // ID begins the same.
  const lookalike = '1a2b3c4d-0001-4000-8000-000000000001';
  hosts.update(`mfd/v1/hosts/${lookalike}/status`, JSON.stringify({ name: 'desk', online: true }));
  assert.equal(hosts.name(good), 'desk (1a2b3c4d-0000)');
  assert.equal(hosts.name(lookalike), 'desk (1a2b3c4d-0001)');
  hosts.update(`mfd/v1/hosts/${twin}/status`, '{"online":true}');
  assert.equal(hosts.name(twin), '9f8e7d6c');
});

test('every reply code has a plain sentence, and the host\'s reason follows it', async () => {
  const { sentence, short } = await import('../../panel/src/errors.js');
  const codes = ['bad_request', 'unknown_op', 'unknown_key', 'unknown_action', 'too_large', 'rate_limited', 'expired', 'no_input', 'input_off', 'forbidden', 'internal', 'unsupported', 'refused', 'busy', 'cancelled', 'timeout', 'offline', 'host offline'];
  for (const code of codes) {
    const s = sentence({ ok: false, code, ms: 3 });
    assert.match(s, /^[A-Z].*[.)]$/, `${code}: ${s}`);
    assert.ok(!s.includes(code), `${code}: the sentence is not the code (${s})`);
  }
  assert.equal(
    sentence({ ok: false, code: 'internal', message: 'action "t" step 1: starting vlc: exec: "vlc": executable file not found in $PATH', ms: 4 }),
    'Something went wrong on the host. Action "t" step 1: starting vlc: exec: "vlc": executable file not found in $PATH.');
  assert.equal(sentence({ ok: true, ms: 9 }), 'Done in 9 ms.');
  assert.equal(short({ ok: false, code: 'input_off' }), '✗ input off');
  assert.equal(short({ ok: true, ms: 9 }), '✓ 9 ms');
  assert.equal(short({ ok: false, code: 'busy' }), '✗ running');
  assert.equal(
    sentence({ ok: false, code: 'cancelled', message: 'action "t" cancelled at step 2 of 3: release.all', ms: 5 }),
    'The action was stopped before it finished. Action "t" cancelled at step 2 of 3: release.all.');
});

test('a host\'s actions payload keeps only well-formed parts, and every action lands on a page', async () => {
  const { cleanActions, pagesOf, textOn } = await import('../../panel/src/layout.js');
  const v = cleanActions({
    actions: [
      { id: 'a', label: 'A', icon: 'mdi:play', color: '#c62828', toggle: true },
      { id: 'b', label: 123, color: 'red', toggle: 'yes' },
      { id: 'bad id' }, null, { id: 'c' },
    ],
    pages: [{ name: 'One', buttons: ['a', 'nope', 7] }, { name: 5, buttons: [] }, { name: 'Two' }],
    config_error: 42,
  });
  assert.deepEqual(v.actions.map((a) => [a.id, a.label, a.color, a.toggle]), [['a', 'A', '#c62828', true], ['b', 'b', '', false], ['c', 'c', '', false]]);
  assert.deepEqual(v.pages, [{ name: 'One', buttons: ['a'] }]);
  assert.equal(v.configError, '');
  assert.deepEqual(pagesOf(v).map((p) => [p.name, p.buttons]), [['One', ['a']], ['Other', ['b', 'c']]]);
  assert.deepEqual(pagesOf({ actions: v.actions, pages: [] }).map((p) => p.buttons), [['a', 'b', 'c']]);
  assert.equal(textOn('#f9a825'), '#111');
  assert.equal(textOn('#c62828'), '#fff');
});
