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

test('every reply code has a plain sentence, and the host\'s reason follows it', async () => {
  const { sentence, short } = await import('../../panel/src/errors.js');
  const codes = ['bad_request', 'unknown_op', 'unknown_key', 'unknown_action', 'too_large', 'rate_limited', 'expired', 'no_input', 'input_off', 'forbidden', 'internal', 'timeout', 'offline'];
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
