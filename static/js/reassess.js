// The patient page's pain-reassessment flag (#scale-reassess, rendered by the server with its
// due and overdue times): while the page stays open it turns "due" and then "overdue" on time,
// and raises a Web Notification at each step when the browser allows them ("Notify me" asks).
import { t } from './i18n.js';

const STATES = {
  due: { text: t('Pain reassessment due now.'), title: t('Pain reassessment due') },
  overdue: { text: t('Pain reassessment overdue.'), title: t('Pain reassessment overdue') },
};

function notify(state) {
  if (!('Notification' in window) || Notification.permission !== 'granted') return;
  const patient = document.getElementById('patient-identifier')?.textContent ?? '';
  // A Notification is shown by constructing it; nothing else is needed from the object.
  new Notification(STATES[state].title, { body: patient, tag: `painscope-reassess-${patient}` });
}

function become(flag, state) {
  if (flag.dataset.state === state || (flag.dataset.state === 'overdue' && state === 'due')) return;
  flag.dataset.state = state;
  flag.className = `reassess reassess-${state}`;
  flag.textContent = STATES[state].text;
  notify(state);
}

function offerNotifications() {
  const button = document.getElementById('scale-notify');
  if (!button || !('Notification' in window) || Notification.permission !== 'default') return;
  button.hidden = false;
  button.addEventListener('click', async () => {
    await Notification.requestPermission();
    button.hidden = true;
  });
}

export function watchReassessment() {
  const flag = document.getElementById('scale-reassess');
  if (!flag) return;
  offerNotifications();
  for (const state of ['due', 'overdue']) {
    const at = Date.parse(flag.dataset[state === 'due' ? 'dueAt' : 'overdueAt']);
    if (Number.isNaN(at)) continue;
    const wait = at - Date.now();
    if (wait > 0) setTimeout(() => become(flag, state), wait);
  }
}
