// @ts-check
// h builds an element: h('button', {class: 'x', onclick: f}, 'text', child).
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v == null || v === false) continue;
    if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else if (k === 'class') el.className = v;
    else if (k === 'dataset') Object.assign(el.dataset, v);
    else el.setAttribute(k, v === true ? '' : v);
  }
  for (const c of children.flat()) {
    if (c == null || c === false) continue;
    el.append(c instanceof Node ? c : String(c));
  }
  return el;
}

/**
 * $ returns the element with id, which the page always has.
 * @param {string} id
 * @returns {HTMLElement}
 */
export const $ = (id) => /** @type {HTMLElement} */ (document.getElementById(id));

/**
 * $input is $ for an <input>.
 * @param {string} id
 * @returns {HTMLInputElement}
 */
export const $input = (id) => /** @type {HTMLInputElement} */ ($(id));

/**
 * $select is $ for a <select>.
 * @param {string} id
 * @returns {HTMLSelectElement}
 */
export const $select = (id) => /** @type {HTMLSelectElement} */ ($(id));

// formatResult turns a command result into the few words shown on a button.
export function formatResult(r) {
  if (r.ok) return `ok · ${r.ms} ms`;
  return r.ms ? `${r.code} · ${r.ms} ms` : r.code;
}
