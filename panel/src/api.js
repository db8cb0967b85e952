// @ts-check
// The HTTP half of the client flow: GET /info and POST /authorise, on the
// page's own origin.

// HTTPError is a non-2xx answer with the server's error code.
export class HTTPError extends Error {
  constructor(status, code, message, retryAfter) {
    super(message || code || `HTTP ${status}`);
    this.status = status;
    this.code = code;
    this.retryAfter = retryAfter;
  }
}

async function request(path, init = {}, timeoutMs = 10000) {
  const ctl = new AbortController();
  const t = setTimeout(() => ctl.abort(), timeoutMs);
  try {
    const res = await fetch(path, {
      ...init,
      signal: ctl.signal,
      cache: 'no-store',
      credentials: 'omit',
      headers: { Accept: 'application/json', ...(init.headers || {}) },
    });
    /** @type {any} the JSON body, whatever its shape */
    let body = null;
    try { body = await res.json(); } catch { /* empty or not JSON */ }
    return { status: res.status, body, retryAfter: Number(res.headers.get('Retry-After')) || 0 };
  } finally {
    clearTimeout(t);
  }
}

function fail(r) {
  const e = r.body && r.body.error;
  return new HTTPError(r.status, e && e.code, e && e.message, r.retryAfter);
}

export async function info() {
  const r = await request('/info');
  if (r.status !== 200 || !r.body || !r.body.server_id) throw fail(r);
  return r.body;
}

// authorise asks once. It resolves to {status: 200, body} when approved,
// {status: 202, body} while pending, {status: 403, code} when denied or
// revoked, and throws HTTPError for anything else.
export async function authorise(key, name, waitSeconds) {
  const q = waitSeconds ? `?wait=${waitSeconds}` : '';
  const r = await request('/authorise' + q, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ client_id: key, name, role: 'panel' }),
  }, (waitSeconds + 10) * 1000);
  if (r.status === 200 && r.body && r.body.token) return { status: 200, body: r.body };
  if (r.status === 202 && r.body) return { status: 202, body: r.body };
  if (r.status === 403) {
    const e = r.body && r.body.error;
    return { status: 403, code: (e && e.code) || 'denied', message: e && e.message };
  }
  throw fail(r);
}
