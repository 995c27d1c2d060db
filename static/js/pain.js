// Pain-estimate wording shared by the Live and Upload views. What an estimator does
// not measure is null in `pain` (learned models give no action units and use no
// neutral baseline; a sequence model gives a class, not a PSPI): it reads as a dash
// or a sentence, never as "null".
import { DASH, percent } from './format.js';
import { t } from './i18n.js';

export const GATHERING_TEXT = t('Gathering frames…');

// A face was seen but the estimator has too little to judge yet (the lstm fills its window first).
export function isGathering(result) {
  return Boolean(result?.face?.found) && !result?.pain;
}

// The estimator of an estimate (or of one part of a fused estimate), with its model file if any.
export function estimatorText(pain) {
  if (!pain?.estimator) return DASH;
  return pain.model ? `${pain.estimator} (${pain.model})` : pain.estimator;
}

// calibrated null: the estimator compares with no neutral face of this person.
function personIndependentText(pain) {
  if (pain.model) return t('person-independent model (%(model)s)', { model: pain.model });
  if (pain.parts?.length) return t('no personal baseline – a combination of estimators (parts below)');
  return t('person-independent model');
}

export function calibrationText(pain) {
  if (!pain) return DASH;
  if (pain.calibrated === null || pain.calibrated === undefined) return personIndependentText(pain);
  if (!pain.calibrated) return t('population baseline – add a neutral photo for accuracy');
  return pain.baseline === 'reference' ? t('calibrated to reference')
    : t('calibrated (%(baseline)s baseline)', { baseline: pain.baseline });
}

// The live "Baseline" reading: the baseline's kind, or that the estimator uses none.
export function baselineText(pain) {
  return pain.baseline ?? t('not used');
}

// A sequence model's own class (e.g. PAIN / NO_PAIN) and its probability: "PAIN 91%".
export function labelText(pain) {
  const label = pain?.label;
  if (typeof label !== 'string' || !label) return '';
  const probability = pain.label_probabilities?.[label];
  const name = label.replaceAll('_', ' ');
  return Number.isFinite(probability) ? `${name} ${percent(probability)}` : name;
}

// Writes the label next to the level badge, or hides the element when there is none.
export function showLabel(element, pain) {
  const text = labelText(pain);
  if (element.textContent !== text) element.textContent = text;
  element.hidden = !text;
}
