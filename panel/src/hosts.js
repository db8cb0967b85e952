// Hosts keeps every host seen on the retained status, actions and input
// topics and draws them as cards with their action buttons.
import { h, formatResult } from './dom.js';

const TOPIC = /^mfd\/v1\/hosts\/([^/]+)\/(status|actions|input)$/;
const ACTION_ID = /^[A-Za-z0-9_-]{1,64}$/;
const MAX_ACTIONS = 200;

const isObject = (v) => v != null && typeof v === 'object' && !Array.isArray(v);
// str returns v if it is a string of at most max characters (trimmed), else
// undefined: a host's payloads are data from the network, drawn as text.
const str = (v, max = 128) => (typeof v === 'string' && v.trim() && v.length <= max ? v.trim() : undefined);
const size = (v) => (Number.isFinite(v) && v > 0 && v < 1e6 ? Math.round(v) : 0);

// cleanStatus keeps the fields of a status payload that have the contract's
// types; null if it is not an object at all.
export function cleanStatus(v) {
  if (!isObject(v)) return null;
  const s = { online: v.online === true };
  for (const k of ['name', 'os', 'input', 'version']) {
    const x = str(v[k]);
    if (x !== undefined) s[k] = x;
  }
  if (isObject(v.screen) && size(v.screen.w) && size(v.screen.h)) s.screen = { w: size(v.screen.w), h: size(v.screen.h) };
  if (isObject(v.caps)) {
    s.caps = {};
    for (const [k, x] of Object.entries(v.caps)) if (typeof x === 'boolean') s.caps[k] = x;
  }
  return s;
}

// cleanActions keeps the well-formed actions of an actions payload, each id
// once, at most MAX_ACTIONS.
export function cleanActions(v) {
  const out = [];
  const seen = new Set();
  for (const a of isObject(v) && Array.isArray(v.actions) ? v.actions : []) {
    if (!isObject(a) || typeof a.id !== 'string' || !ACTION_ID.test(a.id) || seen.has(a.id)) continue;
    seen.add(a.id);
    const x = { id: a.id, label: str(a.label) || a.id };
    const icon = str(a.icon);
    if (icon) x.icon = icon;
    out.push(x);
    if (out.length === MAX_ACTIONS) break;
  }
  return out;
}

export class Hosts {
  constructor(container, empty, { onPress, onChange }) {
    this.container = container;
    this.empty = empty;
    this.onPress = onPress;
    this.onChange = onChange;
    this.hosts = new Map(); // id -> {id, status, actions, input}
    this.cards = new Map(); // id -> {el, buttons: Map(actionID -> button)}
    this.drawQueued = false;
    this.nameCounts = null; // base name -> how many hosts bear it
  }

  clear() {
    this.hosts.clear();
    this.nameCounts = null;
    this.queueDraw();
  }

  // update applies one retained message; it reports whether topic was ours.
  // A payload of the wrong shape is ignored, and wrongly typed fields are
  // dropped, so that one bad host cannot break the list of the others.
  update(topic, text) {
    const m = TOPIC.exec(topic);
    if (!m) return false;
    const [, id, leaf] = m;
    this.nameCounts = null;
    let host = this.hosts.get(id);
    if (!text) {
      if (!host) return true;
      if (leaf === 'status') this.hosts.delete(id);
      else host[leaf] = null;
      this.queueDraw();
      return true;
    }
    if (!host) {
      host = { id, status: null, actions: null, input: null };
      this.hosts.set(id, host);
    }
    if (leaf === 'input') {
      const v = text.trim().toUpperCase();
      host.input = v === 'ON' || v === 'OFF' ? v : null;
    } else {
      let v;
      try { v = JSON.parse(text); } catch { return true; }
      if (leaf === 'status') {
        const st = cleanStatus(v);
        if (!st) return true;
        // The will carries only {host, online: false}: keep what we knew.
        host.status = !st.online && !st.name ? { ...(host.status || {}), online: false } : st;
      } else {
        host.actions = cleanActions(v);
      }
    }
    this.queueDraw();
    return true;
  }

  online(id) {
    const host = this.hosts.get(id);
    return !!(host && host.status && host.status.online);
  }

  // names returns, per name in lower case ("" for none), the IDs of the
  // hosts with a status that bear it.
  names() {
    if (!this.nameCounts) {
      this.nameCounts = new Map();
      for (const x of this.hosts.values()) {
        if (!x.status) continue;
        const n = (x.status.name || '').toLowerCase();
        this.nameCounts.set(n, [...(this.nameCounts.get(n) || []), x.id]);
      }
    }
    return this.nameCounts;
  }

  // name is the host's name as shown: its short ID if it has no name, and
  // with its short ID when another host bears the same name (a second
  // install, or a host pretending to be this one). A short ID is 8
  // characters, or more where another host of that name has an ID that
  // begins the same.
  name(id) {
    const host = this.hosts.get(id);
    const base = (host && host.status && host.status.name) || '';
    const peers = this.names().get(base.toLowerCase()) || [];
    let n = 8;
    for (const other of peers) {
      while (other !== id && n < id.length && other.startsWith(id.slice(0, n))) n++;
    }
    if (!base) return id.slice(0, n);
    return peers.length > 1 ? `${base} (${id.slice(0, n)})` : base;
  }

  // list returns the hosts with a status, online first, then by name.
  list() {
    return [...this.hosts.values()]
      .filter((x) => x.status)
      .sort((a, b) => (b.status.online - a.status.online) || this.name(a.id).localeCompare(this.name(b.id)) || a.id.localeCompare(b.id));
  }

  // withAction returns the online hosts that offer action id.
  withAction(actionID) {
    return this.list().filter((x) => x.status.online && x.actions && x.actions.some((a) => a.id === actionID)).map((x) => x.id);
  }

  queueDraw() {
    if (this.drawQueued) return;
    this.drawQueued = true;
    queueMicrotask(() => {
      this.drawQueued = false;
      this.draw();
    });
  }

  draw() {
    const list = this.list();
    this.empty.hidden = list.length > 0;
    const seen = new Set();
    let prev = null;
    for (const host of list) {
      seen.add(host.id);
      let card = this.cards.get(host.id);
      if (!card) {
        card = { el: h('article', { class: 'host', dataset: { host: host.id } }), buttons: new Map() };
        this.cards.set(host.id, card);
      }
      const sig = JSON.stringify([host.status, host.actions, host.input, this.name(host.id)]);
      if (card.sig !== sig) { card.sig = sig; this.fill(card, host); }
      const want = prev ? prev.nextSibling : this.container.firstChild;
      if (want !== card.el) this.container.insertBefore(card.el, want);
      prev = card.el;
    }
    for (const [id, card] of this.cards) {
      if (!seen.has(id)) { card.el.remove(); this.cards.delete(id); }
    }
    this.onChange(list);
  }

  fill(card, host) {
    const s = host.status;
    const online = !!s.online;
    const name = this.name(host.id);
    const el = card.el;
    el.classList.toggle('offline', !online);
    el.setAttribute('aria-label', `${name}, ${online ? 'online' : 'offline'}`);
    const meta = [];
    if (s.input) meta.push(s.input === 'unavailable' ? 'no input backend' : `input: ${s.input}`);
    if (s.screen && s.screen.w) meta.push(`${s.screen.w}×${s.screen.h}`);
    if (s.os) meta.push(s.os);
    if (host.input === 'OFF') meta.push('remote input off');
    const head = h('header', null,
      h('h3', { class: 'host-name' }, name),
      h('span', { class: 'badge' }, online ? 'online' : 'offline'));
    const metaEl = h('p', { class: 'meta' }, meta.join(' · ') || (online ? '' : 'last seen earlier'));
    const actions = h('div', { class: 'actions', role: 'group', 'aria-label': `Actions on ${name}` });
    const buttons = new Map();
    for (const a of host.actions || []) {
      let b = card.buttons.get(a.id);
      if (!b) {
        b = h('button', { type: 'button', class: 'action', dataset: { action: a.id } },
          h('span', { class: 'label' }), h('span', { class: 'result', 'aria-live': 'polite' }));
        b.addEventListener('click', () => this.onPress(host.id, a.id, b));
      }
      b.querySelector('.label').textContent = a.label || a.id;
      b.setAttribute('aria-label', `${a.label || a.id} on ${name}`);
      b.disabled = !online;
      buttons.set(a.id, b);
      actions.append(b);
    }
    card.buttons = buttons;
    const parts = [head, metaEl];
    if (buttons.size) parts.push(actions);
    else if (online) parts.push(h('p', { class: 'meta' }, 'No actions configured.'));
    el.replaceChildren(...parts);
  }
}

// showResults writes one press's results on its button: one result, or one
// per host when the press went to several.
export function showResults(button, results, names) {
  const out = button.querySelector('.result');
  button.classList.remove('busy', 'ok', 'err');
  if (results == null) {
    button.classList.add('busy');
    out.textContent = 'running…';
    return;
  }
  const allOK = results.every((r) => r.ok);
  button.classList.add(allOK ? 'ok' : 'err');
  out.textContent = results.length === 1 && !results[0].many
    ? formatResult(results[0])
    : results.map((r) => `${names(r.host)}: ${formatResult(r)}`).join(' · ');
}
