// The parts of a fused estimate (fusion), shared by Upload and Live: one table row per
// estimator (with its class when it classifies) with its level, PSPI (a dash when it gives none) and weight,
// and one row for the heart rate: what it measured against the resting rate and how
// far it moved the PSPI (or, with weight 0, why it had no say).
import { DASH, fixed, percent } from './format.js';
import { showLevel } from './levels.js';
import { t } from './i18n.js';
import { estimatorText } from './pain.js';

const HEART_RATE = 'heart_rate';
const SOURCE_NAMES = { ecg: t('ECG'), rppg: t('camera') };

function cell(tag, text) {
  const element = document.createElement(tag);
  element.textContent = text;
  return element;
}

// A window classifier (lstm, resnet_gru, ecg_transformer) also names its class: "resnet_gru (m.pt): PA3".
function partName(part) {
  if (part.estimator !== HEART_RATE) return part.label ? `${estimatorText(part)}: ${part.label}` : estimatorText(part);
  const source = SOURCE_NAMES[part.source];
  return source ? t('heart rate (%(source)s)', { source }) : t('heart rate');
}

// "102 bpm, resting 66 – arousal 100%", or the reason it could not be judged.
function heartRateText(part) {
  if (part.reason) return part.reason;
  return t('%(rate)s bpm, resting %(resting)s – arousal %(arousal)s', {
    rate: fixed(part.heart_rate_bpm, 0), resting: fixed(part.baseline_bpm, 0), arousal: percent(part.arousal),
  });
}

function signed(value) {
  if (!Number.isFinite(value)) return DASH;
  return value > 0 ? `+${fixed(value)}` : fixed(value);
}

function cells(part) {
  if (part.estimator === HEART_RATE) {
    return [cell('td', heartRateText(part)), cell('td', signed(part.pspi_shift)), cell('td', percent(part.weight))];
  }
  const badge = document.createElement('span');
  badge.className = 'level-badge level-badge-small';
  showLevel(badge, part.level ?? 'unknown');
  const level = document.createElement('td');
  level.append(badge);
  return [level, cell('td', fixed(part.pspi)), cell('td', percent(part.weight))];
}

function partRow(part) {
  const row = document.createElement('tr');
  row.dataset.part = part.estimator;
  const name = cell('th', partName(part));
  name.scope = 'row';
  row.append(name, ...cells(part));
  return row;
}

// What the table shows, so a live stream rebuilds the rows only when that changes.
function rowsKey(parts) {
  return parts.map((part) => [partName(part), part.level, fixed(part.pspi), percent(part.weight),
    part.estimator === HEART_RATE ? heartRateText(part) + signed(part.pspi_shift) : ''].join('|')).join('\n');
}

// table: a <table> with one <tbody>; hidden when the estimate has no parts.
export function renderParts(table, parts) {
  const rows = Array.isArray(parts) ? parts : [];
  table.hidden = rows.length === 0;
  const key = rowsKey(rows);
  if (table.dataset.key === key) return;
  table.dataset.key = key;
  table.tBodies[0].replaceChildren(...rows.map(partRow));
}
