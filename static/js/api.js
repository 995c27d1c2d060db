// Fetch helpers for the JSON API. Every failure becomes an ApiError whose message
// is fit to show to the user (the server's error.message when it sent one).
export class ApiError extends Error {
  constructor(code, message, status = 0) {
    super(message);
    this.name = 'ApiError';
    this.code = code;
    this.status = status;
  }
}

// Flask-WTF style CSRF token, present only when the server renders one.
function csrfHeaders() {
  const token = document.querySelector('meta[name="csrf-token"]')?.content;
  return token ? { 'X-CSRFToken': token } : {};
}

async function readJson(response) {
  try {
    return await response.json();
  } catch {
    return null;
  }
}

export async function postForm(url, form, signal) {
  let response;
  try {
    response = await fetch(url, {
      method: 'POST',
      body: form,
      signal,
      credentials: 'same-origin',
      headers: { Accept: 'application/json', ...csrfHeaders() },
    });
  } catch (error) {
    if (error.name === 'AbortError') throw error;
    throw new ApiError('network', 'Cannot reach the PainScope server. Check the connection and try again.');
  }
  const body = await readJson(response);
  if (!response.ok) {
    const message = body?.error?.message ?? `The server answered ${response.status} ${response.statusText}.`;
    throw new ApiError(body?.error?.code ?? 'http_error', message, response.status);
  }
  if (body === null) throw new ApiError('bad_response', 'The server sent an answer that could not be read.');
  return body;
}

export function speechWavUrl(text) {
  return `/api/v1/speech.wav?text=${encodeURIComponent(text)}`;
}
