// @ts-check
// Session is one signed-in stretch: MQTT 5 over wss://<this origin>/mqtt with
// the token from /authorise, the subscriptions /authorise names, token
// rotation and commands with their replies. It never reconnects by itself
// after an unplanned close: the caller goes through /info and /authorise
// again, as the seed asks.
import mqtt from 'mqtt';

/**
 * The topics of POST /authorise's 200 body, for a panel (topics.md).
 * @typedef {object} ClientTopics
 * @property {string} reply
 * @property {string} token
 * @property {string} cmd a template with {host} for the host ID
 * @property {string} host_status
 * @property {string} host_actions
 * @property {string} host_input
 * @property {string} host_state
 */

/**
 * POST /authorise's 200 body.
 * @typedef {object} Authorised
 * @property {string} token
 * @property {string} expires_at
 * @property {string} sub
 * @property {string} server_id
 * @property {ClientTopics} topics
 * @property {string} [mqtt_path]
 */

/**
 * A fresh token and when it expires: a token push, or /authorise again.
 * @typedef {{token: string, expires_at: string}} Token
 */

/**
 * What became of a command: ok, or the code of the reply's error or of
 * what happened instead (timeout, offline, host offline, ...).
 * @typedef {object} Result
 * @property {string} id
 * @property {boolean} ok
 * @property {string} code
 * @property {string} [message]
 * @property {number} ms
 */

/**
 * What a Session tells its owner.
 * @typedef {object} Events
 * @property {(topic: string, text: string) => void} message a host topic's message
 * @property {(why: {code?: number | null, reason: string}) => void} closed the session ended unplanned
 * @property {(first: boolean) => void} connected connected: first, or again after a rotation
 * @property {() => void} [connack]
 * @property {(pushed: boolean) => void} [rotated] a rotation took a pushed token (true) or a refreshed one
 * @property {() => Promise<Token | null>} [refresh] fetches a fresh token itself (null: none now)
 */

// A command's reply comes within 10 s (the agent drops older commands). An
// action answers when it ends, which may take longer: its button shows
// "running" until then, until its host goes offline or the session ends,
// with this as the last resort should its reply be lost.
const REPLY_MS = 10000;
const ACTION_REPLY_MS = 10 * 60 * 1000;

// filterRE matches the topics of an MQTT filter, capturing each + level.
/** @param {string} filter */
function filterRE(filter) {
  const esc = filter.split('/').map((l) => (l === '+' ? '([^/]+)' : l === '#' ? '(.*)' : l.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')));
  return new RegExp(`^${esc.join('/')}$`);
}

// REASONS names the MQTT 5 reason codes a user may meet.
const REASONS = {
  0x86: 'bad token',
  0x87: 'not authorised',
  0x8e: 'session taken over',
  0x98: 'revoked',
  0xa0: 'token expired',
};

/** @param {number | null | undefined} code */
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
/** @param {string | Uint8Array | null | undefined} b */
function text(b) {
  if (b == null) return '';
  return typeof b === 'string' ? b : decoder.decode(b);
}

export class Session {
  /** @type {ReturnType<typeof setTimeout> | undefined} */
  #refreshTimer;
  #rotating = false;
  /** when the token in use expires, in ms since the epoch */
  #expiresAt = 0;

  /**
   * @param {Authorised} auth the 200 body of /authorise
   * @param {Events} on
   * @param {string} [url] the WebSocket URL; this origin's mqtt_path when absent
   */
  constructor(auth, on, url) {
    this.auth = auth;
    this.sub = auth.sub;
    this.on = on;
    this.url = url || `wss://${location.host}${auth.mqtt_path || '/mqtt'}`;
    this.topics = auth.topics;
    this.status = filterRE(auth.topics.host_status);
    /** @type {mqtt.MqttClient | null} */
    this.client = null;
    /** @type {Map<string, {resolve: (r: Result) => void, t0: number, timer: ReturnType<typeof setTimeout> | undefined, host: string}>} */
    this.pending = new Map();
    this.closed = false;
    this.#expiresAt = Date.parse(auth.expires_at) || 0;
  }

  // start connects and subscribes; it rejects with {code} if the broker
  // refuses or the connection fails.
  /** @param {WebSocket | null} [ws] */
  async start(ws) {
    this.client = await this.connect(this.auth.token, ws);
    this.watch(this.client);
    this.on.connected(true);
    this.#scheduleRefresh();
  }

  // connect opens one MQTT connection, on ws if given (a WebSocket to
  // this.url, open or opening, that nothing has used yet).
  /**
   * @param {string} token
   * @param {WebSocket | null} [ws]
   * @returns {Promise<mqtt.MqttClient>}
   */
  connect(token, ws) {
    return new Promise((resolve, reject) => {
      const c = mqtt.connect(this.url, {
        // MQTT.js types this as its own WebSocket-like; the browser's is one.
        createWebsocket: ws ? /** @type {any} */ (() => ws) : undefined,
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
        const t = this.topics;
        /** @type {mqtt.ISubscriptionMap} */
        const filters = {};
        for (const f of [t.host_status, t.host_actions, t.host_input, t.host_state, t.reply, t.token]) filters[f] = { qos: 1 };
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
  /** @param {mqtt.MqttClient & {planned?: boolean}} c */
  watch(c) {
    /** @type {number | null | undefined} */
    let code = null;
    c.on('disconnect', (p) => { code = p && p.reasonCode; });
    c.on('error', (/** @type {Error & {code?: unknown}} */ err) => { if (err && typeof err.code === 'number') code = err.code; });
    c.on('close', () => {
      if (c.planned || this.closed || c !== this.client) return;
      this.closed = true;
      clearTimeout(this.#refreshTimer);
      c.end(true);
      this.failPending('disconnected');
      this.on.closed({ code, reason: reasonText(code) });
    });
  }

  /**
   * @param {string} topic
   * @param {Uint8Array} payload
   * @param {import('mqtt').IPublishPacket} packet
   */
  message(topic, payload, packet) {
    if (topic === this.topics.reply) {
      this.reply(text(payload), packet);
      return;
    }
    if (topic === this.topics.token) {
      let msg;
      try { msg = JSON.parse(text(payload)); } catch { return; }
      if (msg && msg.token) this.#pushed(msg);
      return;
    }
    const s = this.status.exec(topic);
    if (s) this.watchHost(s[1], text(payload));
    this.on.message(topic, text(payload));
  }

  // watchHost ends the commands still waiting on a host whose status says
  // it went offline (its Will): their replies will never come.
  /**
   * @param {string} host
   * @param {string} body
   */
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

  // pushed takes a token the broker pushed. Every session of this subject
  // (other tabs too) hears every push: it takes one only if it lasts longer
  // than the one in use.
  /** @param {Token} msg */
  #pushed(msg) {
    const exp = Date.parse(msg.expires_at);
    if (this.#rotating || !(exp > this.#expiresAt + 1000)) return;
    this.#rotateTo(msg, true).catch(() => { /* the old token still works until it ends */ });
  }

  // scheduleRefresh fetches a fresh token itself (on.refresh) if none was
  // pushed by a minute before the current one expires.
  #scheduleRefresh() {
    clearTimeout(this.#refreshTimer);
    const left = this.#expiresAt - Date.now();
    if (!this.on.refresh || !(left > 0) || this.closed) return;
    // The broker pushes at two thirds of a token's life; this comes later,
    // a minute before the end (a sixth of the life for short tokens).
    const when = Math.max(1000, left - Math.min(60000, left / 6) - Math.random() * Math.min(15000, left / 12));
    this.#refreshTimer = setTimeout(async () => {
      if (this.closed || this.#rotating || !this.on.refresh) return;
      try {
        const tok = await this.on.refresh();
        if (tok && !this.closed && !this.#rotating) await this.#rotateTo(tok, false);
      } catch { /* the session's end, if it comes, sends the owner through /info */ }
    }, when);
  }

  // rotateTo connects with tok and only then leaves the old connection, so
  // nothing held is dropped in between.
  /**
   * @param {Token} tok
   * @param {boolean} pushed
   */
  async #rotateTo(tok, pushed) {
    this.#rotating = true;
    try {
      await this.rotate(tok.token);
      if (this.closed) return;
      this.#expiresAt = Date.parse(tok.expires_at) || 0;
      if (this.on.rotated) this.on.rotated(pushed);
      this.#scheduleRefresh();
    } finally {
      this.#rotating = false;
    }
  }

  // rotate connects with a fresh token and only then leaves the old
  // connection, so nothing held is dropped in between.
  /** @param {string} token */
  async rotate(token) {
    if (this.closed) return;
    const next = await this.connect(token);
    if (this.closed) { next.end(true); return; }
    const old = /** @type {(mqtt.MqttClient & {planned?: boolean}) | null} */ (this.client);
    this.client = next;
    this.auth = { ...this.auth, token };
    this.watch(next);
    if (old) { old.planned = true; old.end(false); }
    this.on.connected(false);
  }

  close() {
    this.closed = true;
    clearTimeout(this.#refreshTimer);
    this.failPending('closed');
    const c = /** @type {(mqtt.MqttClient & {planned?: boolean}) | null} */ (this.client);
    if (c) { c.planned = true; c.end(true); }
  }

  /** @param {string} code */
  failPending(code) {
    for (const [id, p] of this.pending) {
      clearTimeout(p.timer);
      p.resolve({ id, ok: false, code, ms: Math.round(performance.now() - p.t0) });
    }
    this.pending.clear();
  }

  /**
   * @param {string} body
   * @param {import('mqtt').IPublishPacket} packet
   */
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

  /** @param {string} host */
  cmdTopic(host) {
    return this.topics.cmd.replace('{host}', host);
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
  /**
   * @param {string} host
   * @param {{op: string} & Record<string, unknown>} cmd
   * @param {{track?: boolean, qos?: 0 | 1}} [opts]
   * @returns {Promise<Result>}
   */
  send(host, cmd, { track = true, qos = 0 } = {}) {
    const id = newID();
    const body = JSON.stringify({ id, ...cmd });
    const c = this.client;
    if (!c || this.closed || !c.connected) {
      return Promise.resolve({ id, ok: false, code: 'offline', ms: 0 });
    }
    /** @type {import('mqtt').IClientPublishOptions['properties']} */
    const props = { messageExpiryInterval: 10, contentType: 'application/json' };
    if (track) {
      props.responseTopic = this.topics.reply;
      // MQTT.js writes a string as its UTF-8 bytes; its type says Buffer.
      props.correlationData = /** @type {any} */ (id);
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
