// Number formatting shared by every view; null means "not measured" and shows a dash.
export const DASH = '–';

export function fixed(value, digits = 1) {
  return Number.isFinite(value) ? value.toFixed(digits) : DASH;
}

export function percent(fraction) {
  return Number.isFinite(fraction) ? `${Math.round(fraction * 100)}%` : DASH;
}
