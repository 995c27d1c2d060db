// Heart-rate (rPPG) wording shared by the Live and Upload views. A null `vitals`
// means no face; a null heart_rate_bpm means not measured yet, and `reason` says why.
import { DASH, fixed } from './format.js';
import { t } from './i18n.js';

// The data-quality key the CSS styles: high | medium | low, or none when there is no estimate.
export function qualityOf(vitals) {
  return vitals?.quality ?? 'none';
}

export function hasHeartRate(vitals) {
  return Number.isFinite(vitals?.heart_rate_bpm);
}

// Live: the quality word (the CSS adds " quality"), or why there is no number yet.
// The live estimator keeps trying, so a missing value reads as "measuring".
export function liveQualityText(vitals) {
  if (!vitals || vitals.reason === 'no face') return DASH; // nothing to measure, not measuring
  if (!hasHeartRate(vitals)) return vitals.reason ? t('measuring… (%(reason)s)', { reason: vitals.reason }) : t('measuring…');
  return vitals.quality ?? DASH;
}

// Video: one sentence for the whole clip.
export function videoHeartRateText(vitals) {
  if (!hasHeartRate(vitals)) return t('Heart rate: not measurable – %(reason)s', { reason: vitals?.reason ?? t('no face found') });
  const rate = fixed(vitals.heart_rate_bpm, 0);
  return vitals.quality ? t('Heart rate %(rate)s bpm (%(quality)s quality)', { rate, quality: vitals.quality })
    : t('Heart rate %(rate)s bpm', { rate });
}
