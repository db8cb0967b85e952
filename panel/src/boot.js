// @ts-check
// boot is a small script that runs before the big bundle (MQTT.js) has
// been parsed: it starts GET /info and, when this device holds a key for
// the server that answers, POST /authorise and the WebSocket, so the bundle
// finds them done.
// It follows the same rule as the full flow: the key goes only to the server
// ID it was made for.
import * as api from './api.js';
import * as store from './storage.js';

async function boot() {
  const info = await api.info();
  const known = store.pairing();
  if (!known.key || known.serverID !== info.server_id) return { info };
  const auth = await api.authorise(known.key, store.deviceName(), 0);
  // Approved: open the WebSocket too, so its TLS handshake and upgrade
  // happen while the bundle is parsed. MQTT.js takes it over as it is.
  /** @type {WebSocket | null} */
  let ws = null;
  if (auth.status === 200) {
    try {
      ws = new WebSocket(`wss://${location.host}${info.mqtt_path || '/mqtt'}`, ['mqtt']);
      ws.binaryType = 'arraybuffer';
    } catch { /* MQTT.js opens its own */ }
  }
  return { info, auth, key: known.key, ws };
}

window.__mfdBoot = boot();
window.__mfdBoot.catch(() => { /* the bundle starts over */ });
