// @ts-check
// The panel's client flow, after the seed: GET /info, check the server ID,
// POST /authorise (showing the pairing code while pending), then MQTT over
// wss:// on the same origin. Any unplanned end goes back to /info.
import * as api from './api.js';
import * as store from './storage.js';
import { Session, reasonText } from './session.js';
import { sentence } from './errors.js';
import { Hosts, showResults } from './hosts.js';
import { HoldKeys, Trackpad, textBox, LiveKeys, fullScreenPad } from './controls.js';
import { WakeLock, vibrate } from './device.js';
import { $, $input, $select } from './dom.js';

const WAIT_S = 25;

/**
 * Probe is what the browser tests and `make bench` read, as window.__mfd.
 * @typedef {object} Probe
 * @property {string} state
 * @property {number | null} connectedAt
 * @property {number} connects
 * @property {number} rotations
 * @property {number} pushed pushed tokens taken
 * @property {string | null} code the pairing code shown
 * @property {string | null} sub
 * @property {Record<string, number>} marks
 * @property {WakeLock} [wake]
 * @property {Array<{id: string, name: string, online: boolean, actions: string[]}>} [hosts]
 */
/** @type {Probe} */
const mfd = { state: 'busy', connectedAt: null, connects: 0, rotations: 0, pushed: 0, code: null, sub: null, marks: {} };
window.__mfd = mfd;
const mark = (name) => { if (mfd.marks[name] == null) mfd.marks[name] = Math.round(performance.now()); };

const screens = ['busy', 'warning', 'pair', 'panel'];
function showScreen(name) {
  for (const s of screens) $(`screen-${s}`).hidden = s !== name;
}

function setState(state, text) {
  mfd.state = state;
  const conn = $('conn');
  conn.dataset.state = state;
  conn.textContent = text;
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// once resolves with the id of whichever of the buttons is clicked first.
function once(...ids) {
  return new Promise((resolve) => {
    const handlers = ids.map((id) => {
      const f = () => {
        ids.forEach((x, i) => $(x).removeEventListener('click', handlers[i]));
        resolve(id);
      };
      $(id).addEventListener('click', f);
      return f;
    });
  });
}

/** @type {Session | null} */
let session = null;
const hosts = new Hosts($('hosts'), $('no-hosts'), { onPress: press, onChange: hostsChanged });
const io = {
  target: () => {
    const v = $select('target').value;
    return v && hosts.online(v) ? v : null;
  },
  send: (host, cmd, opts) => (session ? session.send(host, cmd, opts) : Promise.resolve({ ok: false, code: 'offline', ms: 0 })),
};
const holds = new HoldKeys($('holds'), io, $('pad-result'));
const pad = new Trackpad($('trackpad'), $('pad-result'), io);
textBox($('type-form'), $('type-text'), $('type-result'), io);
new LiveKeys($('live-toggle'), $('live'), $('live-keys'), $('live-result'), io);
fullScreenPad($('pad-full'), $('pad-wrap'), $('trackpad'));
const wake = new WakeLock();
mfd.wake = wake;

async function press(host, action, button) {
  const targets = $input('all-hosts').checked ? hosts.withAction(action) : [host];
  if (!targets.length) return;
  vibrate(store.vibrate());
  showResults(button, null);
  const results = await Promise.all(targets.map(async (t) => ({ ...(await io.send(t, { op: 'action.run', action })), host: t, many: targets.length > 1 })));
  showResults(button, results, (id) => hosts.name(id));
}

let targetSig = '';
function hostsChanged(list) {
  const sel = $select('target');
  const prev = sel.value;
  const usable = list.filter((x) => x.status.online);
  mfd.hosts = list.map((x) => ({ id: x.id, name: hosts.name(x.id), online: !!x.status.online, actions: (x.actions || []).map((a) => a.id) }));
  const sig = JSON.stringify(usable.map((x) => [x.id, hosts.name(x.id), x.status.input]));
  if (sig === targetSig) return;
  targetSig = sig;
  const opts = usable.map((x) => {
    const o = document.createElement('option');
    o.value = x.id;
    o.textContent = hosts.name(x.id) + (x.status.input === 'unavailable' ? ' (no input)' : '');
    return o;
  });
  if (!opts.length) {
    const o = document.createElement('option');
    o.value = '';
    o.textContent = 'no host online';
    opts.push(o);
  }
  sel.replaceChildren(...opts);
  if (usable.some((x) => x.id === prev)) sel.value = prev;
  else {
    const pick = usable.find((x) => x.status.input && x.status.input !== 'unavailable') || usable[0];
    sel.value = pick ? pick.id : '';
  }
}

// offerCA shows the local CA's download on the pairing screen when /info
// names its fingerprint; a state dir from before the local CA has none, and
// its /ca.crt answers 404.
function offerCA(info) {
  const fp = typeof info.tls_ca_fingerprint_sha256 === 'string' ? info.tls_ca_fingerprint_sha256.toLowerCase() : '';
  const ok = /^[0-9a-f]{64}$/.test(fp);
  $('pair-ca').hidden = !ok;
  const link = $('pair-ca-link');
  if (!ok) {
    link.removeAttribute('href');
    return;
  }
  // As the host prints it at start-up, so the two compare at a glance; a
  // narrow screen breaks the line after a colon, never inside a byte.
  const bytes = fp.toUpperCase().match(/../g);
  $('pair-ca-fp').replaceChildren(...bytes.flatMap((b, i) => (i ? [':', document.createElement('wbr'), b] : [b])));
  // Relative: the panel links nothing of another origin.
  link.setAttribute('href', 'ca.crt');
}

// ServerChanged means another server answers at this origin now.
class ServerChanged extends Error {}

async function sameServer(info) {
  const now = await api.info();
  if (now.server_id !== info.server_id) throw new ServerChanged('another server answers here now');
}

// askName shows the naming step of a first pairing: the name goes out with
// the request, so the host's list never shows a placeholder.
function askName() {
  setState('naming', 'Name this device');
  const input = $input('device-name');
  input.value = store.deviceName();
  $('pair-naming').hidden = false;
  $('pair-pending').hidden = true;
  $('pair-refused').hidden = true;
  showScreen('pair');
  input.focus();
  input.select();
  return new Promise(/** @param {(v?: void) => void} resolve */ (resolve) => {
    $('pair-naming').addEventListener('submit', (e) => {
      e.preventDefault();
      store.setDeviceName(input.value);
      $input('settings-name').value = store.deviceName();
      $('pair-naming').hidden = true;
      resolve();
    }, { once: true });
  });
}

// pair runs POST /authorise until approved; it shows the code while pending
// and, when refused, waits for the user to ask for a new pairing.
async function pair(info, early) {
  let key = store.pairing().key;
  // The first ask returns at once, so the code shows at once; then the
  // server holds each poll until a decision or WAIT_S.
  let wait = 0;
  for (let first = true; ; first = false) {
    // The key may go only to the server it was made for: before every ask
    // but the one right after the flow's own /info, check that the same
    // server still answers here (a restart on this port may be another).
    if (!first) await sameServer(info);
    const t0 = performance.now();
    const r = early && early.key === key ? early.auth : await api.authorise(key, store.deviceName(), wait);
    early = null;
    if (r.status === 200) return r.body;
    if (r.status === 202) {
      const code = r.body.pairing_code || '';
      mfd.code = code;
      setState('pending', 'Waiting for approval on the host');
      $('pair-code').textContent = code.length === 6 ? `${code.slice(0, 3)} ${code.slice(3)}` : code;
      $('pair-code-cmd').textContent = code;
      $('pair-as').textContent = store.deviceName();
      $('pair-naming').hidden = true;
      $('pair-pending').hidden = false;
      $('pair-refused').hidden = true;
      showScreen('pair');
      if (wait) {
        // A server that did not hold the request is polled at its pace.
        const left = (r.body.retry_after || 2) * 1000 - (performance.now() - t0);
        if (left > 0) await sleep(left);
      }
      wait = WAIT_S;
      continue;
    }
    // 403: denied or revoked. The key is spent: only a new one can ask again.
    mfd.code = null;
    setState('refused', r.code === 'revoked' ? 'Access revoked' : 'Pairing refused');
    $('pair-refused-text').textContent = r.code === 'revoked'
      ? 'This device’s access was revoked on the host.'
      : r.code === 'denied' ? 'The host refused to pair with this device.' : `The server refused this device (${r.code}).`;
    $('pair-pending').hidden = true;
    $('pair-refused').hidden = false;
    showScreen('pair');
    if (session) { session.close(); session = null; }
    await once('pair-again');
    key = store.newKey(info.server_id);
    wait = 0;
  }
}

// connect runs one MQTT session and resolves when it ends unplanned.
/**
 * @param {import('./session.js').Authorised} auth
 * @param {{server_id: string, name?: string, mqtt_path?: string}} info
 * @param {WebSocket | null | undefined} ws
 * @returns {Promise<{code?: number | null, reason: string}>}
 */
function connect(auth, info, ws) {
  return new Promise((resolve, reject) => {
    const s = new Session({ ...auth, mqtt_path: info.mqtt_path }, {
      connected: (first) => {
        if (first) {
          mfd.connects++;
          if (mfd.connectedAt == null) mfd.connectedAt = performance.now();
        } else {
          mfd.rotations++;
        }
        setState('connected', `Connected to ${info.name || 'the server'}`);
        $('screen-panel').classList.remove('disconnected');
        showScreen('panel');
      },
      connack: () => mark('connack'),
      message: (topic, text) => hosts.update(topic, text),
      rotated: (pushed) => { if (pushed) mfd.pushed++; },
      // A fresh token, if none was pushed in time: /authorise again, from
      // the same server.
      refresh: async () => {
        if (session !== s) return null;
        await sameServer(info);
        const r = await api.authorise(store.pairing().key, store.deviceName(), 0);
        return r.status === 200 && r.body.server_id === info.server_id && session === s ? r.body : null;
      },
      closed: (why) => {
        holds.dropped();
        if (session === s) session = null;
        resolve(why);
      },
    });
    hosts.clear();
    s.start(ws).then(() => {
      if (session) session.close();
      session = s;
      mfd.sub = auth.sub;
      $('settings-sub').textContent = `Signed in as ${auth.sub}`;
    }, reject);
  });
}

async function takeBoot() {
  const p = window.__mfdBoot;
  window.__mfdBoot = null;
  if (!p) return {};
  try { return await p; } catch { return {}; }
}

async function flow() {
  let backoff = 0;
  for (;;) {
    if (backoff) {
      setState('busy', `Reconnecting in ${Math.round(backoff / 1000)} s…`);
      await sleep(backoff);
    }
    try {
      if (mfd.state !== 'connected' && $('screen-panel').hidden) showScreen('busy');
      mark('flow');
      // boot.js may have asked already, while this bundle loaded.
      const early = await takeBoot();
      const info = early.info || await api.info();
      mark('info');
      $('server-name').textContent = info.name ? `· ${info.name}` : '';
      offerCA(info);
      const known = store.pairing();
      if (known.serverID && known.serverID !== info.server_id) {
        if (session) { session.close(); session = null; }
        setState('warning', 'Unknown server');
        $('warn-known').textContent = known.serverID;
        $('warn-now').textContent = info.server_id;
        showScreen('warning');
        if ((await once('warn-continue', 'warn-retry')) === 'warn-retry') { backoff = 0; continue; }
        store.newKey(info.server_id);
      } else if (!known.key || !known.serverID) {
        await askName();
        store.newKey(info.server_id);
      }
      setState('busy', 'Signing in…');
      const usable = early.auth && early.info.server_id === store.pairing().serverID ? early : null;
      const auth = await pair(info, usable);
      mark('authorised');
      if (auth.server_id && auth.server_id !== info.server_id) throw new Error('the server changed while signing in');
      let ws = usable && usable.auth.body === auth ? early.ws : null;
      if (early.ws && early.ws !== ws) early.ws.close();
      if (ws && ws.readyState > WebSocket.OPEN) ws = null;
      const why = await connect(auth, info, ws);
      // It had connected: the first retry goes at once.
      backoff = 0;
      $('screen-panel').classList.add('disconnected');
      setState('busy', `Disconnected (${why.reason}), signing in again…`);
      await sleep(200 + Math.random() * 300);
    } catch (err) {
      if (err instanceof ServerChanged) { backoff = 0; continue; }
      const what = err && err.code != null ? reasonText(err.code) : (err && err.message) || 'failed';
      backoff = Math.min(Math.max(1000, backoff * 2), 30000);
      // Rate limited (429): wait at least as long as the server asks.
      if (err && err.retryAfter) backoff = Math.max(backoff, Math.min(err.retryAfter, 300) * 1000);
      setState('error', `Cannot reach the server (${what})`);
      $('busy-text').textContent = `Cannot reach the server (${what}). Trying again…`;
      $('screen-panel').classList.add('disconnected');
      if ($('screen-panel').hidden) showScreen('busy');
    }
  }
}

function settings() {
  // The naming form never navigates, however often it is submitted.
  $('pair-naming').addEventListener('submit', (e) => e.preventDefault());
  const name = $input('settings-name');
  name.value = store.deviceName();
  name.addEventListener('change', async () => {
    store.setDeviceName(name.value);
    name.value = store.deviceName();
    const out = $('settings-name-result');
    // Signing in again with the new name renames this device on the server.
    const key = store.pairing().key;
    if (!session || !key) { out.textContent = 'Saved on this device; the server hears it at the next sign-in.'; return; }
    try {
      const r = await api.authorise(key, store.deviceName(), 0);
      out.textContent = r.status === 200 ? `Renamed to “${store.deviceName()}” on the server.` : 'Saved on this device.';
    } catch (err) {
      out.textContent = `Saved on this device; the server did not take it (${err.message}).`;
    }
  });
  const wakeBox = $input('settings-wake');
  wakeBox.checked = store.keepAwake();
  wake.set(wakeBox.checked);
  wakeBox.addEventListener('change', () => { store.setKeepAwake(wakeBox.checked); wake.set(wakeBox.checked); });
  const vib = $input('settings-vibrate');
  vib.checked = store.vibrate();
  vib.addEventListener('change', () => store.setVibrate(vib.checked));
  const hk = $input('settings-holds');
  hk.value = store.holdKeys().join(', ');
  hk.addEventListener('change', () => {
    holds.setKeys(store.setHoldKeys(hk.value));
    hk.value = store.holdKeys().join(', ');
  });
  holds.setKeys(store.holdKeys());
  $('click-left').addEventListener('click', () => pad.click('left'));
  $('click-right').addEventListener('click', () => pad.click('right'));
  $('release-all').addEventListener('click', async () => {
    holds.releaseAll();
    const host = io.target();
    if (host) {
      const r = await io.send(host, { op: 'release.all' });
      $('pad-result').textContent = r.ok ? `released · ${r.ms} ms` : sentence(r);
    }
  });
  // Forgetting takes two presses: the pairing cannot be had back without
  // the host's approval.
  /** @type {ReturnType<typeof setTimeout> | null} */
  let armed = null;
  $('forget').addEventListener('click', () => {
    const b = $('forget');
    if (!armed) {
      b.textContent = 'Press again to forget this server';
      armed = setTimeout(() => { armed = null; b.textContent = 'Forget this server'; }, 4000);
      return;
    }
    store.forget();
    location.reload();
  });
}

settings();
flow();
