// Talking to eropaf-server's console API (/v1/console/...): JSON in protobuf's JSON mapping,
// the session in an HttpOnly cookie the script never sees, the CSRF token in a header on every
// request that changes something.
let csrfToken = '';

export function setCsrf(token) {
  csrfToken = token || '';
}

export class ApiError extends Error {
  constructor(status, message, field) {
    super(message);
    this.status = status;
    this.field = field || '';
  }
}

export async function api(method, path, body) {
  const headers = { Accept: 'application/json' };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  if (method !== 'GET' && csrfToken) headers['X-CSRF-Token'] = csrfToken;
  const res = await fetch(path, {
    method,
    headers,
    credentials: 'same-origin',
    cache: 'no-store',
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  let data = {};
  if (text) {
    try {
      data = JSON.parse(text);
    } catch {
      throw new ApiError(res.status, 'Onleesbaar antwoord van de server (' + res.status + ')');
    }
  }
  if (!res.ok) {
    const err = data.error || {};
    throw new ApiError(res.status, err.message || 'De server weigerde (' + res.status + ')', err.field);
  }
  return data;
}

// Runs one console action (POST /v1/console/act). Answers '' when it was applied, else why not:
// the verb's own refusal, or the server's for the change it refused (nothing was applied).
export async function act(action) {
  const r = await api('POST', '/v1/console/act', action);
  if (r.applied) return { refusal: '', result: r };
  const refused = (r.results || []).find((x) => !x.accepted);
  return {
    refusal: (r.error && r.error.message) || (refused && refused.error && refused.error.message) || 'Geweigerd',
    result: r,
  };
}
