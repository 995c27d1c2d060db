// A patient's history page: charts of PSPI and heart rate from GET /api/v1/patients/<id>/readings,
// times shown in the browser's time zone, and the "Print report" button (the print layout is
// the @media print part of app.css).
import { getJson } from './api.js';
import { t } from './i18n.js';
import { heartRateChart, pspiChart, resizeForPrint, scaleChart } from './history-charts.js';
import { watchReassessment } from './reassess.js';
import { initScaleForm } from './scales.js';

const $ = (id) => document.getElementById(id);
const patientId = document.body.dataset.patientId;
const localTime = new Intl.DateTimeFormat(document.documentElement.lang || undefined, { dateStyle: 'medium', timeStyle: 'short' });

// The server writes UTC; the people reading the page (or its printout) think in local time.
function showLocalTimes() {
  for (const element of document.querySelectorAll('time[data-local]')) {
    const moment = new Date(element.getAttribute('datetime'));
    if (!Number.isNaN(moment.getTime())) element.textContent = localTime.format(moment);
  }
  const zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
  $('history-timezone').textContent = t('Times are local (%(zone)s).', { zone: zone ?? t('this computer’s time zone') });
}

function describe(readings, assessments) {
  if (readings.length === 0) return t('No readings yet.');
  const measured = readings.filter((r) => Number.isFinite(r.pspi)).length;
  // Counts as "label: n", so that no language needs plural forms here.
  return t('Readings: %(readings)s · assessments: %(assessments)s · with a PSPI: %(measured)s (the others had no face or no PSPI).',
    { readings: readings.length, assessments: assessments.length, measured });
}

async function showScaleChart() {
  const status = $('scale-chart-status');
  if ($('scale-chart-box').hidden) return [];
  let body;
  try {
    body = await getJson(`/api/v1/patients/${encodeURIComponent(patientId)}/scale-assessments`);
  } catch (error) {
    status.textContent = t('The pain scales could not be loaded: %(error)s', { error: error.message });
    return [];
  }
  status.textContent = t('Pain scale assessments: %(count)s.', { count: body.assessments.length });
  return [scaleChart($('history-scale-chart'), body.assessments)];
}

async function showCharts() {
  const status = $('history-status');
  let body;
  try {
    body = await getJson(`/api/v1/patients/${encodeURIComponent(patientId)}/readings`);
  } catch (error) {
    status.textContent = t('The readings could not be loaded: %(error)s', { error: error.message });
    return;
  }
  const readings = Array.isArray(body.readings) ? body.readings : [];
  status.textContent = describe(readings, body.assessments ?? []);
  // An empty chart would only show axes with made-up times: the status line says "No readings yet."
  $('history-pspi-box').hidden = readings.length === 0;
  const charts = readings.length ? [pspiChart($('history-pspi-chart'), readings)] : [];
  const withHeartRate = readings.some((r) => Number.isFinite(r.heart_rate_bpm));
  $('history-hr-none').hidden = withHeartRate;
  $('history-hr-box').hidden = !withHeartRate;
  if (withHeartRate) charts.push(heartRateChart($('history-hr-chart'), readings));
  charts.push(...await showScaleChart());
  resizeForPrint(charts);
}

showLocalTimes();
$('history-print').addEventListener('click', () => window.print());
initScaleForm();
watchReassessment();
showCharts();
