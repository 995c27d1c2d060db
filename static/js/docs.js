// /docs: Swagger UI (static/vendor/swagger-ui-bundle.js, from npm) over /openapi.json.
// A classic deferred script after the bundle, so the global SwaggerUIBundle exists; no inline script (CSP).
(function startDocs() {
  const root = document.getElementById('swagger-ui');
  const error = document.getElementById('docs-error');
  if (typeof window.SwaggerUIBundle !== 'function') {
    error.textContent = 'Swagger UI is missing from static/vendor: run make to install it.';
    error.hidden = false;
    return;
  }
  // "Try it out" calls go out with the session cookie; a change then needs the session's CSRF token.
  const csrfToken = document.querySelector('meta[name="csrf-token"]')?.content;
  window.painscopeDocs = window.SwaggerUIBundle({
    url: root.dataset.specUrl,
    domNode: root,
    deepLinking: true,
    validatorUrl: null, // never ask an outside validator (wards are often offline)
    requestInterceptor: (request) => {
      if (csrfToken && !['GET', 'HEAD', 'OPTIONS'].includes((request.method || 'GET').toUpperCase())) {
        request.headers['X-CSRFToken'] = csrfToken;
      }
      return request;
    },
    onComplete: () => { root.dataset.ready = 'true'; },
  });
}());
