// Pain level -> colour and label. Colours live in app.css (--level-*) so badges,
// canvas overlays and charts share one palette.
import { t } from './i18n.js';

const NO_FACE = 'no-face';
const palette = new Map();

// The level key used for display and speech decisions. Without a pain estimate
// the state is 'no-face', or 'unknown' when a face was seen but not assessed.
export function levelOf(result) {
  return result?.pain?.level ?? (result?.face?.found ? 'unknown' : NO_FACE);
}

// The level keys in the page's language; an unknown key is shown as written.
const LEVEL_WORDS = {
  none: t('none'), mild: t('mild'), moderate: t('moderate'), severe: t('severe'),
  'no-face': t('no face'), unknown: t('unknown'),
};

export function levelLabel(level) {
  return LEVEL_WORDS[level] ?? level.replace('-', ' ');
}

// { fill, ink }: fill for boxes and badges, ink for text drawn on the fill.
export function levelColours(level) {
  if (!palette.has(level)) {
    const style = getComputedStyle(document.documentElement);
    const read = (name) => style.getPropertyValue(name).trim();
    const key = read(`--level-${level}`) ? level : NO_FACE;
    palette.set(level, { fill: read(`--level-${key}`), ink: read(`--level-${key}-ink`) });
  }
  return palette.get(level);
}

// Writes the level as text (never colour alone) and as data-level for the CSS colour.
// `label` replaces the text when the state has a better word (e.g. "gathering…" live).
export function showLevel(element, level, label = levelLabel(level)) {
  if (element.textContent !== label) element.textContent = label;
  element.dataset.level = level;
}
