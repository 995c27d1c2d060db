// Number formatting shared by every view; null means "not measured" and shows a dash. Numbers follow the
// page's language (<html lang>, the one the server chose: "6,3" in German, "42 %" in French); English pages
// keep their long-standing "6.3" and "42%" (the browser tests and screenshots read them).
export const DASH = '–';

const language = document.documentElement.lang || 'en';
const english = language === 'en';
const decimals = new Map(); // digits -> Intl.NumberFormat of the page's language

function decimalFormat(digits) {
  if (!decimals.has(digits)) {
    // no grouping: figures such as a 1200 ms round trip read the same in every language's tables
    decimals.set(digits, new Intl.NumberFormat(language,
      { minimumFractionDigits: digits, maximumFractionDigits: digits, useGrouping: false }));
  }
  return decimals.get(digits);
}

const percentFormat = english ? null : new Intl.NumberFormat(language, { style: 'percent', maximumFractionDigits: 0 });

export function fixed(value, digits = 1) {
  if (!Number.isFinite(value)) return DASH;
  return english ? value.toFixed(digits) : decimalFormat(digits).format(value);
}

export function percent(fraction) {
  if (!Number.isFinite(fraction)) return DASH;
  return english ? `${Math.round(fraction * 100)}%` : percentFormat.format(fraction);
}
