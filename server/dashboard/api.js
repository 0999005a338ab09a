// api.js — every request the page makes goes through call(): it adds the bearer token of the
// endpoint's scope (admin or predict, as the server's --admin_token_file / --auth_token_file
// split them) and turns a non-2xx answer into an HttpError carrying the server's message.
// Tokens live in sessionStorage only: they leave with the tab, never in localStorage or a URL.

const KEYS = { admin: 'orchard.adminToken', predict: 'orchard.predictToken' };

function stored(key) {
  try {
    return sessionStorage.getItem(key) || '';
  } catch (e) {
    return ''; // storage disabled (privacy mode): work without tokens
  }
}

export function getTokens() {
  return { admin: stored(KEYS.admin), predict: stored(KEYS.predict) };
}

export function setTokens(admin, predict) {
  try {
    for (const [k, v] of [[KEYS.admin, admin], [KEYS.predict, predict]]) {
      if (v) sessionStorage.setItem(k, v);
      else sessionStorage.removeItem(k);
    }
  } catch (e) {
    /* storage disabled: nothing to keep */
  }
}

export class HttpError extends Error {
  constructor(status, message, path) {
    super(message);
    this.status = status;
    this.path = path;
  }
}

let unauthorizedHook = null;
// Called with (path, message) whenever the server answers 401, so the page can open the
// token form instead of failing silently.
export function onUnauthorized(fn) {
  unauthorizedHook = fn;
}

// scope: 'admin' (default), 'predict' (inference: predict token, admin token when empty) or
// 'open' (health, metrics). Answers the Response; throws HttpError for non-2xx.
export async function call(path, { method = 'GET', body, headers = {}, scope = 'admin', timeoutMs = 30000 } = {}) {
  const h = { ...headers };
  const t = getTokens();
  const token = scope === 'predict' ? t.predict || t.admin : scope === 'admin' ? t.admin : '';
  if (token) h.Authorization = 'Bearer ' + token;
  // The timer stays armed after the headers arrive: it also cuts a body that stalls, which
  // would otherwise hang the caller's poll loop. Aborting a finished fetch does nothing.
  const ctl = new AbortController();
  const timer = setTimeout(() => ctl.abort(), timeoutMs);
  let r;
  try {
    r = await fetch(path, { method, body, headers: h, signal: ctl.signal, cache: 'no-store' });
  } catch (e) {
    clearTimeout(timer);
    throw new HttpError(0, e.name === 'AbortError' ? `no answer within ${timeoutMs / 1000} s` : 'server unreachable', path);
  }
  if (r.ok) return r;
  clearTimeout(timer);
  let msg = `${r.status} ${r.statusText}`;
  try {
    const j = await r.json();
    if (j && typeof j.error === 'string') msg = `${r.status}: ${j.error}`;
  } catch (e) {
    /* not JSON: keep the status line */
  }
  if (r.status === 401 && unauthorizedHook) unauthorizedHook(path, msg);
  throw new HttpError(r.status, msg, path);
}

export async function json(path, opts) {
  const r = await call(path, opts);
  return r.json();
}
