// The live pulse strip: the server's normalised rPPG waveform drawn as a line, newest
// sample at the right. The line colour is the canvas's CSS `color`, so app.css decides
// how a low-quality or unmeasured signal looks (data-quality on the canvas).
import { fitCanvas } from './canvas.js';

// The server sends at most the last 5 s; a fixed time span keeps the beat spacing steady
// while the buffer is still filling, instead of stretching a short trace to full width.
const WINDOW_S = 5;
const HEADROOM = 0.85; // fraction of the half-height the largest swing may use
const LINE_WIDTH = 2;

export function clearPulse(canvas) {
  fitCanvas(canvas);
}

// waveform: numbers (non-finite ones leave a gap); hz: samples per second, if known.
export function drawPulse(canvas, waveform, hz) {
  const context = fitCanvas(canvas);
  const width = canvas.clientWidth;
  const middle = canvas.clientHeight / 2;
  // Scaled to the largest swing, symmetric around zero, so the trace fills the strip
  // whatever the server's normalisation and its baseline stays in the middle.
  const swing = waveform.reduce((max, v) => (Number.isFinite(v) ? Math.max(max, Math.abs(v)) : max), 0) || 1;
  const yScale = (middle * HEADROOM) / swing;
  const last = waveform.length - 1;
  const step = Number.isFinite(hz) && hz > 0 ? width / (WINDOW_S * hz) : width / Math.max(last, 1);

  context.strokeStyle = getComputedStyle(canvas).color;
  context.lineWidth = LINE_WIDTH;
  context.lineJoin = 'round';
  context.beginPath();
  let penDown = false;
  waveform.forEach((value, index) => {
    if (!Number.isFinite(value)) {
      penDown = false;
      return;
    }
    const x = width - (last - index) * step;
    const y = middle - value * yScale;
    if (penDown) context.lineTo(x, y);
    else context.moveTo(x, y);
    penDown = true;
  });
  context.stroke();
}
