// Renders an ECG report (the JSON of POST /api/v1/analyze/ecg): mean heart rate, RMSSD,
// SDNN, signal quality, arousal against a baseline, and the heart rate beat by beat.
// A figure the server could not measure is null with a reason: the page shows a dash and
// says why in words, never "null".
import { DASH, fixed } from './format.js';
import { HeartRateChart } from './hrchart.js';
import { t } from './i18n.js';

const $ = (id) => document.getElementById(id);
const el = {
  result: $('ecg-result'),
  hr: $('ecg-hr'),
  rmssd: $('ecg-rmssd'),
  sdnn: $('ecg-sdnn'),
  quality: $('ecg-quality'),
  arousal: $('ecg-arousal'),
  baseline: $('ecg-arousal-baseline'),
  note: $('ecg-note'),
  summary: $('ecg-summary'),
  trend: $('ecg-hr-trend'),
  arousalMethod: $('ecg-arousal-method'),
  qualityMethod: $('ecg-quality-method'),
  method: $('ecg-method'),
};
const chart = new HeartRateChart($('ecg-hr-chart'), { xTitle: t('Time in recording (s)') });

// Two neighbouring points of the series are consecutive beat-to-beat intervals when the
// later one starts (its end minus its length) where the earlier one ends. The server
// rounds times to 1 ms and rates to 0.1 bpm, so 50 ms tells a left-out interval apart.
const GAP_TOLERANCE_S = 0.05;

function sentence(text) {
  const trimmed = String(text).trim();
  if (!trimmed) return '';
  const first = trimmed[0].toUpperCase() + trimmed.slice(1);
  return /[.!?।]$/.test(first) ? first : `${first}.`;
}

function signedPercent(value) {
  if (!Number.isFinite(value)) return null;
  const sign = value > 0 ? '+' : value < 0 ? '−' : '±';
  return `${sign}${fixed(Math.abs(value))}\u00a0%`;
}

// The series as HeartRateChart points: one per usable interval, with a gap (a null rate)
// wherever the server left intervals out, so no line is drawn across them.
export function ecgChartSeries(vitals) {
  const points = [];
  let previous = null;
  for (const point of vitals?.series ?? []) {
    if (!Number.isFinite(point?.t_s) || !Number.isFinite(point?.bpm) || point.bpm <= 0) continue;
    const start = point.t_s - 60 / point.bpm;
    if (previous !== null && start - previous > GAP_TOLERANCE_S) {
      points.push({ t_s: (previous + start) / 2, heart_rate_bpm: null });
    }
    points.push({ t_s: point.t_s, heart_rate_bpm: point.bpm, quality: vitals.quality ?? null });
    previous = point.t_s;
  }
  return points;
}

function stretchText(stats) {
  if (!Number.isFinite(stats?.heart_rate_bpm)) {
    return t('no heart rate (%(intervals)s usable beat-to-beat intervals)', { intervals: stats?.intervals ?? 0 });
  }
  const rate = fixed(stats.heart_rate_bpm);
  if (!Number.isFinite(stats.rmssd_ms)) return t('%(rate)s bpm', { rate });
  return t('%(rate)s bpm, RMSSD %(rmssd)s ms', { rate, rmssd: fixed(stats.rmssd_ms) });
}

function baselineText(arousal) {
  const { baseline, compared } = arousal ?? {};
  if (!baseline) return DASH; // the note says why
  const fromUpload = baseline.source === 'upload';
  const where = fromUpload
    ? t('The resting recording (%(seconds)s s)', { seconds: fixed(baseline.end_s - baseline.start_s) })
    : t('The first %(seconds)s s of the recording', { seconds: fixed(baseline.end_s - baseline.start_s, 0) });
  let text = t('%(stretch)s: %(figures)s.', { stretch: where, figures: stretchText(baseline) });
  if (compared) {
    const what = fromUpload
      ? t('This recording')
      : t('After it (%(start)s–%(end)s s)', { start: fixed(compared.start_s), end: fixed(compared.end_s) });
    const hrChange = signedPercent(arousal.heart_rate_change_pct);
    const rmssdChange = signedPercent(arousal.rmssd_change_pct);
    const changes = [
      hrChange && t('heart rate %(change)s', { change: hrChange }),
      rmssdChange && t('RMSSD %(change)s', { change: rmssdChange }),
    ].filter(Boolean);
    const figures = `${stretchText(compared)}${changes.length ? ` (${changes.join(', ')})` : ''}`;
    text += ` ${t('%(stretch)s: %(figures)s.', { stretch: what, figures })}`;
  }
  return text;
}

// The signal quality's level (server/vitals/ecg.py quality_level) in words; an unknown one as sent.
const QUALITY_TEXT = { high: t('high'), medium: t('medium'), low: t('low') };

function qualityText(vitals) {
  if (!vitals?.quality) return DASH;
  const score = Number.isFinite(vitals.quality_score) ? fixed(vitals.quality_score, 2) : t('no score');
  return `${QUALITY_TEXT[vitals.quality] ?? vitals.quality} (${score})`;
}

// Why each missing figure is missing, plus what the server noted about the file.
function notes(report) {
  const { vitals, arousal, ecg } = report;
  const lines = [];
  if (!Number.isFinite(vitals?.heart_rate_bpm)) {
    lines.push(sentence(t('Heart rate, RMSSD and SDNN not measured – %(reason)s',
      { reason: vitals?.reason ?? t('no usable heartbeats') })));
  } else {
    if (!Number.isFinite(vitals.rmssd_ms)) {
      lines.push(t('RMSSD not measured – no two neighbouring beat-to-beat intervals were both usable.'));
    }
    if (!Number.isFinite(vitals.sdnn_ms)) lines.push(t('SDNN not measured – too few usable beat-to-beat intervals.'));
  }
  if (vitals && !Number.isFinite(vitals.quality_score)) {
    lines.push(t('The signal quality has no score: the beats could not be compared with each other.'));
  }
  if (!Number.isFinite(arousal?.score)) {
    // Without a heart rate the arousal reason repeats the one just given.
    const noRate = !Number.isFinite(vitals?.heart_rate_bpm);
    if (noRate && (!arousal?.reason || arousal.reason === vitals?.reason)) {
      lines.push(t('No arousal score: it needs a heart rate.'));
    } else {
      const reason = arousal?.reason ?? t('no baseline to compare with');
      lines.push(sentence(t('No arousal score – %(reason)s', { reason })));
    }
  }
  for (const note of ecg?.notes ?? []) lines.push(sentence(note));
  return lines.filter(Boolean);
}

// rate_source: "time column", "caller" or "biovid 512 Hz ..." (BioVid's documented rate).
function rateSource(source) {
  if (!source) return '';
  if (source === 'caller') return ` (${t('the sampling rate given')})`;
  if (source.startsWith('biovid')) return ` (${source.replace(/^biovid/, 'BioVid')})`;
  if (source === 'time column') return ` (${t('from the time column')})`;
  return ` (${t('from the %(source)s', { source })})`;
}

// One line about the recording itself; a field the server did not send is left out.
function summaryText(ecg) {
  if (!ecg) return '';
  const parts = [];
  if (Number.isFinite(ecg.duration_s)) parts.push(t('%(seconds)s s of ECG', { seconds: fixed(ecg.duration_s) }));
  if (Number.isFinite(ecg.sampling_rate_hz)) {
    parts.push(`${t('at %(rate)s Hz', { rate: fixed(ecg.sampling_rate_hz, 0) })}${rateSource(ecg.rate_source)},`);
  }
  if (Number.isFinite(ecg.beats)) parts.push(t('%(beats)s beats', { beats: ecg.beats }));
  const count = ecg.rejected_intervals;
  let text = parts.join(' ').replace(/,$/, '');
  if (count > 0) {
    const left = count === 1
      ? t('%(count)s beat-to-beat interval left out as implausible', { count })
      : t('%(count)s beat-to-beat intervals left out as implausible', { count });
    text += `; ${left}`;
  }
  if (!text) return '';
  return ecg.format ? t('Read as %(format)s: %(summary)s.', { format: ecg.format, summary: text }) : `${text}.`;
}

export function hideEcg() {
  el.result.hidden = true;
}

// report: the /api/v1/analyze/ecg JSON ({ ecg, vitals, arousal, ... }); null or undefined hides the card.
export function renderEcg(report) {
  if (!report) {
    hideEcg();
    return;
  }
  const { vitals, arousal } = report;
  el.hr.textContent = fixed(vitals?.heart_rate_bpm);
  el.rmssd.textContent = fixed(vitals?.rmssd_ms);
  el.sdnn.textContent = fixed(vitals?.sdnn_ms);
  el.quality.textContent = qualityText(vitals);
  el.quality.dataset.quality = vitals?.quality ?? 'none';
  el.arousal.textContent = fixed(arousal?.score, 2);
  el.baseline.textContent = baselineText(arousal);
  const lines = notes(report);
  el.note.replaceChildren(...lines.map((line) => Object.assign(document.createElement('p'), { textContent: line })));
  el.note.hidden = lines.length === 0;
  el.summary.textContent = summaryText(report.ecg);
  el.arousalMethod.textContent = arousal?.method ?? DASH;
  el.qualityMethod.textContent = vitals?.quality_method ?? DASH;
  el.method.hidden = !arousal?.method && !vitals?.quality_method;
  el.result.hidden = false;
  const series = ecgChartSeries(vitals);
  el.trend.hidden = series.length === 0;
  if (series.length) chart.show(series); // after un-hiding, so the chart can measure its box
}
