// Action-unit bars on the 0–5 FACS intensity scale, shared by Upload and Live.
import { DASH, fixed } from './format.js';
import { t } from './i18n.js';

export const AU_MAX = 5;

const AU_NAMES = {
  AU4: 'brow lowerer',
  AU6: 'cheek raiser',
  AU7: 'lid tightener',
  AU9: 'nose wrinkler',
  AU10: 'upper lip raiser',
  AU43: 'eyes closed',
};

// AU43 is binary (0/1): drawn full or empty, read out as yes/no.
const BINARY_AUS = new Set(['AU43']);

// Known AUs in PSPI order first, then anything else the estimator reports.
export function orderedUnits(actionUnits) {
  const known = Object.keys(AU_NAMES).filter((au) => au in actionUnits);
  const extra = Object.keys(actionUnits).filter((au) => !(au in AU_NAMES));
  return [...known, ...extra];
}

// Bar length on the 0–5 scale, or null when the AU could not be measured.
export function barValue(au, value) {
  if (!Number.isFinite(value)) return null;
  if (BINARY_AUS.has(au)) return value > 0 ? AU_MAX : 0;
  return Math.min(Math.max(value, 0), AU_MAX);
}

function valueText(au, value) {
  if (!Number.isFinite(value)) return DASH;
  if (BINARY_AUS.has(au)) return value > 0 ? 'yes' : 'no';
  return fixed(value);
}

function createBar(au) {
  const item = document.createElement('li');
  item.className = 'au-bar';
  item.dataset.au = au;
  const label = document.createElement('span');
  label.className = 'au-label';
  const track = document.createElement('span');
  track.className = 'au-track';
  track.setAttribute('role', 'meter');
  track.setAttribute('aria-valuemin', '0');
  track.setAttribute('aria-valuemax', String(AU_MAX));
  const fill = document.createElement('span');
  fill.className = 'au-fill';
  track.append(fill);
  const sources = document.createElement('span');
  sources.className = 'au-sources';
  item.append(label, track, sources);
  return item;
}

// What each source read, so a clinician can see why an AU counts or not:
// "geometry 4.26 · blendshapes 1.78". Empty when the estimator reports no sources.
export function sourcesText(au, sources) {
  const read = sources?.[au];
  if (!read) return '';
  return Object.entries(read)
    .map(([source, value]) => `${source} ${valueText(au, value)}`)
    .join(' · ');
}

function updateBar(item, au, value, sources) {
  const name = AU_NAMES[au] ? `${au} ${AU_NAMES[au]}` : au;
  const text = valueText(au, value);
  const length = barValue(au, value);
  const read = sourcesText(au, sources);
  item.querySelector('.au-label').textContent = `${name} ${text}`;
  item.querySelector('.au-sources').textContent = read ? `(${read})` : '';
  item.dataset.sources = read;
  const track = item.querySelector('.au-track');
  track.setAttribute('aria-label', name);
  track.setAttribute('aria-valuenow', String(length ?? 0));
  track.setAttribute('aria-valuetext', text);
  item.querySelector('.au-fill').style.width = `${((length ?? 0) / AU_MAX) * 100}%`;
}

// Only the geometry estimator measures action units; the others send null. Then the
// note says so in words instead of leaving the bars empty; with no estimate it is hidden.
function auNoteText(pain) {
  if (!pain || pain.action_units) return '';
  if (!pain.estimator) return t('Action units are measured by the geometry estimator only.');
  return t('Action units are measured by the geometry estimator only; the %(estimator)s estimator does not report them.',
    { estimator: pain.estimator });
}

export function renderAuNote(note, pain) {
  const text = auNoteText(pain);
  if (note.textContent !== text) note.textContent = text;
  note.hidden = !text;
}

// Reuses existing rows so a 15 fps live stream does not rebuild the list each frame.
export function renderAuBars(list, actionUnits, sources = null) {
  const units = actionUnits ? orderedUnits(actionUnits) : [];
  const rows = new Map([...list.children].map((item) => [item.dataset.au, item]));
  units.forEach((au, index) => {
    const item = rows.get(au) ?? createBar(au);
    updateBar(item, au, actionUnits[au], sources);
    if (list.children[index] !== item) list.insertBefore(item, list.children[index] ?? null);
    rows.delete(au);
  });
  rows.forEach((item) => item.remove());
}

const CONTEXT_WORDS = { smile: t('a smile'), speech: t('speaking'), blink: t('a blink') };

// Look-alikes of pain the server saw and kept out of the reading (pain.context).
export function contextText(pain) {
  const seen = (pain?.context ?? []).map((name) => CONTEXT_WORDS[name] ?? name);
  return seen.length ? t('Seen and not counted as pain: %(seen)s.', { seen: seen.join(', ') }) : '';
}

export function renderContext(note, pain) {
  const text = contextText(pain);
  if (note.textContent !== text) note.textContent = text;
  note.hidden = !text;
  note.dataset.context = (pain?.context ?? []).join(' ');
}
