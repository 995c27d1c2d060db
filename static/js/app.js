// Entry point: wires the header mute switch and estimator picker, the tabs and the two panels.
import { setupEstimatorPicker } from './estimators.js';
import { setupPatientPicker } from './patients.js';
import { isMuted, setMuted } from './speech.js';
import { setupLive } from './live.js';
import { setupTabs } from './tabs.js';
import { setupUpload } from './upload.js';

const mute = document.getElementById('mute-toggle');
mute.checked = isMuted();
mute.addEventListener('change', () => setMuted(mute.checked));

setupEstimatorPicker();
setupPatientPicker();
setupTabs(document.querySelector('[role="tablist"]'));
setupUpload();
setupLive();
