// Heart rate over time (Chart.js, the global `Chart`): one point per sliding window the
// server measured in a video, or one per beat of an ECG. An unmeasurable stretch is a gap,
// never an invented value.
import { fixed } from './format.js';
import { t } from './i18n.js';

// Colours come from app.css (--pulse, --pulse-low) so the chart matches the live strip.
function cssColour(name) {
  return getComputedStyle(document.documentElement).getPropertyValue(name).trim();
}

// Beyond this many points (an ECG of several minutes) the dots would hide the line.
const MAX_DOTTED_POINTS = 300;

function createChart(canvas, xTitle) {
  const line = cssColour('--pulse');
  const low = cssColour('--pulse-low');
  // Low-quality windows are hollow and grey: shape as well as colour, and the tooltip says so.
  const isLow = (ctx) => ctx.raw?.quality === 'low';
  return new window.Chart(canvas, {
    type: 'line',
    data: {
      datasets: [{
        label: t('Heart rate'),
        data: [],
        parsing: false,
        spanGaps: false,
        borderColor: line,
        borderWidth: 2,
        pointRadius: 3,
        pointBorderColor: (ctx) => (isLow(ctx) ? low : line),
        pointBackgroundColor: (ctx) => (isLow(ctx) ? '#ffffff' : line),
      }],
    },
    options: {
      animation: false,
      maintainAspectRatio: false,
      scales: {
        x: { type: 'linear', title: { display: true, text: xTitle } },
        // A suggested range keeps a steady rate from looking like wild swings.
        y: { suggestedMin: 50, suggestedMax: 110, title: { display: true, text: 'bpm' } },
      },
      plugins: {
        legend: { display: false },
        tooltip: {
          callbacks: {
            title: (items) => `${fixed(items[0].parsed.x)} s`,
            label: (item) => `${fixed(item.raw.y, 0)} bpm${item.raw.quality ? ` (${item.raw.quality} quality)` : ''}`,
          },
        },
      },
    },
  });
}

export class HeartRateChart {
  // xTitle: the time axis' title (a video by default).
  constructor(canvas, { xTitle = t('Time in video (s)') } = {}) {
    this.canvas = canvas;
    this.xTitle = xTitle;
    this.chart = null;
  }

  // series: [{ t_s, heart_rate_bpm | null, quality }] (a null rate is a gap). Call after
  // the canvas is visible so Chart.js measures a real size.
  show(series) {
    this.chart ??= createChart(this.canvas, this.xTitle);
    const [dataset] = this.chart.data.datasets;
    dataset.data = series.map((point) => ({
      x: point.t_s,
      y: Number.isFinite(point.heart_rate_bpm) ? point.heart_rate_bpm : null,
      quality: point.quality ?? null,
    }));
    dataset.pointRadius = dataset.data.length > MAX_DOTTED_POINTS ? 0 : 3;
    this.chart.update();
  }
}
