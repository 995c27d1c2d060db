// Long work as jobs (video analyses, scale pre-fills): a job is followed on the page's Socket.IO
// connection (/jobs: the server pushes each change) with a poll of GET /api/v1/jobs/<id> as a
// fallback while the socket is down; cancelJob() sends DELETE. showProgress() draws a job on a
// progress bar with its percentage and the time left.
import { io } from '../vendor/socket.io.esm.min.js';
import { ApiError, getJson, deleteJson } from './api.js';
import { percent as percentText } from './format.js';
import { t } from './i18n.js';

const POLL_MS = 1000; // only while the socket is not connected
const FINAL = new Set(['done', 'failed', 'cancelled']);

let socket = null;
const followers = new Map(); // job id -> { onUpdate, resolve }

function deliver(job) {
  const follower = followers.get(job.id);
  if (!follower) return;
  follower.onUpdate(job);
  if (FINAL.has(job.state)) {
    followers.delete(job.id);
    follower.resolve(job);
  }
}

function connect() {
  if (socket) return;
  socket = io('/jobs', { transports: ['websocket'] });
  socket.on('job', deliver);
}

async function poll(id) {
  while (followers.has(id)) {
    await new Promise((resolve) => { setTimeout(resolve, POLL_MS); });
    if (!followers.has(id) || socket?.connected) continue;
    try {
      deliver(await getJson(`/api/v1/jobs/${encodeURIComponent(id)}`));
    } catch (error) {
      if (error instanceof ApiError && error.status === 404) {
        followers.delete(id);
      }
    }
  }
}

// Resolves with the job once it has ended (done, failed or cancelled); onUpdate(job) on every change.
export function followJob(job, onUpdate) {
  connect();
  return new Promise((resolve) => {
    followers.set(job.id, { onUpdate, resolve });
    onUpdate(job);
    poll(job.id);
  });
}

export async function cancelJob(id) {
  const job = await deleteJson(`/api/v1/jobs/${encodeURIComponent(id)}`);
  deliver(job);
  return job;
}

function formatSeconds(seconds) {
  if (seconds >= 90) return `${Math.round(seconds / 60)} min`;
  return `${Math.max(1, Math.round(seconds))} s`;
}

// The bar (a <progress>) and its text: "Queued", "42% · about 1 min left", "Finishing".
export function showProgress(bar, text, job) {
  const percent = Math.round((job.progress ?? 0) * 100);
  bar.value = percent;
  bar.setAttribute('aria-valuetext', `${percent}%`);
  if (job.state === 'queued') {
    text.textContent = t('Queued: waiting for a free analyser…');
  } else if (job.state === 'running') {
    const left = job.seconds_left === null ? t('estimating time left')
      : t('about %(time)s left', { time: formatSeconds(job.seconds_left) });
    text.textContent = t('%(percent)s · %(frames)s frames · %(left)s', { percent: percentText(percent / 100), frames: job.frames, left });
  } else {
    text.textContent = '';
  }
}
