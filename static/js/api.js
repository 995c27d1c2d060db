// Fetch helpers for the JSON API. Every failure becomes an ApiError whose message
// is fit to show to the user (the server's error.message when it sent one).
import { t } from './i18n.js';

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

async function request(url, init) {
  let response;
  try {
    response = await fetch(url, { credentials: 'same-origin', ...init });
  } catch (error) {
    if (error.name === 'AbortError') throw error;
    throw new ApiError('network', t('Cannot reach the PainScope server. Check the connection and try again.'));
  }
  const body = await readJson(response);
  if (!response.ok) {
    const message = body?.error?.message
      ?? t('The server answered %(status)s %(text)s.', { status: response.status, text: response.statusText });
    throw new ApiError(body?.error?.code ?? 'http_error', message, response.status);
  }
  if (body === null) throw new ApiError('bad_response', t('The server sent an answer that could not be read.'));
  return body;
}

export function postForm(url, form, signal) {
  return request(url, {
    method: 'POST',
    body: form,
    signal,
    headers: { Accept: 'application/json', ...csrfHeaders() },
  });
}

export function getJson(url, signal) {
  return request(url, { signal, headers: { Accept: 'application/json' } });
}

// The page's language picks the server voice (espeak-ng) as it picked the phrase's words.
export function speechWavUrl(text, lang = document.documentElement.lang) {
  const voice = lang ? `&lang=${encodeURIComponent(lang)}` : '';
  return `/api/v1/speech.wav?text=${encodeURIComponent(text)}${voice}`;
}

export function postJson(url, body, signal) {
  return request(url, {
    method: 'POST',
    body: JSON.stringify(body),
    signal,
    headers: { Accept: 'application/json', 'Content-Type': 'application/json', ...csrfHeaders() },
  });
}

export function putJson(url, body, signal) {
  return request(url, {
    method: 'PUT',
    body: JSON.stringify(body),
    signal,
    headers: { Accept: 'application/json', 'Content-Type': 'application/json', ...csrfHeaders() },
  });
}

export function deleteJson(url, signal) {
  return request(url, {
    method: 'DELETE',
    signal,
    headers: { Accept: 'application/json', ...csrfHeaders() },
  });
}
