// @ts-check
// The keyboard and mouse controls: hold keys, the text box and the trackpad.
// io.target() names the host they drive (or null); io.send(host, cmd, opts)
// sends one command and resolves to its result.
import { h, formatResult } from './dom.js';
import { sentence } from './errors.js';

const LABELS = {
  shift: 'Shift', ctrl: 'Ctrl', alt: 'Alt', super: 'Super', space: 'Space', enter: 'Enter',
  esc: 'Esc', tab: 'Tab', backspace: '⌫', delete: 'Del', left: '←', right: '→', up: '↑', down: '↓',
  pageup: 'PgUp', pagedown: 'PgDn', home: 'Home', end: 'End',
};
const NAMES = { left: 'Left arrow', right: 'Right arrow', up: 'Up arrow', down: 'Down arrow', backspace: 'Backspace' };

// REPEAT is how often a held key is sent again; the agent lets go of a key
// not repeated within 3 s.
const REPEAT_MS = 1000;

function show(out, r) {
  out.textContent = r.ok ? formatResult(r) : sentence(r);
  out.classList.toggle('ok', r.ok);
  out.classList.toggle('err', !r.ok);
}

// HoldKeys draws one hold button per key.
export class HoldKeys {
  constructor(container, io, status) {
    this.container = container;
    this.io = io;
    this.status = status;
    this.held = new Map(); // button -> {host, key, timer}
    const releaseAll = () => this.releaseAll();
    window.addEventListener('blur', releaseAll);
    window.addEventListener('pagehide', releaseAll);
    document.addEventListener('visibilitychange', () => { if (document.hidden) releaseAll(); });
  }

  setKeys(keys) {
    this.releaseAll();
    this.container.replaceChildren(...keys.map((key) => this.button(key)));
  }

  button(key) {
    const b = h('button', {
      type: 'button', class: 'hold', 'aria-pressed': 'false', dataset: { key },
      'aria-label': `Hold ${NAMES[key] || LABELS[key] || key}`,
    }, LABELS[key] || key);
    b.addEventListener('pointerdown', (e) => {
      if (e.pointerType === 'mouse' && e.button !== 0) return;
      e.preventDefault();
      try { b.setPointerCapture(e.pointerId); } catch { /* already gone */ }
      this.press(b, key);
    });
    const up = () => this.release(b);
    b.addEventListener('pointerup', up);
    b.addEventListener('pointercancel', up);
    b.addEventListener('lostpointercapture', up);
    b.addEventListener('blur', up);
    b.addEventListener('keydown', (e) => {
      if ((e.key === 'Enter' || e.key === ' ') && !e.repeat) { e.preventDefault(); this.press(b, key); }
      else if (e.key === 'Enter' || e.key === ' ') e.preventDefault();
    });
    b.addEventListener('keyup', (e) => {
      if (e.key === 'Enter' || e.key === ' ') { e.preventDefault(); up(); }
    });
    b.addEventListener('contextmenu', (e) => e.preventDefault());
    return b;
  }

  press(b, key) {
    if (this.held.has(b)) return;
    const host = this.io.target();
    if (!host) { this.status.textContent = 'No host to send to'; return; }
    const down = () => this.io.send(host, { op: 'key.down', key }).then((r) => { if (!r.ok) show(this.status, r); });
    const timer = setInterval(down, REPEAT_MS);
    this.held.set(b, { host, key, timer });
    b.setAttribute('aria-pressed', 'true');
    down();
  }

  release(b) {
    const st = this.held.get(b);
    if (!st) return;
    this.held.delete(b);
    clearInterval(st.timer);
    b.setAttribute('aria-pressed', 'false');
    this.io.send(st.host, { op: 'key.up', key: st.key }).then((r) => { if (!r.ok) show(this.status, r); });
  }

  releaseAll() {
    for (const b of [...this.held.keys()]) this.release(b);
  }

  // dropped forgets held keys without sending: the connection is gone and
  // the agent lets go of them itself.
  dropped() {
    for (const [b, st] of this.held) {
      clearInterval(st.timer);
      b.setAttribute('aria-pressed', 'false');
    }
    this.held.clear();
  }
}

// TextBox sends its text with text.type.
export function textBox(form, input, out, io) {
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const text = input.value;
    if (!text) return;
    const host = io.target();
    if (!host) { out.textContent = 'No host to send to'; return; }
    out.textContent = '…';
    out.classList.remove('ok', 'err');
    const r = await io.send(host, { op: 'text.type', text });
    show(out, r);
    if (r.ok && input.value === text) input.value = '';
  });
}

// STEP_PX is how far two fingers travel for one scroll step.
const STEP_PX = 24;
const TAP_MS = 300;
const TAP_SLOP = 8;
const GAIN = 1.6;

// Trackpad turns drags into relative mouse.move (one per animation frame,
// with the deltas summed), taps into clicks (two fingers: right click) and
// two-finger drags or the wheel into mouse.scroll.
export class Trackpad {
  constructor(el, out, io) {
    this.el = el;
    this.out = out;
    this.io = io;
    this.pointers = new Map();
    this.acc = { dx: 0, dy: 0, sx: 0, sy: 0 };
    this.raf = 0;
    /** @type {{t0: number, travel: number, most: number} | null} the touch in progress */
    this.gesture = null;
    el.addEventListener('pointerdown', (e) => this.down(e));
    el.addEventListener('pointermove', (e) => this.move(e));
    el.addEventListener('pointerup', (e) => this.up(e, true));
    el.addEventListener('pointercancel', (e) => this.up(e, false));
    el.addEventListener('wheel', (e) => this.wheel(e), { passive: false });
    el.addEventListener('contextmenu', (e) => e.preventDefault());
    el.addEventListener('keydown', (e) => this.key(e));
  }

  down(e) {
    if (e.pointerType === 'mouse' && e.button !== 0) return;
    e.preventDefault();
    try { this.el.setPointerCapture(e.pointerId); } catch { /* gone */ }
    this.el.focus({ preventScroll: true });
    if (this.pointers.size === 0 || !this.gesture) this.gesture = { t0: performance.now(), travel: 0, most: 0 };
    this.pointers.set(e.pointerId, { x: e.clientX, y: e.clientY });
    this.gesture.most = Math.max(this.gesture.most, this.pointers.size);
    this.el.classList.add('active');
  }

  move(e) {
    const p = this.pointers.get(e.pointerId);
    if (!p) return;
    const events = e.getCoalescedEvents ? e.getCoalescedEvents() : [];
    const last = events.length ? events[events.length - 1] : e;
    const dx = last.clientX - p.x;
    const dy = last.clientY - p.y;
    p.x = last.clientX;
    p.y = last.clientY;
    if (!dx && !dy) return;
    if (this.gesture) this.gesture.travel += Math.abs(dx) + Math.abs(dy);
    if (this.pointers.size === 1) {
      this.acc.dx += dx * GAIN;
      this.acc.dy += dy * GAIN;
    } else {
      // Each finger of a two-finger drag reports its own move: average them.
      this.acc.sx += dx / this.pointers.size;
      this.acc.sy += dy / this.pointers.size;
    }
    this.schedule();
  }

  up(e, lifted) {
    if (!this.pointers.delete(e.pointerId)) return;
    if (this.pointers.size > 0) return;
    this.el.classList.remove('active');
    const g = this.gesture;
    this.gesture = null;
    if (lifted && g && performance.now() - g.t0 < TAP_MS && g.travel < TAP_SLOP) {
      this.click(g.most >= 2 ? 'right' : 'left');
    }
  }

  wheel(e) {
    e.preventDefault();
    const k = e.deltaMode === 1 ? STEP_PX : e.deltaMode === 2 ? STEP_PX * 10 : 1;
    // The wheel moves the page under the pointer; two fingers move it
    // the other way, like a touch screen.
    this.acc.sx -= e.deltaX * k;
    this.acc.sy -= e.deltaY * k;
    this.schedule();
  }

  key(e) {
    const step = e.shiftKey ? 50 : 10;
    const moves = { ArrowLeft: [-step, 0], ArrowRight: [step, 0], ArrowUp: [0, -step], ArrowDown: [0, step] };
    if (moves[e.key]) {
      e.preventDefault();
      this.acc.dx += moves[e.key][0];
      this.acc.dy += moves[e.key][1];
      this.schedule();
    } else if (e.key === 'Enter' || e.key === ' ') {
      e.preventDefault();
      if (!e.repeat) this.click('left');
    }
  }

  schedule() {
    if (!this.raf) this.raf = requestAnimationFrame(() => this.flush());
  }

  flush() {
    this.raf = 0;
    const host = this.io.target();
    const a = this.acc;
    const x = Math.trunc(a.dx);
    const y = Math.trunc(a.dy);
    const sx = Math.trunc(a.sx / STEP_PX);
    const sy = Math.trunc(a.sy / STEP_PX);
    a.dx -= x;
    a.dy -= y;
    a.sx -= sx * STEP_PX;
    a.sy -= sy * STEP_PX;
    if (!host) return;
    if (x || y) this.io.send(host, { op: 'mouse.move', x, y, rel: true }, { track: false, qos: 0 });
    if (sx || sy) this.io.send(host, { op: 'mouse.scroll', dx: -sx, dy: -sy }).then((r) => show(this.out, r));
  }

  async click(button) {
    const host = this.io.target();
    if (!host) { this.out.textContent = 'No host to send to'; return; }
    const r = await this.io.send(host, { op: 'mouse.click', button });
    show(this.out, r);
    if (r.ok) this.out.textContent = `${button} click · ok · ${r.ms} ms`;
  }
}

// SPECIAL maps the keys a live keyboard sends as key taps to key names.
const SPECIAL = {
  Backspace: 'backspace', Enter: 'enter', Tab: 'tab', Escape: 'esc', Delete: 'delete',
  ArrowLeft: 'left', ArrowRight: 'right', ArrowUp: 'up', ArrowDown: 'down',
  Home: 'home', End: 'end', PageUp: 'pageup', PageDown: 'pagedown',
};

// LiveKeys is the live keyboard: while it is on, what is typed in its box
// is typed on the host at once, key by key (Backspace and Enter too, and
// shortcuts such as Ctrl+C), with no submit. Text comes from beforeinput,
// so phone keyboards and input methods work; the box stays empty.
export class LiveKeys {
  constructor(toggle, wrap, box, out, io) {
    this.toggle = toggle;
    this.wrap = wrap;
    this.box = box;
    this.out = out;
    this.io = io;
    this.on = false;
    toggle.addEventListener('click', () => this.set(!this.on));
    box.addEventListener('keydown', (e) => this.keydown(e));
    box.addEventListener('beforeinput', (e) => this.beforeinput(e));
    box.addEventListener('compositionend', (e) => {
      if (e.data) this.send({ op: 'text.type', text: e.data });
      box.value = '';
    });
  }

  set(on) {
    this.on = on;
    this.toggle.setAttribute('aria-pressed', String(on));
    this.wrap.hidden = !on;
    this.box.value = '';
    if (on) this.box.focus();
  }

  keydown(e) {
    if (e.isComposing || e.key === 'Process' || e.key === 'Unidentified') return;
    const mods = [];
    if (e.ctrlKey) mods.push('ctrl');
    if (e.altKey) mods.push('alt');
    if (e.metaKey) mods.push('super');
    const special = SPECIAL[e.key];
    if (special) {
      if (e.shiftKey) mods.push('shift');
      e.preventDefault();
      this.send(mods.length ? { op: 'key.tap', key: special, mods } : { op: 'key.tap', key: special });
    } else if (mods.length && e.key.length === 1) {
      // A shortcut (Ctrl+C): the key, not the character it makes.
      e.preventDefault();
      this.send({ op: 'key.tap', key: e.key.toLowerCase(), mods: e.shiftKey ? [...mods, 'shift'] : mods });
    }
  }

  beforeinput(e) {
    if (e.isComposing || e.inputType === 'insertCompositionText') return;
    e.preventDefault();
    switch (e.inputType) {
      case 'insertText':
      case 'insertReplacementText':
      case 'insertFromPaste':
      case 'insertFromDrop': {
        const text = e.data ?? (e.dataTransfer && e.dataTransfer.getData('text/plain'));
        if (text) this.send({ op: 'text.type', text });
        break;
      }
      case 'insertLineBreak':
      case 'insertParagraph':
        this.send({ op: 'key.tap', key: 'enter' });
        break;
      case 'deleteContentBackward':
      case 'deleteWordBackward':
        this.send({ op: 'key.tap', key: 'backspace' });
        break;
      case 'deleteContentForward':
        this.send({ op: 'key.tap', key: 'delete' });
        break;
      default:
    }
  }

  // send sends one command; commands go out in order on one connection
  // and the agent runs them in order, so nothing waits for a reply.
  async send(cmd) {
    const host = this.io.target();
    if (!host) { this.out.textContent = 'No host to send to'; return; }
    const r = await this.io.send(host, cmd);
    if (!r.ok) show(this.out, r);
    else this.out.textContent = `typed · ${r.ms} ms`;
  }
}

// fullScreenPad makes the trackpad fill the screen, and the browser go full
// screen where it lets a page; the same button, or Esc, leaves.
export function fullScreenPad(button, wrap, pad) {
  const set = (on) => {
    wrap.classList.toggle('full', on);
    document.body.classList.toggle('pad-is-full', on);
    button.setAttribute('aria-pressed', String(on));
    button.textContent = on ? 'Exit full screen' : 'Full screen';
    if (on) {
      pad.focus({ preventScroll: true });
      if (wrap.requestFullscreen && !document.fullscreenElement) wrap.requestFullscreen({ navigationUI: 'hide' }).catch(() => {});
    } else if (document.fullscreenElement) {
      document.exitFullscreen().catch(() => {});
    }
  };
  button.addEventListener('click', () => set(!wrap.classList.contains('full')));
  document.addEventListener('fullscreenchange', () => {
    if (!document.fullscreenElement && wrap.classList.contains('full')) set(false);
  });
  document.addEventListener('keydown', (e) => {
    if (e.key === 'Escape' && wrap.classList.contains('full')) set(false);
  });
  return set;
}
