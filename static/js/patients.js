// The patient picker shared by both tabs, filled from GET /api/v1/patients. Its value is the
// patient's id: uploads send it as `patient_id`, the live camera in its `start` options (read
// at Start). Empty ("not recorded") saves nothing. `/?patient=ID` (the history page's
// "Assess this patient") preselects that patient.
import { getJson } from './api.js';
import { t } from './i18n.js';

const PATIENTS_URL = '/api/v1/patients';

const $ = (id) => document.getElementById(id);
const select = $('patient-select');
const uploadRecord = $('upload-record');
const liveRecord = $('live-record');

function label(patient) {
  return patient.display_name ? `${patient.identifier} – ${patient.display_name}` : patient.identifier;
}

// The chosen patient's id as a string, or null when nothing is to be recorded.
export function chosenPatient() {
  return select?.value || null;
}

export function chosenPatientLabel() {
  return select?.selectedOptions[0]?.textContent ?? '';
}

// `record` of an upload's response ({assessment_id, readings}) for the patient `who`
// (chosenPatientLabel() when it was sent); null hides the line.
export function showUploadRecord(record, who = chosenPatientLabel()) {
  if (!uploadRecord) return;
  uploadRecord.hidden = !record;
  if (!record) return;
  uploadRecord.textContent = t('Saved to the record of %(who)s: assessment %(assessment)s, readings: %(readings)s.',
    { who, assessment: record.assessment_id, readings: record.readings });
}

// `record` of a live ack ({assessment_id, readings_committed, committed_through_s, error?}) for the
// patient `who` (chosen at Start); null hides the line.
export function showLiveRecord(record, who = chosenPatientLabel()) {
  if (!liveRecord) return;
  liveRecord.hidden = !record;
  if (!record) return;
  const saved = t('Recording for %(who)s (assessment %(assessment)s): seconds saved: %(seconds)s.',
    { who, assessment: record.assessment_id, seconds: record.readings_committed });
  liveRecord.textContent = record.error ? `${saved} ${record.error.message}` : saved;
}

export async function setupPatientPicker() {
  if (!select) return;
  let body;
  try {
    body = await getJson(PATIENTS_URL);
  } catch (error) {
    select.title = t('The patients could not be read (%(error)s); nothing is recorded.', { error: error.message });
    return;
  }
  const patients = Array.isArray(body?.patients) ? body.patients : [];
  for (const patient of patients) {
    const option = document.createElement('option');
    option.value = String(patient.id);
    option.textContent = label(patient);
    select.append(option);
  }
  const wanted = new URLSearchParams(window.location.search).get('patient');
  if (wanted && patients.some((patient) => String(patient.id) === wanted)) select.value = wanted;
}
