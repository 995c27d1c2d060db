// Draws the live result over the video: face box in the level colour, level and
// PSPI as text (never colour alone), and small AU bars when the estimator measures them.
import { AU_MAX, barValue, orderedUnits } from './aubars.js';
import { fitCanvas } from './canvas.js';
import { fixed } from './format.js';
import { levelColours, levelLabel, levelOf } from './levels.js';
import { GATHERING_TEXT, isGathering } from './pain.js';

const FONT = '600 15px system-ui, sans-serif';
const SMALL_FONT = '12px system-ui, sans-serif';
const PANEL = { x: 8, y: 8, width: 150, row: 16, bar: 70 };

// Where the picture sits inside the <video> box (object-fit: contain may letterbox it).
function pictureRect(video) {
  const scale = Math.min(video.clientWidth / video.videoWidth, video.clientHeight / video.videoHeight);
  const width = video.videoWidth * scale;
  const height = video.videoHeight * scale;
  return { x: (video.clientWidth - width) / 2, y: (video.clientHeight - height) / 2, width, height };
}

function drawTag(context, text, x, y, colours) {
  context.font = FONT;
  const width = context.measureText(text).width + 12;
  const top = Math.max(0, y - 24);
  context.fillStyle = colours.fill;
  context.fillRect(x, top, width, 22);
  context.fillStyle = colours.ink;
  context.fillText(text, x + 6, top + 16);
}

function drawAuPanel(context, actionUnits) {
  const units = orderedUnits(actionUnits);
  context.fillStyle = 'rgba(255, 255, 255, 0.85)';
  context.fillRect(PANEL.x, PANEL.y, PANEL.width, units.length * PANEL.row + 8);
  context.font = SMALL_FONT;
  units.forEach((au, index) => {
    const y = PANEL.y + 4 + index * PANEL.row;
    const length = barValue(au, actionUnits[au]) ?? 0;
    context.fillStyle = '#1b1f24';
    context.fillText(au, PANEL.x + 6, y + 11);
    context.fillStyle = '#d5dbe1';
    context.fillRect(PANEL.x + 60, y + 3, PANEL.bar, 9);
    context.fillStyle = '#0b6e8a';
    context.fillRect(PANEL.x + 60, y + 3, (PANEL.bar * length) / AU_MAX, 9);
  });
}

// The level, with the PSPI when the estimator gives one (a sequence model gives a class only).
function tagText(result, level) {
  if (isGathering(result)) return GATHERING_TEXT;
  const pspi = Number.isFinite(result.pain?.pspi) ? ` · PSPI ${fixed(result.pain.pspi)}` : '';
  return `${levelLabel(level)}${pspi}`;
}

export function clearOverlay(canvas) {
  fitCanvas(canvas);
}

// frameSize: the width/height of the JPEG the result was computed on.
export function drawOverlay(canvas, video, result, frameSize) {
  const context = fitCanvas(canvas);
  const level = levelOf(result);
  const colours = levelColours(level);
  if (!result.face?.found) {
    drawTag(context, levelLabel(level), 8, 32, colours);
    return;
  }
  const picture = pictureRect(video);
  const scale = picture.width / frameSize.width;
  const [x, y, w, h] = result.face.box.map((v) => v * scale);
  const left = picture.x + x;
  const top = picture.y + y;
  // A dark halo under the level colour keeps the box visible on any background.
  context.lineWidth = 5;
  context.strokeStyle = 'rgba(0, 0, 0, 0.6)';
  context.strokeRect(left, top, w, h);
  context.lineWidth = 3;
  context.strokeStyle = colours.fill;
  context.strokeRect(left, top, w, h);
  drawTag(context, tagText(result, level), left, top, colours);
  if (result.pain?.action_units) drawAuPanel(context, result.pain.action_units);
}
