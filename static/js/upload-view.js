// Renders upload results (a photo's Result, or a video's timeline, peak frame and heart rate).
import { contextText, renderAuBars, renderAuNote, renderContext } from './aubars.js';
import { config } from './config.js';
import { fixed, percent } from './format.js';
import { HeartRateChart } from './hrchart.js';
import { t } from './i18n.js';
import { levelLabel, levelOf, showLevel } from './levels.js';
import { calibrationText, estimatorText, showLabel } from './pain.js';
import { renderParts } from './parts.js';
import { VideoTimeline } from './timeline.js';
import { hasHeartRate, qualityOf, videoHeartRateText } from './vitals.js';

const $ = (id) => document.getElementById(id);
const el = {
  result: $('upload-result'),
  frame: $('frame-result'),
  image: $('overlay-image'),
  caption: $('overlay-caption'),
  level: $('result-level'),
  label: $('result-label'),
  pspi: $('result-pspi'),
  confidence: $('result-confidence'),
  estimator: $('result-estimator'),
  calibrated: $('result-calibrated'),
  parts: $('result-parts'),
  faceNote: $('result-face-note'),
  auBars: $('au-bars'),
  auNote: $('au-note'),
  context: $('result-context'),
  peakMissing: $('peak-missing'),
  speech: $('result-speech'),
  video: $('video-result'),
  summary: $('video-summary'),
  vitals: $('video-vitals'),
  hr: $('video-hr'),
  hrTrend: $('video-hr-trend'),
};
const videoTimeline = new VideoTimeline($('video-chart'));
const heartRateChart = new HeartRateChart($('video-hr-chart'));

function faceNote(face) {
  if (!face?.found) return t('No face found. Use a clear, well-lit picture with the face towards the camera.');
  if (face.count > 1) return `${face.count} faces in the picture; the outlined face was assessed.`;
  return '';
}

function renderFrame(result, caption) {
  const { pain } = result;
  showLevel(el.level, levelOf(result));
  showLabel(el.label, pain);
  el.pspi.textContent = fixed(pain?.pspi);
  el.confidence.textContent = percent(pain?.confidence);
  el.estimator.textContent = estimatorText(pain);
  el.calibrated.textContent = calibrationText(pain);
  renderParts(el.parts, pain?.parts);
  renderAuBars(el.auBars, pain?.action_units, pain?.action_unit_sources);
  renderAuNote(el.auNote, pain);
  renderContext(el.context, pain);
  const note = faceNote(result.face);
  el.faceNote.textContent = note;
  el.faceNote.hidden = !note;
  if (result.overlay_png) el.image.src = result.overlay_png;
  else el.image.removeAttribute('src');
  el.image.closest('figure').hidden = !result.overlay_png;
  el.caption.textContent = caption;
}

// The server's order: the higher level, then the higher PSPI (when the estimator gives one), then the later frame.
function atLeastAsSevere(point, other) {
  const byLevel = config.levels.indexOf(point.level) - config.levels.indexOf(other.level);
  return byLevel === 0 ? (point.pspi ?? 0) >= (other.pspi ?? 0) : byLevel > 0;
}

function peakCaption(timeline) {
  const assessed = timeline.filter((point) => point.level);
  const peak = assessed.reduce((best, point) => (best === null || atLeastAsSevere(point, best) ? point : best), null);
  return peak ? t('Most painful frame, at %(time)s s', { time: fixed(peak.t_s) }) : t('Most painful frame');
}

function paragraph(text) {
  const p = document.createElement('p');
  p.textContent = text;
  return p;
}

// A sequence model grades frames by level only: then there is no PSPI to sum up.
function pspiSummary(summary) {
  const graded = Object.values(summary.seconds_by_level ?? {}).some((seconds) => seconds > 0);
  if (!Number.isFinite(summary.max_pspi) && graded) return t('No PSPI: this estimator reports a level, not a PSPI.');
  return t('Maximum PSPI %(max)s, mean %(mean)s.', { max: fixed(summary.max_pspi), mean: fixed(summary.mean_pspi) });
}

function renderSummary(summary) {
  const byLevel = config.levels
    .map((level) => `${levelLabel(level)} ${fixed(summary.seconds_by_level?.[level])} s`)
    .join(', ');
  const held = { level: summary.level && levelLabel(summary.level), time: fixed(summary.sustain_s) };
  let verdict = t('Verdict: no face to judge.');
  if (summary.level && Number.isFinite(summary.sustained_pspi)) {
    verdict = t('Verdict: %(level)s (the highest level held for %(time)s s, PSPI %(pspi)s).',
      { ...held, pspi: fixed(summary.sustained_pspi) });
  } else if (summary.level) {
    verdict = t('Verdict: %(level)s (the highest level held for %(time)s s).', held);
  }
  const seen = summary.context?.length ? paragraph(contextText({ context: summary.context })) : null;
  el.summary.replaceChildren(
    paragraph(verdict),
    ...(seen ? [seen] : []),
    paragraph(pspiSummary(summary)),
    paragraph(t('Time in each level: %(levels)s.', { levels: byLevel })),
    paragraph(t('%(seconds)s s of video, %(frames)s frames analysed.',
      { seconds: fixed(summary.duration_s), frames: summary.frames_analysed })),
  );
}

// A server without heart-rate support sends no `vitals` key: say nothing rather than "not measurable".
// The chart appears only when some window was measured; an all-gap chart would say nothing.
function renderVitals(vitals) {
  el.vitals.hidden = vitals === undefined;
  if (vitals === undefined) return;
  el.hr.textContent = videoHeartRateText(vitals);
  el.hr.dataset.quality = qualityOf(vitals);
  const series = vitals?.series ?? [];
  const measured = series.some(hasHeartRate);
  el.hrTrend.hidden = !measured;
  if (measured) heartRateChart.show(series); // after un-hiding, so the chart can measure its box
}

// Shows the result area and scrolls it into view: at 1280x800 it starts below the fold.
function reveal() {
  el.result.hidden = false;
  el.result.scrollIntoView({ block: 'start' });
}

export function hideResult() {
  el.result.hidden = true;
}

export function showImageResult(result) {
  renderFrame(result, t('Analysed photo'));
  el.speech.textContent = result.speech?.text ?? '';
  el.frame.hidden = false;
  el.peakMissing.hidden = true;
  el.video.hidden = true;
  reveal();
}

export function showVideoResult(analysis) {
  const { timeline, summary, peak } = analysis;
  if (peak) renderFrame(peak, peakCaption(timeline));
  el.speech.textContent = analysis.speech?.text ?? '';
  el.frame.hidden = !peak;
  el.peakMissing.hidden = Boolean(peak);
  el.video.hidden = false;
  reveal();
  videoTimeline.show(timeline); // after un-hiding, so the chart can measure its box
  renderSummary(summary);
  renderVitals(analysis.vitals);
}
