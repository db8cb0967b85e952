// @ts-check
// Hosts keeps every host seen on the retained status, actions, input and
// state topics and draws each as a card: its pages as tabs over a grid of
// square buttons. A button keeps its place: results show as a badge on it
// and as a sentence in the card's status line, both of fixed size, and
// cards do not re-sort when a host goes offline.
import { h } from './dom.js';
import { svgIcon } from './icons.js';
import { sentence, short } from './errors.js';

import { cleanActions, cleanState, cleanStatus, pagesOf, textOn } from './layout.js';

const TOPIC = /^mfd\/v1\/hosts\/([^/]+)\/(status|actions|input|state\/([A-Za-z0-9_-]{1,64}))$/;
const SWIPE_PX = 50;

function loadPage(id) {
  try { return Number(localStorage.getItem(`mfd.page.${id}`)) || 0; } catch { return 0; }
}

function savePage(id, i) {
  try { localStorage.setItem(`mfd.page.${id}`, String(i)); } catch { /* private mode */ }
}

export class Hosts {
  constructor(container, empty, { onPress, onChange }) {
    this.container = container;
    this.empty = empty;
    this.onPress = onPress;
    this.onChange = onChange;
    this.hosts = new Map(); // id -> {id, status, actions, pages, configError, input, states}
    this.cards = new Map(); // id -> card
    this.drawQueued = false;
    this.nameCounts = null; // name in lower case -> IDs of the hosts bearing it
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
    const [, id, leaf, stateOf] = m;
    this.nameCounts = null;
    let host = this.hosts.get(id);
    if (!host) {
      if (!text) return true;
      host = { id, status: null, actions: null, pages: null, configError: '', input: null, states: new Map() };
      this.hosts.set(id, host);
    }
    if (stateOf) {
      const on = cleanState(text);
      if (on == null) host.states.delete(stateOf);
      else host.states.set(stateOf, on);
    } else if (!text) {
      if (leaf === 'status') this.hosts.delete(id);
      else if (leaf === 'actions') Object.assign(host, { actions: null, pages: null, configError: '' });
      else host[leaf] = null;
    } else if (leaf === 'input') {
      const v = text.trim().toUpperCase();
      host.input = v === 'ON' || v === 'OFF' ? v : null;
    } else {
      let v;
      try { v = JSON.parse(text); } catch { return true; }
      if (leaf === 'status') {
        const s = cleanStatus(v);
        if (!s) return true;
        // The will carries only {host, online: false}: keep what we knew.
        host.status = !s.online && !s.name ? { ...(host.status || {}), online: false } : s;
      } else {
        Object.assign(host, cleanActions(v));
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

  // list returns the hosts with a status by name: a host going offline
  // keeps its place.
  list() {
    return [...this.hosts.values()]
      .filter((x) => x.status)
      .sort((a, b) => this.name(a.id).localeCompare(this.name(b.id)) || a.id.localeCompare(b.id));
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
    /** @type {Element | null} */
    let prev = null;
    for (const host of list) {
      seen.add(host.id);
      let card = this.cards.get(host.id);
      if (!card) {
        card = this.newCard(host.id);
        this.cards.set(host.id, card);
      }
      this.fill(card, host);
      const want = prev ? prev.nextSibling : this.container.firstChild;
      if (want !== card.el) this.container.insertBefore(card.el, want);
      prev = card.el;
    }
    for (const [id, card] of this.cards) {
      if (!seen.has(id)) { card.el.remove(); this.cards.delete(id); }
    }
    this.onChange(list);
  }

  newCard(id) {
    const key = id.replace(/[^A-Za-z0-9_-]/g, '');
    const card = {
      id,
      key,
      page: loadPage(id),
      buttons: new Map(), // action id -> button
      name: h('h3', { class: 'host-name' }),
      badge: h('span', { class: 'badge' }),
      meta: h('p', { class: 'meta' }),
      error: h('p', { class: 'config-error', role: 'alert', hidden: true }),
      tabs: h('div', { class: 'tabs', role: 'tablist' }),
      grid: h('div', { class: 'grid', role: 'tabpanel', id: `grid-${key}`, tabindex: '-1' }),
      status: h('p', { class: 'status', 'aria-live': 'polite' }),
    };
    card.el = h('article', { class: 'host', dataset: { host: id } },
      h('header', null, card.name, card.badge), card.meta, card.error, card.tabs, card.grid, card.status);
    this.swipe(card);
    card.tabs.addEventListener('keydown', (e) => {
      const n = card.tabs.children.length;
      const step = { ArrowRight: 1, ArrowLeft: -1, Home: -card.page, End: n - 1 - card.page }[e.key];
      if (step == null || !n) return;
      e.preventDefault();
      this.showPage(card, (card.page + step + n) % n);
      card.tabs.children[card.page].focus();
    });
    return card;
  }

  // swipe switches pages with a horizontal swipe on the grid; the press
  // under the finger is not sent.
  swipe(card) {
    /** @type {{x: number, y: number, id: number} | null} */
    let start = null;
    card.grid.addEventListener('pointerdown', (e) => {
      card.swipedAt = 0;
      if (e.pointerType === 'mouse') return;
      start = { x: e.clientX, y: e.clientY, id: e.pointerId };
    });
    const end = (e) => {
      if (!start || e.pointerId !== start.id) return;
      const dx = e.clientX - start.x;
      const dy = e.clientY - start.y;
      start = null;
      if (Math.abs(dx) < SWIPE_PX || Math.abs(dx) < 2 * Math.abs(dy)) return;
      card.swipedAt = performance.now();
      const n = card.pages.length;
      const next = card.page + (dx < 0 ? 1 : -1);
      if (next >= 0 && next < n) this.showPage(card, next);
    };
    card.grid.addEventListener('pointerup', end);
    card.grid.addEventListener('pointercancel', (e) => { if (start && e.pointerId === start.id) end(e); });
  }

  showPage(card, i) {
    card.page = i;
    savePage(card.id, i);
    const host = this.hosts.get(card.id);
    if (host) this.fill(card, host);
  }

  fill(card, host) {
    const s = host.status;
    const online = !!s.online;
    const name = this.name(host.id);
    card.el.classList.toggle('offline', !online);
    card.el.setAttribute('aria-label', `${name}, ${online ? 'online' : 'offline'}`);
    card.name.textContent = name;
    card.badge.textContent = online ? 'online' : 'offline';
    const meta = [];
    if (s.input) meta.push(s.input === 'unavailable' ? 'no input backend' : `input: ${s.input}`);
    if (s.screen && s.screen.w) meta.push(`${s.screen.w}×${s.screen.h}`);
    if (s.os) meta.push(s.os);
    if (host.input === 'OFF') meta.push('remote input off');
    card.meta.textContent = meta.join(' · ') || (online ? '' : 'last seen earlier');
    card.error.hidden = !host.configError;
    card.error.textContent = host.configError
      ? `The host’s config file has an error, so these are the buttons of its last good version. ${host.configError}`
      : '';

    const actions = new Map((host.actions || []).map((a) => [a.id, a]));
    const pages = pagesOf(host).filter((p) => p.buttons.length);
    card.pages = pages;
    if (card.page >= pages.length) card.page = 0;
    this.drawTabs(card, pages, name);

    const page = pages[card.page] || { buttons: [] };
    const shown = [];
    for (const id of page.buttons) {
      const a = actions.get(id);
      if (!a) continue;
      shown.push(this.button(card, host, a, name, online));
    }
    for (const id of card.buttons.keys()) if (!actions.has(id)) card.buttons.delete(id);
    if (!shown.length) {
      card.grid.replaceChildren(h('p', { class: 'meta' }, online ? 'No actions configured.' : 'No actions.'));
    } else if (shown.length !== card.grid.children.length || shown.some((b, i) => card.grid.children[i] !== b)) {
      card.grid.replaceChildren(...shown);
    }
  }

  drawTabs(card, pages, hostName) {
    card.tabs.hidden = pages.length < 2;
    card.tabs.setAttribute('aria-label', `Pages of ${hostName}`);
    const sig = JSON.stringify([pages.map((p) => p.name), card.page]);
    if (card.tabSig === sig) return;
    card.tabSig = sig;
    const tabs = pages.map((p, i) => {
      const selected = i === card.page;
      const t = h('button', {
        type: 'button', role: 'tab', class: 'tab', id: `tab-${card.key}-${i}`,
        'aria-selected': String(selected), 'aria-controls': card.grid.id, tabindex: selected ? '0' : '-1',
        dataset: { page: String(i) },
      }, p.name);
      t.addEventListener('click', () => this.showPage(card, i));
      return t;
    });
    card.tabs.replaceChildren(...tabs);
    if (pages.length > 1) card.grid.setAttribute('aria-labelledby', `tab-${card.key}-${card.page}`);
    else card.grid.removeAttribute('aria-labelledby');
  }

  button(card, host, a, hostName, online) {
    let b = card.buttons.get(a.id);
    if (!b) {
      b = h('button', { type: 'button', class: 'key', dataset: { action: a.id } },
        h('span', { class: 'face', 'aria-hidden': 'true' }), h('span', { class: 'label' }),
        h('span', { class: 'result', 'aria-hidden': 'true' }));
      b.addEventListener('click', () => {
        // A swipe that ended on a button is no press.
        if (card.swipedAt && performance.now() - card.swipedAt < 400) return;
        this.onPress(host.id, a.id, b);
      });
      card.buttons.set(a.id, b);
    }
    const sig = JSON.stringify([a, hostName]);
    if (b.dataset.sig !== sig) {
      b.dataset.sig = sig;
      const icon = svgIcon(a.icon);
      const face = b.querySelector('.face');
      face.replaceChildren(icon || h('span', { class: 'glyph' }, (a.label || a.id).trim().charAt(0).toUpperCase()));
      b.querySelector('.label').textContent = a.label;
      b.setAttribute('aria-label', `${a.label} on ${hostName}`);
      if (a.color) {
        b.style.setProperty('--key', a.color);
        b.style.setProperty('--on-key', textOn(a.color));
        b.classList.add('colored');
      } else {
        b.style.removeProperty('--key');
        b.style.removeProperty('--on-key');
        b.classList.remove('colored');
      }
    }
    b.classList.toggle('toggle', a.toggle);
    if (a.toggle) {
      const on = host.states.get(a.id);
      b.setAttribute('aria-pressed', on ? 'true' : 'false');
      b.dataset.state = on == null ? 'unknown' : on ? 'on' : 'off';
    } else {
      b.removeAttribute('aria-pressed');
      delete b.dataset.state;
    }
    b.disabled = !online;
    return b;
  }
}

// showResults puts one press's outcome on its button (a badge that never
// moves anything) and, as plain sentences, in the card's status line.
export function showResults(button, results, names) {
  const out = button.querySelector('.result');
  const card = button.closest('.host');
  const status = card && card.querySelector('.status');
  button.classList.remove('busy', 'ok', 'err');
  if (results == null) {
    // An action answers when it ends, which may be minutes away.
    button.classList.add('busy');
    out.textContent = 'running…';
    return;
  }
  const allOK = results.every((r) => r.ok);
  button.classList.add(allOK ? 'ok' : 'err');
  const label = button.querySelector('.label').textContent;
  if (results.length === 1 && !results[0].many) {
    out.textContent = short(results[0]);
    if (status) status.textContent = `${label}: ${sentence(results[0])}`;
  } else {
    out.textContent = allOK ? `✓ ${results.length}` : `✗ ${results.filter((r) => !r.ok).length}/${results.length}`;
    if (status) status.textContent = `${label}: ${results.map((r) => `${names(r.host)}: ${sentence(r)}`).join(' ')}`;
  }
  button.title = status ? status.textContent : '';
  clearTimeout(button.fadeTimer);
  button.fadeTimer = setTimeout(() => button.classList.remove('ok'), 4000);
}
