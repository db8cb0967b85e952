// @ts-check
// Draws Material Design Icons from the bundled set (src/icons.txt); an
// icon that is not bundled, or not mdi:, is drawn as nothing.
import ICONS from 'mdi-icons';

const NS = 'http://www.w3.org/2000/svg';

// iconPath returns the SVG path of icon "mdi:NAME", or null.
export function iconPath(icon) {
  if (typeof icon !== 'string' || !icon.startsWith('mdi:')) return null;
  return Object.hasOwn(ICONS, icon.slice(4)) ? ICONS[icon.slice(4)] : null;
}

// svgIcon returns an <svg> element for icon, or null.
export function svgIcon(icon, cls = 'icon') {
  const d = iconPath(icon);
  if (!d) return null;
  const svg = document.createElementNS(NS, 'svg');
  svg.setAttribute('viewBox', '0 0 24 24');
  svg.setAttribute('class', cls);
  svg.setAttribute('aria-hidden', 'true');
  svg.setAttribute('focusable', 'false');
  const p = document.createElementNS(NS, 'path');
  p.setAttribute('d', d);
  svg.append(p);
  return svg;
}
