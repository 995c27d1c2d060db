// DOM side of the Live tab: buttons, status, readings, overlay, pulse strip and chart.
import { renderAuBars } from './aubars.js';
import { DASH, fixed } from './format.js';
import { levelOf, showLevel } from './levels.js';
import { clearOverlay, drawOverlay } from './overlay.js';
import { clearPulse, drawPulse } from './pulse.js';
import { LiveTimeline } from './timeline.js';
import { liveQualityText, qualityOf } from './vitals.js';

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
  pspi: $('live-pspi'),
  hr: $('live-hr'),
  hrQuality: $('live-hr-quality'),
  pulse: $('live-pulse'),
  baseline: $('live-baseline'),
  fps: $('live-fps'),
  rtt: $('live-rtt'),
  rttMedian: $('live-rtt-p50'),
  auBars: $('live-au-bars'),
};
const timeline = new LiveTimeline($('live-chart'));

// Only a frame's own error is cleared by the next good frame; others stay until the next action.
let errorFromFrame = false;

export function setStatus(text) {
  el.status.textContent = text;
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
  for (const field of [el.pspi, el.hr, el.baseline, el.fps, el.rtt, el.rttMedian]) field.textContent = DASH;
  renderAuBars(el.auBars, null);
  showVitals(null);
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

export function showResult(result, frameSize, tS) {
  const level = levelOf(result);
  if (errorFromFrame) showError('');
  showLevel(el.level, level);
  el.pspi.textContent = fixed(result.pain?.pspi);
  showVitals(result.vitals);
  if (result.pain?.baseline) el.baseline.textContent = result.pain.baseline;
  renderAuBars(el.auBars, result.pain?.action_units);
  drawOverlay(el.overlay, el.video, result, frameSize);
  timeline.push(tS, result.pain?.pspi ?? null, result.pain?.level ?? null);
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
