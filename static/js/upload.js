// Upload tab: picks or drops a photo / video, posts it with the chosen estimator, shows the
// result and speaks it once. Body parts (body.js) and ECG files (ecg.js) run beside it.
import { postForm } from './api.js';
import { cancelJob, followJob, showProgress } from './jobs.js';
import { analyseBody, setupBody } from './body.js';
import { analyseEcg, appendEcgFields, isEcgFile, setupEcg } from './ecg.js';
import { renderEcg } from './ecg-view.js';
import { chosenEstimator, onEstimatorChange } from './estimators.js';
import { chosenPatient, chosenPatientLabel, showUploadRecord } from './patients.js';
import { speak } from './speech.js';
import { hook } from './state.js';
import { hideResult, showImageResult, showVideoResult } from './upload-view.js';
import { t } from './i18n.js';

const IMAGE_URL = '/api/v1/analyze/image?overlay=1';
const VIDEO_URL = '/api/v1/analyze/video';

const $ = (id) => document.getElementById(id);
const el = {
  panel: $('panel-upload'),
  dropZone: $('drop-zone'),
  image: $('image-input'),
  reference: $('reference-input'),
  referenceSummary: $('reference-summary'),
  video: $('video-input'),
  busy: $('upload-busy'),
  busyText: $('upload-busy-text'),
  error: $('upload-error'),
  job: $('upload-job'),
  jobTitle: $('upload-job-title'),
  jobBar: $('upload-job-bar'),
  jobText: $('upload-job-text'),
  jobCancel: $('upload-job-cancel'),
};

let lastImage = null; // re-analysed when the neutral references or the estimator change
let inFlight = null; // AbortController of the running request; a newer pick replaces it
let videoJob = null; // the video being analysed (a job: the tab stays usable meanwhile); a newer video replaces it

function showError(message) {
  el.error.textContent = message;
  el.error.hidden = !message;
}

// No estimator field when the picker has none: the server then uses its default.
function newForm() {
  const form = new FormData();
  const estimator = chosenEstimator();
  if (estimator) form.append('estimator', estimator);
  if (estimator === 'fusion') appendEcgFields(form); // the heart rate joins the face
  const patient = chosenPatient();
  if (patient) form.append('patient_id', patient); // saved to the patient's record
  return form;
}

function setBusy(text) {
  el.busyText.textContent = text ?? '';
  el.busy.hidden = !text;
}

// Posts one analysis; returns the JSON body, or null when it failed (error shown) or was superseded.
async function submit(url, form, busyText) {
  inFlight?.abort();
  const controller = new AbortController();
  inFlight = controller;
  hideResult(); // never leave an older result looking like the answer to this one
  showUploadRecord(null);
  showError('');
  setBusy(busyText);
  try {
    return await postForm(url, form, controller.signal);
  } catch (error) {
    if (error.name !== 'AbortError') showError(error.message);
    return null;
  } finally {
    if (inFlight === controller) {
      inFlight = null;
      setBusy(null);
    }
  }
}

async function analyseImage(file) {
  lastImage = file;
  const form = newForm();
  const patient = chosenPatientLabel();
  form.append('image', file);
  for (const reference of el.reference.files) form.append('reference', reference);
  const result = await submit(IMAGE_URL, form, t('Analysing photo…'));
  if (!result) return;
  hook.lastUploadResult = result;
  showImageResult(result);
  showUploadRecord(result.record, patient);
  if (result.ecg) renderEcg(result.ecg);
  speak(result.speech?.text);
}

function showJob(job, title) {
  el.job.hidden = false;
  el.jobTitle.textContent = title;
  el.jobCancel.disabled = !job;
  if (job) showProgress(el.jobBar, el.jobText, job);
  else el.jobBar.removeAttribute('value'); // an indeterminate bar while the file uploads
}

// The video goes up, becomes a job, and its bar moves until it ends; photos can be analysed meanwhile.
async function analyseVideo(file) {
  lastImage = null;
  const form = newForm();
  const patient = chosenPatientLabel();
  form.append('video', file);
  if (videoJob) cancelJob(videoJob.id).catch(() => {}); // the newer video replaces it
  const mine = {};
  videoJob = mine;
  showError('');
  showJob(null, t('Uploading %(file)s…', { file: file.name }));
  let job;
  try {
    job = await postForm(VIDEO_URL, form);
  } catch (error) {
    if (videoJob === mine) {
      videoJob = null;
      el.job.hidden = true;
      showError(error.message);
    }
    return;
  }
  if (videoJob !== mine) { // replaced while uploading
    cancelJob(job.id).catch(() => {});
    return;
  }
  videoJob = job;
  const ended = await followJob(job, (update) => {
    if (videoJob === job) showJob(update, t('Analysing %(file)s', { file: file.name }));
  });
  if (videoJob !== job) return;
  videoJob = null;
  if (ended.state === 'cancelled') {
    el.jobTitle.textContent = t('Cancelled');
    el.jobText.textContent = t('The analysis of %(file)s was cancelled.', { file: file.name });
    el.jobCancel.disabled = true;
    return;
  }
  el.job.hidden = true;
  if (ended.state === 'failed') {
    showError(ended.error?.message ?? t('The video could not be analysed.'));
    return;
  }
  const analysis = ended.result;
  hideResult();
  hook.lastUploadResult = analysis;
  showVideoResult(analysis);
  showUploadRecord(analysis.record, patient);
  if (analysis.ecg) renderEcg(analysis.ecg);
  speak(analysis.speech?.text);
}

function cancelVideo() {
  if (videoJob?.id) {
    cancelJob(videoJob.id).catch((error) => showError(error.message));
  }
}

// A new photo or video (not a re-analysis): the body parts follow it when asked for.
function pickImage(file) {
  analyseImage(file);
  analyseBody('image', file);
}

function pickVideo(file) {
  analyseVideo(file);
  analyseBody('video', file);
}

function analyseFile(file) {
  if (file.type.startsWith('image/')) pickImage(file);
  else if (file.type.startsWith('video/')) pickVideo(file);
  else if (isEcgFile(file)) analyseEcg(file);
  else showError(`“${file.name}” is neither a photo, a video nor an ECG file.`);
}

function onReferencesChanged() {
  const count = el.reference.files.length;
  el.referenceSummary.textContent = count ? `${count} neutral photo${count === 1 ? '' : 's'} selected.` : '';
  if (lastImage) analyseImage(lastImage);
}

// The photo on screen is assessed again with the new estimator; a video (slow) is not,
// nor is a photo while the Live tab is in front (its result would be spoken unseen).
function onEstimatorChanged() {
  if (lastImage && !el.panel.hidden) analyseImage(lastImage);
}

function setupDropZone() {
  const zone = el.dropZone;
  zone.addEventListener('dragover', (event) => {
    event.preventDefault(); // required to allow a drop
    zone.classList.add('dragging');
  });
  zone.addEventListener('dragleave', (event) => {
    if (!zone.contains(event.relatedTarget)) zone.classList.remove('dragging');
  });
  zone.addEventListener('drop', (event) => {
    event.preventDefault();
    zone.classList.remove('dragging');
    const [file] = event.dataTransfer.files;
    if (file) analyseFile(file);
  });
  // A file dropped next to the zone would otherwise make the browser leave the app to open it.
  for (const type of ['dragover', 'drop']) {
    window.addEventListener(type, (event) => event.preventDefault());
  }
}

export function setupUpload() {
  setupDropZone();
  el.image.addEventListener('change', () => {
    const [file] = el.image.files;
    if (file) pickImage(file);
  });
  el.video.addEventListener('change', () => {
    const [file] = el.video.files;
    if (file) pickVideo(file);
  });
  el.reference.addEventListener('change', onReferencesChanged);
  el.jobCancel.addEventListener('click', cancelVideo);
  onEstimatorChange(onEstimatorChanged);
  setupBody();
  setupEcg({ reportError: showError });
}
