// The patient page's clinical scales: "Assess with PAINAD / CPOT / FLACC" opens a form built from
// GET /api/v1/scales; "Pre-fill from the camera" posts a video or photo to
// /api/v1/scales/<scale>/prefill (a video's is a job, with a progress bar and Cancel: jobs.js) and
// ticks what the camera saw (with its evidence); the clinician
// completes and corrects every item and saves (POST /api/v1/patients/<id>/scale-assessments).
// "Record from the camera" records CAPTURE_SECONDS of webcam video (MediaRecorder, WebM) and pre-fills from it.
// A kept camera value is saved as source "camera", anything the clinician chose as "clinician".
import { getJson, postForm, postJson } from './api.js';
import { closeCamera, openCamera } from './camera.js';
import { cancelJob, followJob, showProgress } from './jobs.js';
import { t } from './i18n.js';

// 12 s: the respiration rate needs a 10 s window (server/vitals/respiration.py MIN_WINDOW_S), and the
// camera's first moments (exposure settling) are worth a margin; scales observe for a few minutes at most.
const CAPTURE_SECONDS = 12;
const RECORDING_TYPE = 'video/webm';

const $ = (id) => document.getElementById(id);
const patientId = document.body.dataset.patientId;
let scales = null; // key -> scale, loaded once
let current = null; // the scale being filled in
let camera = {}; // item -> { value, evidence } pre-filled by the camera
let prefillJob = null; // a video's pre-fill while it runs (a job, with a progress bar and Cancel)

async function loadScales() {
  if (!scales) {
    const body = await getJson('/api/v1/scales');
    scales = Object.fromEntries(body.scales.map((scale) => [scale.key, scale]));
  }
  return scales;
}

function itemFieldset(item) {
  const fieldset = document.createElement('fieldset');
  fieldset.className = 'scale-item';
  fieldset.dataset.item = item.key;
  const legend = document.createElement('legend');
  legend.textContent = item.name;
  fieldset.append(legend);
  for (const option of item.options) {
    const label = document.createElement('label');
    const input = document.createElement('input');
    input.type = 'radio';
    input.name = `scale-${item.key}`;
    input.value = String(option.score);
    input.id = `scale-${item.key}-${option.score}`;
    label.append(input, ` ${option.score} – ${option.label}`);
    fieldset.append(label);
  }
  const evidence = document.createElement('p');
  evidence.className = 'scale-evidence';
  evidence.id = `scale-evidence-${item.key}`;
  evidence.textContent = item.evidence ? t('The camera can pre-fill this.') : t('Only you can judge this.');
  fieldset.append(evidence);
  return fieldset;
}

function chosen() {
  const values = {};
  for (const item of current.items) {
    const input = document.querySelector(`input[name="scale-${item.key}"]:checked`);
    values[item.key] = input ? Number(input.value) : null;
  }
  return values;
}

function showTotal() {
  const values = Object.values(chosen());
  const complete = values.every((v) => v !== null);
  $('scale-save').disabled = !complete;
  if (!complete) {
    const left = values.filter((v) => v === null).length;
    $('scale-total').textContent = t('Total: not final; items still to score: %(left)s.', { left });
    return;
  }
  const total = values.reduce((sum, v) => sum + v, 0);
  const band = current.bands.find((b) => b.low <= total && total <= b.high);
  $('scale-total').textContent = t('Total: %(total)s/%(most)s – %(band)s', { total, most: current.max_total, band: band.label });
}

async function openForm(key) {
  const all = await loadScales();
  current = all[key];
  camera = {};
  $('scale-form-title').textContent = `${current.name}: ${current.title}`;
  $('scale-form-source').textContent = t('For %(population)s. %(source)s. Bands: %(bands)s.',
    { population: current.population, source: current.source, bands: current.bands_source });
  $('scale-items').replaceChildren(...current.items.map(itemFieldset));
  $('scale-prefill-status').textContent = '';
  $('scale-error').hidden = true;
  $('scale-form').hidden = false;
  showTotal();
  $('scale-form-title').scrollIntoView({ block: 'start' });
}

async function prefillWith(media, field, name) {
  const status = $('scale-prefill-status');
  const form = new FormData();
  form.append(field, media, name);
  status.textContent = field === 'video' ? t('Uploading the video…') : t('Analysing…');
  $('scale-prefill').disabled = true;
  $('scale-record').disabled = true;
  try {
    let body = await postForm(`/api/v1/scales/${current.key}/prefill`, form);
    if (body.state) { // a video: a job, followed until it ends
      status.textContent = '';
      body = await followPrefill(body);
      if (!body) return;
    }
    camera = {};
    let filled = 0;
    for (const [key, item] of Object.entries(body.items)) {
      const note = $(`scale-evidence-${key}`);
      if (item.value === null) {
        if (item.evidence) note.textContent = t('Camera: %(evidence)s (not scored).', { evidence: item.evidence });
        continue;
      }
      camera[key] = item;
      filled += 1;
      $(`scale-${key}-${item.value}`).checked = true;
      note.textContent = t('Camera: %(evidence)s. Change it if you see otherwise.', { evidence: item.evidence });
    }
    status.textContent = t('The camera pre-filled %(filled)s of %(items)s items; score the rest.',
      { filled, items: current.items.length });
  } catch (error) {
    status.textContent = t('Could not pre-fill: %(error)s', { error: error.message });
  } finally {
    $('scale-prefill').disabled = false;
    $('scale-record').disabled = false;
    showTotal();
  }
}

// The pre-fill job's bar until it ends: its result, or null (cancelled or failed: said in the status).
async function followPrefill(job) {
  prefillJob = job;
  $('scale-job').hidden = false;
  $('scale-job-cancel').disabled = false;
  const ended = await followJob(job, (update) => showProgress($('scale-job-bar'), $('scale-job-text'), update));
  prefillJob = null;
  $('scale-job').hidden = true;
  const status = $('scale-prefill-status');
  if (ended.state === 'cancelled') {
    status.textContent = t('Pre-fill cancelled.');
    return null;
  }
  if (ended.state === 'failed') {
    status.textContent = t('Could not pre-fill: %(error)s',
      { error: ended.error?.message ?? t('the video could not be analysed.') });
    return null;
  }
  return ended.result;
}

function cancelPrefill() {
  if (prefillJob) {
    $('scale-job-cancel').disabled = true;
    cancelJob(prefillJob.id).catch((error) => { $('scale-prefill-status').textContent = error.message; });
  }
}

function prefillFromFile() {
  const file = $('scale-media').files[0];
  if (!file) {
    $('scale-prefill-status').textContent = t('Choose a short video (or a photo) of the patient first.');
    return;
  }
  prefillWith(file, file.type.startsWith('image/') ? 'image' : 'video', file.name);
}

function wait(ms) {
  return new Promise((resolve) => { setTimeout(resolve, ms); });
}

async function recordFromCamera() {
  const status = $('scale-prefill-status');
  const video = $('scale-camera');
  if (!window.MediaRecorder || !MediaRecorder.isTypeSupported(RECORDING_TYPE)) {
    status.textContent = t('This browser cannot record video; upload a clip instead.');
    return;
  }
  let stream;
  try {
    stream = await openCamera(video);
  } catch (error) {
    status.textContent = error.message;
    return;
  }
  video.hidden = false;
  $('scale-record').disabled = true;
  const chunks = [];
  const recorder = new MediaRecorder(stream, { mimeType: RECORDING_TYPE });
  recorder.addEventListener('dataavailable', (event) => chunks.push(event.data));
  const stopped = new Promise((resolve) => { recorder.addEventListener('stop', resolve); });
  recorder.start();
  for (let left = CAPTURE_SECONDS; left > 0; left -= 1) {
    status.textContent = t('Recording… %(left)s s', { left });
    await wait(1000);
  }
  recorder.stop();
  await stopped;
  closeCamera(video, stream);
  video.hidden = true;
  await prefillWith(new Blob(chunks, { type: RECORDING_TYPE }), 'video', 'capture.webm');
}

async function save(event) {
  event.preventDefault();
  const items = {};
  for (const [key, value] of Object.entries(chosen())) {
    const kept = camera[key] && camera[key].value === value;
    items[key] = kept ? { value, source: 'camera', evidence: camera[key].evidence } : { value, source: 'clinician' };
  }
  $('scale-save').disabled = true;
  try {
    await postJson(`/api/v1/patients/${encodeURIComponent(patientId)}/scale-assessments`,
      { scale: current.key, items, context: $('scale-context').value });
    window.location.reload(); // the table, the chart and the reassessment flag come from the server
  } catch (error) {
    $('scale-error').textContent = error.message;
    $('scale-error').hidden = false;
    showTotal();
  }
}

export function initScaleForm() {
  for (const button of document.querySelectorAll('.scale-start')) {
    button.addEventListener('click', () => openForm(button.dataset.scale).catch((error) => {
      $('scale-error').textContent = error.message;
      $('scale-error').hidden = false;
    }));
  }
  $('scale-items').addEventListener('change', showTotal);
  $('scale-prefill').addEventListener('click', prefillFromFile);
  $('scale-record').addEventListener('click', recordFromCamera);
  $('scale-job-cancel').addEventListener('click', cancelPrefill);
  $('scale-form').addEventListener('submit', save);
  $('scale-cancel').addEventListener('click', () => { $('scale-form').hidden = true; });
}
