// The parts of a fused estimate (fusion), shared by Upload and Live: one table row per
// estimator with its level, PSPI (a dash when it gives none) and weight in the fusion.
import { fixed, percent } from './format.js';
import { showLevel } from './levels.js';
import { estimatorText } from './pain.js';

function cell(tag, text) {
  const element = document.createElement(tag);
  element.textContent = text;
  return element;
}

function partRow(part) {
  const row = document.createElement('tr');
  const name = cell('th', estimatorText(part));
  name.scope = 'row';
  const badge = document.createElement('span');
  badge.className = 'level-badge level-badge-small';
  showLevel(badge, part.level ?? 'unknown');
  const level = document.createElement('td');
  level.append(badge);
  row.append(name, level, cell('td', fixed(part.pspi)), cell('td', percent(part.weight)));
  return row;
}

// What the table shows, so a live stream rebuilds the rows only when that changes.
function rowsKey(parts) {
  return parts.map((part) => [estimatorText(part), part.level, fixed(part.pspi), percent(part.weight)].join('|')).join('\n');
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
