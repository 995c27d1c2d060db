// Renders body-part results: a photo's overlay and parts (POST /api/v1/analyze/body) and a
// video's movement per part (POST /api/v1/analyze/body/video). Colours come from app.css
// (--body-head, ...), which match server/vision/body.py CLASS_COLOURS.
import { fixed, percent } from './format.js';
import { t } from './i18n.js';

export const PARTS = ['head', 'arm', 'torso', 'leg'];

// Methods the server may name in `method`; anything else is shown as sent.
const METHOD_TEXT = {
  pose: t('pose landmarks and person segmentation (MediaPipe Pose)'),
};
// The parts' names in the page's language (the keys stay: colours and data-part use them).
const PART_TEXT = { head: t('head'), arm: t('arm'), torso: t('torso'), leg: t('leg') };

function partText(part) {
  return PART_TEXT[part] ?? part;
}

const $ = (id) => document.getElementById(id);
const el = {
  result: $('body-result'),
  busy: $('body-busy'),
  busyText: $('body-busy-text'),
  error: $('body-error'),
  method: $('body-method'),
  legend: $('body-legend'),
  photo: $('body-photo'),
  image: $('body-overlay-image'),
  none: $('body-none'),
  parts: $('body-parts'),
  video: $('body-video'),
  videoSummary: $('body-video-summary'),
  movement: $('body-movement'),
  track: $('body-track'),
  trackCanvas: $('body-track-chart'),
};
let trackChart = null;

export function partColour(part) {
  return getComputedStyle(document.documentElement).getPropertyValue(`--body-${part}`).trim() || '#5f6b7a';
}

// Known parts first, in head-to-leg order, then anything else the server names.
function orderedParts(names) {
  return [...PARTS.filter((part) => names.includes(part)), ...names.filter((name) => !PARTS.includes(name))];
}

function cell(tag, text) {
  const element = document.createElement(tag);
  element.textContent = text;
  return element;
}

// A row header with the part's colour swatch (decorative: the name is the text).
function partHeader(part) {
  const header = cell('th', '');
  header.scope = 'row';
  const swatch = document.createElement('span');
  swatch.className = 'swatch';
  swatch.dataset.part = part;
  swatch.setAttribute('aria-hidden', 'true');
  header.append(swatch, partText(part));
  return header;
}

function showMethod(method) {
  el.method.textContent = method ? t('Method: %(method)s.', { method: METHOD_TEXT[method] ?? method }) : '';
  el.method.hidden = !method;
}

export function hideBody() {
  el.result.hidden = true;
}

// Shows the card with only a busy line: the previous result is never left looking like this one's.
export function startBody(busyText) {
  el.result.hidden = false;
  el.busyText.textContent = busyText;
  el.busy.hidden = false;
  el.error.hidden = true;
  for (const part of [el.method, el.legend, el.photo, el.video]) part.hidden = true;
}

export function stopBodyBusy() {
  el.busy.hidden = true;
}

export function showBodyError(message) {
  el.result.hidden = false;
  el.error.textContent = message;
  el.error.hidden = !message;
}

function boxText(box) {
  if (!Array.isArray(box) || box.length !== 4) return '–';
  const [x, y, w, h] = box;
  return `${x}, ${y}, ${w} × ${h} px`;
}

// result: the /api/v1/analyze/body JSON.
export function renderBodyImage(result) {
  showMethod(result.method);
  const parts = result.parts ?? {};
  const names = orderedParts(Object.keys(parts));
  const found = Boolean(result.person_found) && names.length > 0;
  if (result.overlay_png) el.image.src = result.overlay_png;
  else el.image.removeAttribute('src');
  el.image.closest('figure').hidden = !result.overlay_png;
  el.none.hidden = found;
  el.parts.hidden = !found;
  const total = names.reduce((sum, name) => sum + (parts[name].area_px ?? 0), 0);
  el.parts.tBodies[0].replaceChildren(...names.map((name) => {
    const row = document.createElement('tr');
    const share = total > 0 ? percent((parts[name].area_px ?? 0) / total) : '–';
    row.append(partHeader(name), cell('td', share), cell('td', boxText(parts[name].box)));
    return row;
  }));
  el.legend.hidden = !found;
  el.video.hidden = true;
  el.photo.hidden = false;
}

function movementText(index, framesSeen) {
  if (Number.isFinite(index)) return fixed(index, 3);
  if (framesSeen === 1) return t('not measured: seen in %(frames)s frame', { frames: framesSeen });
  if (framesSeen < 2) return t('not measured: seen in %(frames)s frames', { frames: framesSeen });
  return t('not measured: never seen in two frames in a row'); // the server's speeds need consecutive frames
}

function videoSummary(report) {
  const frames = report.frames_analysed ?? 0;
  const details = [];
  if (Number.isFinite(report.sample_fps)) details.push(t('%(fps)s per second', { fps: fixed(report.sample_fps, 0) }));
  if (Number.isFinite(report.duration_s)) details.push(t('over %(seconds)s s', { seconds: fixed(report.duration_s) }));
  const how = details.length ? ` (${details.join(' ')})` : '';
  const analysed = frames === 1
    ? t('%(frames)s frame analysed', { frames })
    : t('%(frames)s frames analysed', { frames });
  const sampled = `${analysed}${how}`;
  if (!report.frames_with_person) return t('%(sampled)s; no person found in any of them.', { sampled });
  const size = Number.isFinite(report.body_size_px)
    ? ` ${t('Body size %(size)s px (the diagonal of the box around the person, median over the video).',
      { size: fixed(report.body_size_px, 0) })}`
    : '';
  return `${t('%(sampled)s; a person in %(frames)s.', { sampled, frames: report.frames_with_person })}${size}`;
}

// Track points as chart data, with a gap wherever the part was not seen in a sampled frame.
function trackPoints(track, sampleFps) {
  const step = Number.isFinite(sampleFps) && sampleFps > 0 ? 1 / sampleFps : null;
  const points = [];
  let previous = null;
  for (const [t, x] of track) {
    if (previous !== null && step !== null && t - previous > 1.5 * step) {
      points.push({ x: (previous + t) / 2, y: null });
    }
    points.push({ x: t, y: x });
    previous = t;
  }
  return points;
}

function createTrackChart(canvas) {
  return new window.Chart(canvas, {
    type: 'line',
    data: { datasets: [] },
    options: {
      animation: false,
      maintainAspectRatio: false,
      parsing: false,
      scales: {
        x: { type: 'linear', title: { display: true, text: t('Time in video (s)') } },
        y: { title: { display: true, text: t('Centre, x (px)') } },
      },
      plugins: {
        legend: { display: true, position: 'bottom', labels: { boxWidth: 12 } },
        tooltip: {
          callbacks: {
            title: (items) => `${fixed(items[0].parsed.x)} s`,
            label: (item) => `${item.dataset.label}: x ${fixed(item.parsed.y, 0)} px`,
          },
        },
      },
    },
  });
}

function showTracks(tracks, sampleFps) {
  trackChart ??= createTrackChart(el.trackCanvas);
  trackChart.data.datasets = orderedParts(Object.keys(tracks))
    .filter((part) => tracks[part]?.length)
    .map((part) => ({
      label: partText(part),
      data: trackPoints(tracks[part], sampleFps),
      spanGaps: false, // not seen = a gap, never an invented position
      borderColor: partColour(part),
      backgroundColor: partColour(part),
      borderWidth: 2,
      pointRadius: 2,
    }));
  trackChart.update();
}

// report: the /api/v1/analyze/body/video JSON.
export function renderBodyVideo(report) {
  showMethod(report.method);
  const tracks = report.tracks ?? {};
  const index = report.movement_index ?? {};
  const names = orderedParts([...new Set([...Object.keys(index), ...Object.keys(tracks)])]);
  const seen = Boolean(report.frames_with_person);
  el.videoSummary.textContent = videoSummary(report);
  el.movement.hidden = !seen;
  el.movement.tBodies[0].replaceChildren(...names.map((name) => {
    const framesSeen = tracks[name]?.length ?? 0;
    const row = document.createElement('tr');
    row.append(partHeader(name), cell('td', movementText(index[name], framesSeen)), cell('td', String(framesSeen)));
    return row;
  }));
  el.legend.hidden = !seen;
  el.photo.hidden = true;
  el.video.hidden = false;
  el.track.hidden = !seen;
  if (seen) showTracks(tracks, report.sample_fps); // after un-hiding, so the chart can measure its box
}
