// @ts-check
// What the panel keeps in localStorage. The client key is a secret bound to
// one server ID: it is only ever sent to the server it was made for.

const K = {
  serverID: 'mfd.server_id',
  key: 'mfd.client_key',
  name: 'mfd.name',
  holds: 'mfd.hold_keys',
  wake: 'mfd.keep_awake',
  vibrate: 'mfd.vibrate',
};

export const DEFAULT_HOLDS = ['shift', 'ctrl', 'alt', 'space', 'left', 'up', 'down', 'right'];

function get(k) {
  try { return localStorage.getItem(k); } catch { return null; }
}

function set(k, v) {
  try {
    if (v == null) localStorage.removeItem(k); else localStorage.setItem(k, v);
  } catch { /* private mode: the pairing lasts for this page only */ }
}

// pairing returns the stored {serverID, key}, either of which may be null.
export function pairing() {
  return { serverID: get(K.serverID), key: get(K.key) };
}

// newKey makes a fresh client key for serverID, dropping any old one.
export function newKey(serverID) {
  const key = crypto.randomUUID();
  set(K.key, key);
  set(K.serverID, serverID);
  return key;
}

export function forget() {
  set(K.key, null);
  set(K.serverID, null);
}

export function deviceName() {
  return get(K.name) || defaultName();
}

export function setDeviceName(name) {
  set(K.name, name.trim().slice(0, 64) || null);
}

// keepAwake is the wake lock setting: off unless chosen, as it costs
// battery.
export function keepAwake() { return get(K.wake) === '1'; }
export function setKeepAwake(on) { set(K.wake, on ? '1' : null); }

// vibrate is on unless turned off.
export function vibrate() { return get(K.vibrate) !== '0'; }
export function setVibrate(on) { set(K.vibrate, on ? null : '0'); }

export function holdKeys() {
  const v = get(K.holds);
  if (!v) return DEFAULT_HOLDS;
  const keys = parseKeyList(v);
  return keys.length ? keys : DEFAULT_HOLDS;
}

export function setHoldKeys(text) {
  const keys = parseKeyList(text);
  set(K.holds, keys.length ? keys.join(',') : null);
  return keys.length ? keys : DEFAULT_HOLDS;
}

export function parseKeyList(text) {
  return [...new Set(String(text).split(',').map((s) => s.trim().toLowerCase()).filter((s) => s && s.length <= 24))].slice(0, 16);
}

// defaultName names the device from its user agent: "Chrome on Android".
export function defaultName(ua = navigator.userAgent) {
  const browser = /Edg\//.test(ua) ? 'Edge'
    : /Firefox\//.test(ua) ? 'Firefox'
    : /(Chrome|Chromium|CriOS)\//.test(ua) ? 'Chrome'
    : /Safari\//.test(ua) ? 'Safari'
    : 'Browser';
  const os = /iPad/.test(ua) ? 'iPad'
    : /iPhone/.test(ua) ? 'iPhone'
    : /Android/.test(ua) ? (/Mobile/.test(ua) ? 'Android phone' : 'Android tablet')
    : /Mac OS X/.test(ua) ? 'Mac'
    : /Windows/.test(ua) ? 'Windows'
    : /CrOS/.test(ua) ? 'ChromeOS'
    : /Linux/.test(ua) ? 'Linux'
    : 'device';
  return `${browser} on ${os}`;
}
