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
