// Server-side settings rendered onto <body data-*> by index.html.
const data = document.body.dataset;

function number(value, fallback) {
  const parsed = Number.parseFloat(value);
  return Number.isFinite(parsed) ? parsed : fallback;
}

export const config = Object.freeze({
  speechRepeatS: number(data.speechRepeatS, 10),
  liveMaxFps: number(data.liveMaxFps, 15),
  jpegQuality: number(data.jpegQuality, 0.8),
  levels: data.levels ? data.levels.split(',') : ['none', 'mild', 'moderate', 'severe'],
});
