// The estimator picker shared by both tabs. It is filled from GET /health: every
// estimator is listed, the unavailable ones disabled with the server's reason as
// their title. Uploads read it when they are sent, the live camera at each Start.
import { getJson } from './api.js';
import { t } from './i18n.js';

const HEALTH_URL = '/health';

const select = document.getElementById('estimator-select');

function optionFor(status) {
  const option = document.createElement('option');
  option.value = status.name;
  option.disabled = !status.available;
  option.title = status.detail ?? '';
  const model = status.model ? ` (${status.model})` : '';
  option.textContent = status.available ? `${status.name}${model}` : `${status.name} – not available`;
  return option;
}

// The selected option's reason stays readable on the closed control too.
function describeSelection() {
  select.title = select.selectedOptions[0]?.title ?? '';
}

// The chosen estimator's name, or null to let the server use its default
// (before /health has answered, or when it could not be read).
export function chosenEstimator() {
  return select.value || null;
}

export function onEstimatorChange(callback) {
  select.addEventListener('change', () => callback(chosenEstimator()));
}

export async function setupEstimatorPicker() {
  select.addEventListener('change', describeSelection);
  let health;
  try {
    health = await getJson(HEALTH_URL);
  } catch {
    select.title = t('The list of estimators could not be read; the server’s default is used.');
    return;
  }
  const statuses = Array.isArray(health?.estimators) ? health.estimators : [];
  const available = statuses.filter((status) => status.available).map((status) => status.name);
  if (available.length === 0) return; // keep "server default": nothing here could be chosen
  select.replaceChildren(...statuses.map(optionFor));
  select.value = available.includes(health.default_estimator) ? health.default_estimator : available[0];
  select.disabled = false;
  describeSelection();
}
