// DOM side of the Live tab: buttons, status, readings, overlay, pulse strip and chart.
import { renderAuBars, renderAuNote, renderContext } from './aubars.js';
import { DASH, fixed } from './format.js';
import { levelOf, showLevel } from './levels.js';
import { clearOverlay, drawOverlay } from './overlay.js';
import { baselineText, GATHERING_TEXT, isGathering, showLabel } from './pain.js';
import { renderParts } from './parts.js';
import { clearPulse, drawPulse } from './pulse.js';
import { LiveTimeline } from './timeline.js';
import { liveQualityText, qualityOf } from './vitals.js';
import { t } from './i18n.js';

const $ = (id) => document.getElementById(id);
export const el = {
  video: $('live-video'),
  overlay: $('live-overlay'),
  start: $('live-start'),
  stop: $('live-stop'),
  calibrate: $('live-calibrate'),
  status: $('live-status'),
  error: $('live-error'),
  level: $('live-level'),
  label: $('live-label'),
  pspi: $('live-pspi'),
  hr: $('live-hr'),
  hrQuality: $('live-hr-quality'),
  pulse: $('live-pulse'),
  baseline: $('live-baseline'),
  estimator: $('live-estimator'),
  parts: $('live-parts'),
  fps: $('live-fps'),
  rtt: $('live-rtt'),
  rttMedian: $('live-rtt-p50'),
  auBars: $('live-au-bars'),
  auNote: $('live-au-note'),
  context: $('live-context'),
  bodyToggle: $('live-body-toggle'),
  bodyReading: $('live-body-reading'),
  body: $('live-body'),
};
const STREAMING = t('Streaming');
const timeline = new LiveTimeline($('live-chart'));

// Only a frame's own error is cleared by the next good frame; others stay until the next action.
let errorFromFrame = false;

// Unchanged text is not rewritten, so the status region does not re-announce it every frame.
export function setStatus(text) {
  if (el.status.textContent !== text) el.status.textContent = text;
}

export function setStreaming() {
  setStatus(STREAMING);
}

export function showError(message, { fromFrame = false } = {}) {
  el.error.textContent = message;
  el.error.hidden = !message;
  errorFromFrame = fromFrame && Boolean(message);
}

// phase: 'off' | 'starting' | 'streaming' | 'paused' (connection lost, camera still on)
export function setPhase(phase) {
  el.start.disabled = phase !== 'off';
  el.stop.disabled = phase === 'off';
  el.calibrate.disabled = phase !== 'streaming';
}

export function resetReadings() {
  el.level.textContent = DASH;
  el.level.dataset.level = '';
  for (const field of [el.pspi, el.hr, el.baseline, el.estimator, el.fps, el.rtt, el.rttMedian]) field.textContent = DASH;
  el.estimator.removeAttribute('title');
  showLabel(el.label, null);
  renderParts(el.parts, null);
  renderAuBars(el.auBars, null);
  renderAuNote(el.auNote, null);
  renderContext(el.context, null);
  showVitals(null);
  showBody(null);
  clearOverlay(el.overlay);
  timeline.reset();
}

// vitals null = no face: dashes and an empty strip. data-quality on the number, the
// quality text and the strip lets app.css grey out a low-quality reading.
function showVitals(vitals) {
  const quality = qualityOf(vitals);
  el.hr.textContent = fixed(vitals?.heart_rate_bpm, 0);
  el.hrQuality.textContent = liveQualityText(vitals);
  for (const element of [el.hr, el.hrQuality, el.pulse]) element.dataset.quality = quality;
  const waveform = vitals?.waveform;
  if (Array.isArray(waveform) && waveform.length > 1) drawPulse(el.pulse, waveform, vitals.waveform_hz);
  else clearPulse(el.pulse);
}

// The estimator the running session uses (from the `start` reply, then from each estimate).
export function showEstimator(name, model = null) {
  if (!name) return;
  el.estimator.textContent = name;
  if (model) el.estimator.title = `model ${model}`;
  else el.estimator.removeAttribute('title');
}

// pain null with a face: the estimator is still gathering frames (the lstm fills a
// window of several seconds first), which is not the same as "no face".
export function showResult(result, frameSize, tS) {
  const { pain } = result;
  const gathering = isGathering(result);
  if (errorFromFrame) showError('');
  setStatus(gathering ? GATHERING_TEXT : STREAMING);
  showLevel(el.level, levelOf(result), gathering ? t('gathering…') : undefined);
  showLabel(el.label, pain);
  el.pspi.textContent = fixed(pain?.pspi);
  showVitals(result.vitals);
  if (pain) {
    el.baseline.textContent = baselineText(pain);
    showEstimator(pain.estimator, pain.model);
  }
  renderParts(el.parts, pain?.parts);
  showBody(result.body);
  renderAuBars(el.auBars, pain?.action_units, pain?.action_unit_sources);
  renderAuNote(el.auNote, pain);
  renderContext(el.context, pain);
  drawOverlay(el.overlay, el.video, result, frameSize);
  timeline.push(tS, pain?.pspi ?? null, pain?.level ?? null);
}

// Whether the clinician asked for the body-movement index (sent with the next `start`).
export function bodyWanted() {
  return el.bodyToggle.checked;
}

// body: the ack's `body` ({movement_index: {part: number|null}, person_found}), or null when not measured.
function showBody(body) {
  el.bodyReading.hidden = !body;
  if (!body) return;
  let text;
  if (!body.person_found) text = 'no person seen';
  else {
    text = Object.entries(body.movement_index ?? {})
      .map(([part, index]) => `${part} ${Number.isFinite(index) ? index.toFixed(2) : DASH}`)
      .join(' · ');
  }
  if (el.body.textContent !== text) el.body.textContent = text;
}

export function showBaseline(baseline) {
  el.baseline.textContent = baseline;
}

export function showStats(fps, lastRtt, medianRtt) {
  el.fps.textContent = fixed(fps);
  el.rtt.textContent = fixed(lastRtt, 0);
  el.rttMedian.textContent = fixed(medianRtt, 0);
}

export function clearPicture() {
  clearOverlay(el.overlay);
}
