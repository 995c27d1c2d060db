// Texts the page's scripts write, in the page's language. The server puts the translations of the
// messages listed in server/web/requests/language.py SCRIPT_MESSAGES into <script type="application/json"
// id="page-messages"> (data, never run: the Content-Security-Policy is unchanged); English pages carry
// none, and a message without a translation is shown as written.
let messages = null;

function catalog() {
  if (messages === null) {
    try {
      messages = JSON.parse(document.getElementById('page-messages')?.textContent || '{}');
    } catch {
      messages = {};
    }
  }
  return messages;
}

// t('Camera busy') or t('The camera could not be started: %(error)s', { error: 'x' })
export function t(message, values = {}) {
  const text = catalog()[message] ?? message;
  return text.replace(/%\((\w+)\)s/g, (whole, name) => (name in values ? String(values[name]) : whole));
}
