// The deck's layout rules, free of the DOM: what of a host's actions
// payload is kept, how its actions fall on pages, and text colour on a
// button colour.

const COLOR = /^#([0-9a-f]{3}|[0-9a-f]{6})$/i;

export const str = (v, max = 200) => (typeof v === 'string' && v.length <= max ? v : '');

// cleanActions keeps the well-formed part of an actions payload: a host's
// payload is data, never trusted to have the right types.
export function cleanActions(v) {
  const actions = (Array.isArray(v && v.actions) ? v.actions : [])
    .filter((a) => a && typeof a.id === 'string' && /^[A-Za-z0-9_-]{1,64}$/.test(a.id))
    .map((a) => ({
      id: a.id,
      label: str(a.label) || a.id,
      icon: str(a.icon, 80),
      color: COLOR.test(str(a.color, 7)) ? a.color : '',
      toggle: a.toggle === true,
    }));
  const ids = new Set(actions.map((a) => a.id));
  const pages = (Array.isArray(v && v.pages) ? v.pages : [])
    .filter((p) => p && str(p.name, 64) && Array.isArray(p.buttons))
    .map((p) => ({ name: p.name, buttons: p.buttons.filter((b) => typeof b === 'string' && ids.has(b)) }));
  return { actions, pages, configError: str(v && v.config_error, 2000) };
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

