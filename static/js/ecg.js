// ECG uploads on the Upload tab: posts the chosen recording (with the optional resting
// baseline and sampling rate) to /api/v1/analyze/ecg and shows the report. Independent of
// the photo / video analysis: each has its own request, and neither cancels the other.
import { postForm } from './api.js';
import { hideEcg, renderEcg } from './ecg-view.js';
import { hook } from './state.js';

const ECG_URL = '/api/v1/analyze/ecg';
// What a browser reports for CSV / TSV / plain text; some report nothing, hence the extensions too.
const ECG_TYPES = new Set([
  'text/csv', 'text/plain', 'text/tab-separated-values', 'application/csv', 'application/vnd.ms-excel',
]);
const ECG_EXTENSIONS = /\.(csv|tsv|txt)$/i;

const $ = (id) => document.getElementById(id);
const el = {
  input: $('ecg-input'),
  baseline: $('ecg-baseline-input'),
  rate: $('ecg-rate-input'),
  busy: $('ecg-busy'),
  result: $('ecg-result'),
};

let lastEcg = null; // analysed again when the baseline or the sampling rate change
let inFlight = null; // AbortController of the running ECG request
let showError = () => {};

export function isEcgFile(file) {
  return ECG_TYPES.has(file.type) || ECG_EXTENSIONS.test(file.name);
}

function newForm(file) {
  const form = new FormData();
  form.append('file', file);
  const [baseline] = el.baseline.files;
  if (baseline) form.append('baseline', baseline);
  const rate = el.rate.value.trim(); // '' when empty or not a number
  if (rate) form.append('sampling_rate', rate);
  return form;
}

export async function analyseEcg(file) {
  lastEcg = file;
  inFlight?.abort();
  const controller = new AbortController();
  inFlight = controller;
  hideEcg(); // never leave an older report looking like the answer to this one
  showError('');
  el.busy.hidden = false;
  let report = null;
  try {
    report = await postForm(ECG_URL, newForm(file), controller.signal);
  } catch (error) {
    if (error.name !== 'AbortError') showError(error.message);
  } finally {
    if (inFlight === controller) {
      inFlight = null;
      el.busy.hidden = true;
    }
  }
  if (!report) return;
  hook.lastEcgResult = report;
  renderEcg(report);
  el.result.scrollIntoView({ block: 'start' });
}

// With the fusion estimator the chosen ECG travels with the next photo or video, whose
// response then carries the same report under `ecg` (see upload.js).
export function appendEcgFields(form) {
  if (!lastEcg) return;
  form.append('ecg', lastEcg);
  const [baseline] = el.baseline.files;
  if (baseline) form.append('ecg_baseline', baseline);
  const rate = el.rate.value.trim();
  if (rate) form.append('ecg_sampling_rate', rate);
}

function reanalyse() {
  if (lastEcg) analyseEcg(lastEcg);
}

// reportError(message): shows (or, given '', clears) the Upload tab's error line.
export function setupEcg({ reportError }) {
  showError = reportError;
  el.input.addEventListener('change', () => {
    const [file] = el.input.files;
    if (file) analyseEcg(file);
  });
  el.baseline.addEventListener('change', reanalyse);
  el.rate.addEventListener('change', reanalyse);
}
