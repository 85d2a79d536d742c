// The server's public HTTP API. Every failure becomes an ApiError carrying the server's reason.

export class ApiError extends Error {
  constructor(status, code, reason, problems) {
    super(reason || `HTTP ${status}`);
    this.status = status;
    this.code = code;
    // Every problem of a refused object (a rule, a contact point, the rule files), when the
    // server lists them: [{field, message, column?}] or [{file, line?, message}].
    this.problems = Array.isArray(problems) ? problems : [];
  }
}

function query(params) {
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(params || {})) {
    if (v !== undefined && v !== null && v !== '') p.set(k, String(v));
  }
  const s = p.toString();
  return s ? `?${s}` : '';
}

async function answer(response) {
  const text = await response.text();
  let body = null;
  try {
    body = text ? JSON.parse(text) : null;
  } catch {
    body = null;
  }
  if (!response.ok) {
    const err = body && body.error;
    throw new ApiError(response.status, err && err.code, (err && err.reason) || text.slice(0, 300) || response.statusText, err && err.problems);
  }
  return body;
}

export async function get(path, params, { signal } = {}) {
  let response;
  try {
    response = await fetch(path + query(params), { signal, headers: { accept: 'application/json' } });
  } catch (e) {
    if (e.name === 'AbortError') throw e;
    throw new ApiError(0, 'network', `cannot reach the server: ${e.message}`);
  }
  return answer(response);
}

export async function send(method, path, body, { signal } = {}) {
  let response;
  try {
    response = await fetch(path, {
      method,
      signal,
      headers: { 'content-type': 'application/json', accept: 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch (e) {
    if (e.name === 'AbortError') throw e;
    throw new ApiError(0, 'network', `cannot reach the server: ${e.message}`);
  }
  return answer(response);
}

export const enc = encodeURIComponent;
