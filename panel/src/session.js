// Session is one signed-in stretch: MQTT 5 over wss://<this origin>/mqtt with
// the token from /authorise, the subscriptions, token rotation and commands
// with their replies. It never reconnects by itself after an unplanned close:
// the caller goes through /info and /authorise again, as the seed asks.
import mqtt from 'mqtt';

const ROOT = 'mfd/v1';

// A command's reply comes within 10 s (the agent drops older commands). An
// action answers when it ends, which may take longer: its button shows
// "running" until then, until its host goes offline or the session ends,
// with this as the last resort should its reply be lost.
const REPLY_MS = 10000;
const ACTION_REPLY_MS = 10 * 60 * 1000;
const STATUS = /^mfd\/v1\/hosts\/([^/]+)\/status$/;

// REASONS names the MQTT 5 reason codes a user may meet.
const REASONS = {
  0x86: 'bad token',
  0x87: 'not authorised',
  0x8e: 'session taken over',
  0x98: 'revoked',
  0xa0: 'token expired',
};

export function reasonText(code) {
  if (code == null) return 'connection lost';
  return REASONS[code] || `reason 0x${code.toString(16)}`;
}

function rand() {
  const b = new Uint8Array(6);
  crypto.getRandomValues(b);
  return Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
}

let seq = 0;
// newID makes a command ID unique for this client for far longer than the
// agent's 60 s replay window.
export function newID() {
  seq = (seq + 1) % 1e9;
  return `${Date.now().toString(36)}-${seq.toString(36)}-${rand().slice(0, 6)}`;
}

const decoder = new TextDecoder();
function text(b) {
  if (b == null) return '';
  return typeof b === 'string' ? b : decoder.decode(b);
}

export class Session {
  // auth is the 200 body of /authorise; on has message(topic, text),
  // token(msg), closed({code, reason}) and connected(first).
  constructor(auth, on, url) {
    this.auth = auth;
    this.sub = auth.sub;
    this.on = on;
    this.url = url || `wss://${location.host}${auth.mqtt_path || '/mqtt'}`;
    this.replyTopic = (auth.topics && auth.topics.reply) || `${ROOT}/clients/${auth.sub}/reply`;
    this.tokenTopic = (auth.topics && auth.topics.token) || `${ROOT}/clients/${auth.sub}/token`;
    this.client = null;
    this.pending = new Map(); // command id -> {resolve, t0, timer, host}
    this.closed = false;
    this.rotating = false;
    this.expiresAt = 0;
  }

  // start connects and subscribes; it rejects with {code} if the broker
  // refuses or the connection fails.
  async start(ws) {
    this.client = await this.connect(this.auth.token, ws);
    this.watch(this.client);
    this.on.connected(true);
  }

  // connect opens one MQTT connection, on ws if given (a WebSocket to
  // this.url, open or opening, that nothing has used yet).
  connect(token, ws) {
    return new Promise((resolve, reject) => {
      const c = mqtt.connect(this.url, {
        createWebsocket: ws ? () => ws : undefined,
        protocolVersion: 5,
        clientId: `${this.sub}/${rand()}`,
        username: this.sub,
        password: token,
        clean: true,
        keepalive: 60,
        // MQTT.js's default timers run in a blob: worker, which the CSP forbids.
        timerVariant: 'native',
        reconnectPeriod: 0,
        connectTimeout: 10000,
        resubscribe: false,
        properties: { sessionExpiryInterval: 0 },
      });
      let settled = false;
      let code = null;
      const fail = (err) => {
        if (settled) return;
        settled = true;
        off();
        c.end(true);
        reject({ code: code ?? (err && typeof err.code === 'number' ? err.code : null), reason: err && err.message });
      };
      const onError = (err) => {
        if (err && typeof err.code === 'number') code = err.code;
        fail(err);
      };
      const onDisconnect = (p) => { code = p && p.reasonCode; };
      const onClose = () => fail(null);
      const off = () => {
        c.removeListener('error', onError);
        c.removeListener('disconnect', onDisconnect);
        c.removeListener('close', onClose);
      };
      c.on('error', onError);
      c.on('disconnect', onDisconnect);
      c.on('close', onClose);
      c.on('message', (topic, payload, packet) => this.message(topic, payload, packet));
      c.once('connect', () => {
        if (settled) return;
        if (this.on.connack) this.on.connack();
        const filters = {
          [`${ROOT}/hosts/+/status`]: { qos: 1 },
          [`${ROOT}/hosts/+/actions`]: { qos: 1 },
          [`${ROOT}/hosts/+/input`]: { qos: 1 },
          [`${ROOT}/hosts/+/state/+`]: { qos: 1 },
          [this.replyTopic]: { qos: 1 },
          [this.tokenTopic]: { qos: 1 },
        };
        c.subscribe(filters, (err) => {
          if (settled) return;
          if (err) { fail(err); return; }
          settled = true;
          off();
          resolve(c);
        });
      });
    });
  }

  // watch turns the end of the current client into one closed() call,
  // unless it was ended on purpose.
  watch(c) {
    let code = null;
    c.on('disconnect', (p) => { code = p && p.reasonCode; });
    c.on('error', (err) => { if (err && typeof err.code === 'number') code = err.code; });
    c.on('close', () => {
      if (c.planned || this.closed || c !== this.client) return;
      this.closed = true;
      c.end(true);
      this.failPending('disconnected');
      this.on.closed({ code, reason: reasonText(code) });
    });
  }

  message(topic, payload, packet) {
    if (topic === this.replyTopic) {
      this.reply(text(payload), packet);
      return;
    }
    if (topic === this.tokenTopic) {
      let msg;
      try { msg = JSON.parse(text(payload)); } catch { return; }
      if (msg && msg.token) this.on.token(msg);
      return;
    }
    const s = STATUS.exec(topic);
    if (s) this.watchHost(s[1], text(payload));
    this.on.message(topic, text(payload));
  }

  // watchHost ends the commands still waiting on a host whose status says
  // it went offline (its Will): their replies will never come.
  watchHost(host, body) {
    if (body) {
      let st;
      try { st = JSON.parse(body); } catch { return; }
      if (!st || typeof st !== 'object' || st.online !== false) return;
    }
    for (const [id, p] of this.pending) {
      if (p.host !== host) continue;
      this.pending.delete(id);
      clearTimeout(p.timer);
      p.resolve({ id, ok: false, code: 'host offline', ms: Math.round(performance.now() - p.t0) });
    }
  }

  // rotate connects with a fresh token and only then leaves the old
  // connection, so nothing held is dropped in between.
  async rotate(token) {
    if (this.closed) return;
    const next = await this.connect(token);
    if (this.closed) { next.end(true); return; }
    const old = this.client;
    this.client = next;
    this.auth = { ...this.auth, token };
    this.watch(next);
    if (old) { old.planned = true; old.end(false); }
    this.on.connected(false);
  }

  close() {
    this.closed = true;
    this.failPending('closed');
    if (this.client) { this.client.planned = true; this.client.end(true); }
  }

  failPending(code) {
    for (const [id, p] of this.pending) {
      clearTimeout(p.timer);
      p.resolve({ id, ok: false, code, ms: Math.round(performance.now() - p.t0) });
    }
    this.pending.clear();
  }

  reply(body, packet) {
    let r;
    try { r = JSON.parse(body); } catch { return; }
    const cd = packet && packet.properties && packet.properties.correlationData;
    const id = cd ? text(cd) : r && r.id;
    const p = this.pending.get(id);
    if (!p) return;
    this.pending.delete(id);
    clearTimeout(p.timer);
    const err = r.error || {};
    p.resolve({ id, ok: r.ok === true, code: r.ok ? 'ok' : (err.code || 'error'), message: err.message, ms: Math.round(performance.now() - p.t0) });
  }

  cmdTopic(host) {
    return `${ROOT}/hosts/${host}/cmd/${this.sub}`;
  }

  // send publishes cmd to host. With track it resolves to the reply
  // {ok, code, message, ms}, or code "timeout" after 10 s (an action.run:
  // when the action ends, see ACTION_REPLY_MS), or "host offline"; without,
  // it resolves at once and the reply, if any, is ignored.
  //
  // Commands go at QoS 0: the reply is the acknowledgement that counts (a
  // lost command shows as a timeout on its button), and a PUBACK carrying
  // properties with reason code 0x01, as mochi 2.7 sends one, makes MQTT.js
  // drop the connection's parser state.
  send(host, cmd, { track = true, qos = 0 } = {}) {
    const id = newID();
    const body = JSON.stringify({ id, ...cmd });
    const c = this.client;
    if (!c || this.closed || !c.connected) {
      return Promise.resolve({ id, ok: false, code: 'offline', ms: 0 });
    }
    const props = { messageExpiryInterval: 10, contentType: 'application/json' };
    if (track) {
      props.responseTopic = this.replyTopic;
      props.correlationData = id;
    }
    const t0 = performance.now();
    return new Promise((resolve) => {
      if (track) {
        const timer = setTimeout(() => {
          this.pending.delete(id);
          resolve({ id, ok: false, code: 'timeout', ms: Math.round(performance.now() - t0) });
        }, cmd.op === 'action.run' ? ACTION_REPLY_MS : REPLY_MS);
        this.pending.set(id, { resolve, t0, timer, host });
      }
      c.publish(this.cmdTopic(host), body, { qos, properties: props }, (err) => {
        if (err && track) {
          const p = this.pending.get(id);
          if (p) { this.pending.delete(id); clearTimeout(p.timer); }
          resolve({ id, ok: false, code: 'send_failed', message: err.message, ms: 0 });
        }
      });
      if (!track) resolve({ id, ok: true, code: 'sent', ms: 0 });
    });
  }
}
