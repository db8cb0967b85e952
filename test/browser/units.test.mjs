// Unit tests of the panel's pure helpers, run in node without a browser.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { defaultName, parseKeyList } from '../../panel/src/storage.js';
import { formatResult } from '../../panel/src/dom.js';

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
  const { cleanStatus } = await import('../../panel/src/hosts.js');
  for (const v of [null, 123, 'x', [], true]) assert.equal(cleanStatus(v), null, `cleanStatus(${JSON.stringify(v)})`);
  assert.deepEqual(cleanStatus({ host: 'h', name: 123, online: 'yes', os: ['linux'], input: 'x11', screen: { w: '1920', h: 1080 } }),
    { online: false, input: 'x11' });
  assert.deepEqual(cleanStatus({ name: ' desk ', online: true, version: '1', screen: { w: 1920.4, h: 1080 }, caps: { unicode: true, x: 'y' } }),
    { name: 'desk', online: true, version: '1', screen: { w: 1920, h: 1080 }, caps: { unicode: true } });
  assert.equal(cleanStatus({ name: 'n'.repeat(500), online: true }).name, undefined, 'an over-long name is dropped');
});

test('cleanActions keeps well-formed actions, each id once', async () => {
  const { cleanActions } = await import('../../panel/src/hosts.js');
  for (const v of [null, 5, { actions: 'x' }, { actions: { id: 'a' } }, []]) assert.deepEqual(cleanActions(v), [], `cleanActions(${JSON.stringify(v)})`);
  assert.deepEqual(cleanActions({ actions: [null, 7, { id: 5 }, { id: 'bad id' }, { id: 'a', label: 9, icon: {} }, { id: 'a', label: 'again' }, { id: 'b', label: 'B', icon: 'mdi:x' }] }),
    [{ id: 'a', label: 'a' }, { id: 'b', label: 'B', icon: 'mdi:x' }]);
  assert.equal(cleanActions({ actions: Array.from({ length: 500 }, (_, i) => ({ id: `a${i}` })) }).length, 200);
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
    for (const leaf of ['status', 'actions', 'input']) hosts.update(`mfd/v1/hosts/${id}/${leaf}`, b);
  });
  hosts.update(`mfd/v1/hosts/${good}/actions`, '{"actions":[{"id":"a"},{"id":{}},"x"]}');
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
