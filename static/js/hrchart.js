// Heart rate over an uploaded video (Chart.js, the global `Chart`): one point per sliding
// window the server measured. An unmeasurable window is a gap, never an invented value.
import { fixed } from './format.js';

// Colours come from app.css (--pulse, --pulse-low) so the chart matches the live strip.
function cssColour(name) {
  return getComputedStyle(document.documentElement).getPropertyValue(name).trim();
}

function createChart(canvas) {
  const line = cssColour('--pulse');
  const low = cssColour('--pulse-low');
  // Low-quality windows are hollow and grey: shape as well as colour, and the tooltip says so.
  const isLow = (ctx) => ctx.raw?.quality === 'low';
  return new window.Chart(canvas, {
    type: 'line',
    data: {
      datasets: [{
        label: 'Heart rate',
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
        x: { type: 'linear', title: { display: true, text: 'Time in video (s)' } },
        // A suggested range keeps a steady rate from looking like wild swings.
        y: { suggestedMin: 50, suggestedMax: 110, title: { display: true, text: 'bpm' } },
      },
      plugins: {
        legend: { display: false },
        tooltip: {
          callbacks: {
            title: (items) => `${fixed(items[0].parsed.x)} s`,
            label: (item) => `${fixed(item.raw.y, 0)} bpm (${item.raw.quality ?? 'unknown'} quality)`,
          },
        },
      },
    },
  });
}

export class HeartRateChart {
  constructor(canvas) {
    this.canvas = canvas;
    this.chart = null;
  }

  // series: [{ t_s, heart_rate_bpm | null, quality }]. Call after the canvas is visible
  // so Chart.js measures a real size.
  show(series) {
    this.chart ??= createChart(this.canvas);
    this.chart.data.datasets[0].data = series.map((point) => ({
      x: point.t_s,
      y: Number.isFinite(point.heart_rate_bpm) ? point.heart_rate_bpm : null,
      quality: point.quality ?? null,
    }));
    this.chart.update();
  }
}
