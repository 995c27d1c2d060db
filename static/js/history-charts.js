// A patient's PSPI and heart rate over wall-clock time (Chart.js, the global `Chart`).
// x is milliseconds since 1970 (a linear axis: no date adapter is vendored); ticks and
// tooltips show the browser's local time. Separate assessments, and seconds without a
// reading inside one, are gaps: a line never bridges time nobody measured.
import { fixed } from './format.js';
import { levelColours, levelLabel } from './levels.js';
import { t } from './i18n.js';

const PSPI_MAX = 16;
const LINE_COLOUR = '#5f6b7a';
// Consecutive readings of one assessment further apart than this are not joined
// (a live stream has one reading per second; a second without frames has none).
const GAP_MS = 2000;
// Printed charts are redrawn at this width (about A4 portrait less margins at 96 px/inch).
const PRINT_WIDTH_PX = 680;
const MINUTE_MS = 60_000;
const DAY_MS = 86_400_000;

function cssColour(name) {
  return getComputedStyle(document.documentElement).getPropertyValue(name).trim();
}

// The readings as chart points, with a null point wherever the line must break.
function pointsOf(readings, value) {
  const points = [];
  let previous = null;
  for (const reading of readings) {
    const x = Date.parse(reading.t);
    if (previous && (previous.assessment_id !== reading.assessment_id || x - Date.parse(previous.t) > GAP_MS)) {
      points.push({ x: (x + Date.parse(previous.t)) / 2, y: null });
    }
    const y = value(reading);
    points.push({ x, y: Number.isFinite(y) ? y : null, reading });
    previous = reading;
  }
  return points;
}

// Tick labels as precise as the span shown: seconds within minutes, dates across days.
const tickFormats = {
  days: new Intl.DateTimeFormat(document.documentElement.lang || undefined, { month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit' }),
  minutes: new Intl.DateTimeFormat(document.documentElement.lang || undefined, { hour: '2-digit', minute: '2-digit' }),
  seconds: new Intl.DateTimeFormat(document.documentElement.lang || undefined, { hour: '2-digit', minute: '2-digit', second: '2-digit' }),
};

function timeTick(range) {
  if (range > DAY_MS) return tickFormats.days;
  return range < 10 * MINUTE_MS ? tickFormats.seconds : tickFormats.minutes;
}

const longTime = new Intl.DateTimeFormat(document.documentElement.lang || undefined, { dateStyle: 'medium', timeStyle: 'medium' });

function timeScale() {
  return {
    type: 'linear',
    title: { display: true, text: t('Time (local)') },
    ticks: {
      maxRotation: 0,
      autoSkipPadding: 12,
      callback(value) {
        return timeTick(this.max - this.min).format(new Date(value));
      },
    },
  };
}

function describe(reading) {
  return `${reading.kind} ${reading.assessment_id}, ${reading.estimator}`;
}

function pspiColour(ctx) {
  const level = ctx.raw?.reading?.level;
  return level ? levelColours(level).fill : LINE_COLOUR;
}

function lineChart(canvas, dataset, yScale, label) {
  return new window.Chart(canvas, {
    type: 'line',
    data: { datasets: [{ data: [], parsing: false, normalized: true, spanGaps: false, borderWidth: 2, ...dataset }] },
    options: {
      animation: false,
      maintainAspectRatio: false,
      scales: { x: timeScale(), y: yScale },
      plugins: {
        legend: { display: false },
        tooltip: {
          callbacks: {
            title: (items) => longTime.format(new Date(items[0].parsed.x)),
            label,
          },
        },
      },
    },
  });
}

export function pspiChart(canvas, readings) {
  const chart = lineChart(
    canvas,
    {
      label: 'PSPI',
      borderColor: LINE_COLOUR,
      pointRadius: 3,
      pointBackgroundColor: pspiColour,
      pointBorderColor: pspiColour,
      segment: { borderColor: (ctx) => pspiColour({ raw: ctx.chart.data.datasets[0].data[ctx.p1DataIndex] }) },
    },
    { min: 0, max: PSPI_MAX, title: { display: true, text: 'PSPI' } },
    (item) => `PSPI ${fixed(item.raw.y)} (${levelLabel(item.raw.reading.level ?? 'unknown')}) – ${describe(item.raw.reading)}`,
  );
  chart.data.datasets[0].data = pointsOf(readings, (r) => r.pspi);
  chart.update();
  return chart;
}

export function heartRateChart(canvas, readings) {
  const line = cssColour('--pulse');
  const low = cssColour('--pulse-low');
  const isLow = (ctx) => ctx.raw?.reading?.heart_rate_quality === 'low';
  const chart = lineChart(
    canvas,
    {
      label: t('Heart rate'),
      borderColor: line,
      pointRadius: 3,
      pointBorderColor: (ctx) => (isLow(ctx) ? low : line),
      pointBackgroundColor: (ctx) => (isLow(ctx) ? '#ffffff' : line),
    },
    { suggestedMin: 50, suggestedMax: 110, title: { display: true, text: 'bpm' } },
    (item) => `${fixed(item.raw.y, 0)} bpm (${item.raw.reading.heart_rate_quality ?? 'unknown'} quality) – `
      + describe(item.raw.reading),
  );
  chart.data.datasets[0].data = pointsOf(readings, (r) => r.heart_rate_bpm);
  chart.update();
  return chart;
}

// Chart.js does not resize for the printed page by itself (its docs, "Printing resizable charts").
export function resizeForPrint(charts) {
  window.addEventListener('beforeprint', () => {
    for (const chart of charts) chart.resize(PRINT_WIDTH_PX, chart.canvas.parentNode.clientHeight);
  });
  window.addEventListener('afterprint', () => {
    for (const chart of charts) chart.resize();
  });
}

// Clinical scale totals over time: one line per scale (PAINAD and FLACC 0-10, CPOT 0-8), points
// coloured by band; a tooltip names the total, the band and whether at rest or after movement.
const SCALE_COLOURS = { painad: '#0b6e8a', cpot: '#7b3fa0', flacc: '#b35c00' };
const SCALE_Y_MAX = 10;
const BAND_LEVEL = { none: 'none', mild: 'mild', moderate: 'moderate', severe: 'severe', pain: 'moderate' };
// Assessments are minutes to days apart: the time axis has at least this margin either side,
// so that a single assessment is shown on a readable span rather than an automatic one.
const SCALE_X_MARGIN_MS = 30 * MINUTE_MS;

export function scaleChart(canvas, assessments) {
  const keys = [...new Set(assessments.map((a) => a.scale))];
  const bandColour = (ctx) => levelColours(BAND_LEVEL[ctx.raw?.assessment?.band] ?? 'no-face').fill;
  const times = assessments.map((a) => Date.parse(a.assessed_at));
  const x = { ...timeScale(), min: Math.min(...times) - SCALE_X_MARGIN_MS, max: Math.max(...times) + SCALE_X_MARGIN_MS };
  return new window.Chart(canvas, {
    type: 'line',
    data: {
      datasets: keys.map((key) => ({
        label: key.toUpperCase(),
        data: assessments.filter((a) => a.scale === key)
          .map((a) => ({ x: Date.parse(a.assessed_at), y: a.total, assessment: a })),
        parsing: false,
        borderColor: SCALE_COLOURS[key] ?? LINE_COLOUR,
        borderWidth: 2,
        pointRadius: 4,
        pointBackgroundColor: bandColour,
        pointBorderColor: bandColour,
      })),
    },
    options: {
      animation: false,
      maintainAspectRatio: false,
      scales: { x, y: { min: 0, max: SCALE_Y_MAX, title: { display: true, text: 'Total' } } },
      plugins: {
        legend: { display: true },
        tooltip: {
          callbacks: {
            title: (items) => longTime.format(new Date(items[0].parsed.x)),
            label: (item) => {
              const a = item.raw.assessment;
              const when = a.context === 'movement' ? t('after movement') : t('at rest');
              return `${a.scale.toUpperCase()} ${a.total}/${a.max_total} (${a.band_label}), ${when}`;
            },
          },
        },
      },
    },
  });
}
