// PSPI-over-time charts (Chart.js, loaded as the global `Chart` from static/vendor).
// Points and segments take the colour of the level the server reported for them.
import { fixed } from './format.js';
import { levelColours, levelLabel } from './levels.js';
import { t } from './i18n.js';

const PSPI_MAX = 16;
const LIVE_WINDOW_S = 60;
const LINE_COLOUR = '#5f6b7a';

function colourOf(point) {
  return point?.level ? levelColours(point.level).fill : LINE_COLOUR;
}

const pointColour = (ctx) => colourOf(ctx.raw);
// A segment takes the colour of the point it leads to.
const segmentColour = (ctx) => colourOf(ctx.chart.data.datasets[ctx.datasetIndex].data[ctx.p1DataIndex]);

function createChart(canvas, xTitle) {
  return new window.Chart(canvas, {
    type: 'line',
    data: {
      datasets: [{
        label: 'PSPI',
        data: [],
        parsing: false,
        normalized: true,
        spanGaps: false, // no face = a gap, never an invented value
        borderColor: LINE_COLOUR,
        borderWidth: 2,
        pointRadius: 2,
        pointBackgroundColor: pointColour,
        pointBorderColor: pointColour,
        segment: { borderColor: segmentColour },
      }],
    },
    options: {
      animation: false,
      maintainAspectRatio: false,
      scales: {
        x: { type: 'linear', title: { display: true, text: xTitle } },
        y: { min: 0, max: PSPI_MAX, title: { display: true, text: 'PSPI' } },
      },
      plugins: {
        legend: { display: false },
        tooltip: {
          callbacks: {
            title: (items) => `${fixed(items[0].parsed.x)} s`,
            label: (item) => `PSPI ${fixed(item.raw.y)} (${levelLabel(item.raw.level ?? 'unknown')})`,
          },
        },
      },
    },
  });
}

export class VideoTimeline {
  constructor(canvas) {
    this.canvas = canvas;
    this.chart = null;
  }

  // Call after the canvas is visible so Chart.js measures a real size.
  show(timeline) {
    this.chart ??= createChart(this.canvas, t('Time in video (s)'));
    this.chart.data.datasets[0].data = timeline.map((point) => ({
      x: point.t_s,
      y: point.pspi,
      level: point.level,
    }));
    this.chart.update();
  }
}

export class LiveTimeline {
  constructor(canvas) {
    this.canvas = canvas;
    this.chart = null;
    this.redrawQueued = false;
  }

  reset() {
    this.chart ??= createChart(this.canvas, t('Time since start (s)'));
    this.chart.data.datasets[0].data = [];
    this.chart.update();
  }

  // pspi null (no face) leaves a gap. Redraws are coalesced to one per animation frame.
  push(tS, pspi, level) {
    const { chart } = this;
    const points = chart.data.datasets[0].data;
    points.push({ x: tS, y: pspi, level });
    while (points.length > 0 && points[0].x < tS - LIVE_WINDOW_S) points.shift();
    chart.options.scales.x.min = Math.max(0, tS - LIVE_WINDOW_S);
    chart.options.scales.x.max = Math.max(LIVE_WINDOW_S, tS);
    if (this.redrawQueued) return;
    this.redrawQueued = true;
    requestAnimationFrame(() => {
      this.redrawQueued = false;
      chart.update('none');
    });
  }
}
