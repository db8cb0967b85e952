// @ts-check
// The deck's layout rules, free of the DOM: what of a host's actions
// payload is kept, how its actions fall on pages, and text colour on a
// button colour.

const COLOR = /^#([0-9a-f]{3}|[0-9a-f]{6})$/i;
const ACTION_ID = /^[A-Za-z0-9_-]{1,64}$/;
// The most a host's payload may hold: more than any config (the agent
// allows 50 pages) and few enough that a hostile host cannot stall the page.
export const MAX_ACTIONS = 200;
const MAX_PAGES = 50;

const isObject = (v) => v != null && typeof v === 'object' && !Array.isArray(v);

// str returns v trimmed if it is a string of at most max characters with
// something in it, else '': a host's payloads are data from the network,
// drawn as text, never trusted to have the right types.
export const str = (v, max = 200) => (typeof v === 'string' && v.length <= max ? v.trim() : '');
const size = (v) => (Number.isFinite(v) && v > 0 && v < 1e6 ? Math.round(v) : 0);

// cleanStatus keeps the fields of a status payload that have the contract's
// types (a field of any other type is left out); null if it is not an
// object at all, which is then ignored.
export function cleanStatus(v) {
  if (!isObject(v)) return null;
  const s = { online: v.online === true };
  for (const k of ['name', 'os', 'input', 'version']) {
    const x = str(v[k], 128);
    if (x) s[k] = x;
  }
  if (isObject(v.screen) && size(v.screen.w) && size(v.screen.h)) s.screen = { w: size(v.screen.w), h: size(v.screen.h) };
  if (isObject(v.caps)) {
    s.caps = {};
    for (const [k, x] of Object.entries(v.caps)) if (typeof x === 'boolean') s.caps[k] = x;
  }
  return s;
}

// cleanActions keeps the well-formed part of an actions payload: actions
// with a valid id, each id once, at most MAX_ACTIONS; fields of the wrong
// type fall back to their defaults; pages name only those actions, each
// once.
export function cleanActions(v) {
  const actions = [];
  const ids = new Set();
  for (const a of isObject(v) && Array.isArray(v.actions) ? v.actions : []) {
    if (!isObject(a) || typeof a.id !== 'string' || !ACTION_ID.test(a.id) || ids.has(a.id)) continue;
    ids.add(a.id);
    actions.push({
      id: a.id,
      label: str(a.label) || a.id,
      icon: str(a.icon, 80),
      color: COLOR.test(str(a.color, 7)) ? a.color : '',
      toggle: a.toggle === true,
    });
    if (actions.length === MAX_ACTIONS) break;
  }
  const pages = (isObject(v) && Array.isArray(v.pages) ? v.pages : [])
    .filter((p) => isObject(p) && str(p.name, 64) && Array.isArray(p.buttons))
    .slice(0, MAX_PAGES)
    .map((p) => ({ name: str(p.name, 64), buttons: [...new Set(p.buttons.filter((b) => typeof b === 'string' && ids.has(b)))] }));
  return { actions, pages, configError: str(isObject(v) && v.config_error, 2000) };
}

// cleanState reads a toggle's retained state: true for ON, false for OFF,
// null for anything else (unknown).
export function cleanState(text) {
  const v = (text || '').trim().toUpperCase();
  return v === 'ON' ? true : v === 'OFF' ? false : null;
}

// pagesOf lays a host's actions out: its configured pages, then a page of
// the actions no page names (nothing configured is ever unreachable); one
// page of every action when none are configured.
export function pagesOf(host) {
  const actions = host.actions || [];
  if (!host.pages || !host.pages.length) return [{ name: 'Actions', buttons: actions.map((a) => a.id) }];
  const placed = new Set(host.pages.flatMap((p) => p.buttons));
  const rest = actions.filter((a) => !placed.has(a.id)).map((a) => a.id);
  return rest.length ? [...host.pages, { name: 'Other', buttons: rest }] : host.pages;
}

// textOn picks black or white text for a background colour.
export function textOn(hex) {
  let c = hex.slice(1);
  if (c.length === 3) c = [...c].map((x) => x + x).join('');
  const [r, g, b] = [0, 2, 4].map((i) => parseInt(c.slice(i, i + 2), 16) / 255)
    .map((x) => (x <= 0.03928 ? x / 12.92 : ((x + 0.055) / 1.055) ** 2.4));
  const lum = 0.2126 * r + 0.7152 * g + 0.0722 * b;
  return lum > 0.35 ? '#111' : '#fff';
}

