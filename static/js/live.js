// Live tab: camera -> Socket.IO /live -> results, with backpressure.
// At most MAX_IN_FLIGHT frames are un-acked at once and never more than
// live_max_fps are sent; a frame that cannot be sent is simply not captured.
import { io } from '../vendor/socket.io.esm.min.js';
import { closeCamera, FrameGrabber, openCamera } from './camera.js';
import { config } from './config.js';
import { chosenEstimator } from './estimators.js';
import { chosenPatient, chosenPatientLabel, showLiveRecord } from './patients.js';
import { RateMeter, RoundTrips } from './livestats.js';
import {
  bodyWanted,
  el, clearPicture, resetReadings, setPhase, setStatus, setStreaming, showBaseline, showError, showEstimator, showResult,
  showStats,
} from './live-view.js';
import { levelOf } from './levels.js';
import { LevelAnnouncer } from './speech.js';
import { hook } from './state.js';
import { t } from './i18n.js';

const MAX_IN_FLIGHT = 2;
const FRAME_ACK_TIMEOUT_MS = 5000; // a lost ack must not hold a slot forever
const CONTROL_ACK_TIMEOUT_MS = 5000; // start / calibrate / stop
const VIDEO_WAIT_MS = 100; // retry delay while the camera has no frame yet
const STATS_INTERVAL_MS = 500; // refresh rates even when no result arrives

const announcer = new LevelAnnouncer(config.speechRepeatS);
const grabber = new FrameGrabber(config.jpegQuality);
const results = new RateMeter();
const roundTrips = new RoundTrips();
const minIntervalMs = 1000 / config.liveMaxFps;

const session = {
  stream: null,
  socket: null,
  estimator: null, // read from the picker at Start; a change applies from the next Start
  patient: null, // { id, label } recorded for, read at Start like the estimator; null: not recorded
  streaming: false, // the server accepted `start` on the current connection
  seq: 0,
  inFlight: new Map(), // seq -> { sentAt, frameSize }; a slot is taken from capture until ack
  lastCaptureAt: -Infinity,
  lastShownSeq: 0,
  startedAt: 0,
  pumpTimer: null,
  statsTimer: null,
};

function schedulePump(delayMs) {
  if (session.pumpTimer !== null) return;
  session.pumpTimer = setTimeout(() => {
    session.pumpTimer = null;
    pump();
  }, delayMs);
}

// Sends the next frame if a slot is free and the frame-rate cap allows it.
function pump() {
  if (!session.streaming || session.inFlight.size >= MAX_IN_FLIGHT) return; // an ack will call pump
  if (!FrameGrabber.ready(el.video)) {
    schedulePump(VIDEO_WAIT_MS);
    return;
  }
  const wait = session.lastCaptureAt + minIntervalMs - performance.now();
  if (wait > 0) {
    schedulePump(wait);
    return;
  }
  sendFrame();
  pump(); // the second slot, or a timer for the next one
}

async function sendFrame() {
  const seq = ++session.seq;
  const tMs = performance.now();
  const slot = { sentAt: null, frameSize: null };
  session.lastCaptureAt = tMs;
  session.inFlight.set(seq, slot);
  let frame;
  try {
    frame = await grabber.capture(el.video);
  } catch (error) {
    session.inFlight.delete(seq);
    showError(error.message, { fromFrame: true });
    schedulePump(VIDEO_WAIT_MS);
    return;
  }
  // The connection may have dropped while encoding; disconnect already freed the slots.
  if (!session.streaming || session.inFlight.get(seq) !== slot) return;
  slot.sentAt = performance.now();
  slot.frameSize = { width: frame.width, height: frame.height };
  session.socket
    .timeout(FRAME_ACK_TIMEOUT_MS)
    .emit('frame', { seq, t_ms: tMs, jpeg: frame.jpeg }, (error, reply) => onFrameAck(seq, slot, tMs, error, reply));
}

function onFrameAck(seq, slot, tMs, error, reply) {
  if (session.inFlight.get(seq) !== slot) return; // from a connection that has since closed
  session.inFlight.delete(seq);
  if (error || !reply) {
    showError(t('The server did not answer a frame in time.'), { fromFrame: true });
  } else {
    roundTrips.add(performance.now() - slot.sentAt);
    if (reply.error) showError(reply.error.message, { fromFrame: true });
    else if (!reply.dropped && seq > session.lastShownSeq) onResult(seq, slot, tMs, reply);
  }
  pump();
}

function onResult(seq, slot, tMs, result) {
  session.lastShownSeq = seq; // an older ack arriving late must not overwrite a newer result
  results.add();
  hook.lastLiveResult = result;
  hook.liveResultCount += 1;
  if (result.record) showLiveRecord(result.record, session.patient?.label);
  showResult(result, slot.frameSize, (tMs - session.startedAt) / 1000);
  // The server says which level the sentence announces: the one held for the last second.
  announcer.offer(result.speech?.level ?? levelOf(result), result.speech?.text);
  refreshStats();
}

function refreshStats() {
  showStats(results.rate(), roundTrips.last, roundTrips.median);
}

function freeSlots() {
  session.streaming = false;
  session.inFlight.clear();
  clearTimeout(session.pumpTimer);
  session.pumpTimer = null;
}

async function startSession() {
  setStatus(t('Starting session…'));
  let reply;
  try {
    const options = session.estimator ? { estimator: session.estimator } : {}; // none: the server's default
    if (bodyWanted()) options.body = true;
    if (session.patient) options.patient_id = Number(session.patient.id); // a reconnection starts a new assessment
    reply = await session.socket.timeout(CONTROL_ACK_TIMEOUT_MS).emitWithAck('start', options);
  } catch {
    reply = { error: { message: t('The live service did not answer.') } };
  }
  if (reply.error) {
    await stop({ status: t('Camera off'), error: reply.error.message });
    return;
  }
  session.streaming = true;
  showEstimator(reply.session?.estimator);
  setStreaming();
  setPhase('streaming');
  showError('');
  pump();
}

function onDisconnect(reason) {
  freeSlots();
  if (!session.socket) return; // we are stopping
  if (reason === 'io server disconnect') {
    // The server ended the session; Socket.IO will not reconnect by itself.
    stop({ status: t('Disconnected'), error: t('The server closed the live session.') });
    return;
  }
  setStatus(t('Disconnected'));
  setPhase('paused');
  showError(t('Connection to the server lost. Reconnecting…'));
}

function onConnectError(error) {
  if (session.socket?.active) {
    setStatus(t('Disconnected'));
    showError(t('Cannot reach the live service. Retrying…'));
    return;
  }
  // Refused by the server (e.g. not logged in): retrying would not help.
  stop({ status: t('Disconnected'), error: t('The live service refused the connection: %(error)s', { error: error.message }) });
}

function connect() {
  setStatus(t('Connecting…'));
  const socket = io('/live', { transports: ['websocket'] });
  session.socket = socket;
  // The socket's address (wss:// on an https:// page), for the browser tests.
  socket.io.on('open', () => { hook.liveSocketUrl = socket.io.engine.transport.uri(); });
  socket.on('connect', startSession); // also after an automatic reconnection
  socket.on('disconnect', onDisconnect);
  socket.on('connect_error', onConnectError);
}

async function start() {
  session.estimator = chosenEstimator(); // kept for reconnections; a later change waits for the next Start
  session.patient = chosenPatient() ? { id: chosenPatient(), label: chosenPatientLabel() } : null;
  showLiveRecord(null);
  setPhase('starting');
  showError('');
  setStatus(t('Starting camera…'));
  resetReadings();
  try {
    session.stream = await openCamera(el.video);
  } catch (error) {
    await stop({ status: error.status ?? t('Camera unavailable'), error: error.message });
    return;
  }
  announcer.reset();
  results.reset();
  roundTrips.reset();
  session.lastShownSeq = session.seq;
  session.startedAt = performance.now();
  session.statsTimer = setInterval(refreshStats, STATS_INTERVAL_MS);
  connect();
}

// Releases camera and socket at once; used by stop() and on page unload.
function teardown() {
  const { socket } = session;
  session.socket = null;
  freeSlots();
  clearInterval(session.statsTimer);
  socket?.disconnect();
  closeCamera(el.video, session.stream);
  session.stream = null;
  clearPicture();
}

async function stop({ status = t('Camera off'), error = '' } = {}) {
  const { socket } = session;
  session.streaming = false;
  if (socket?.connected) {
    try {
      const reply = await socket.timeout(CONTROL_ACK_TIMEOUT_MS).emitWithAck('stop', {});
      if (reply?.record) showLiveRecord(reply.record, session.patient?.label); // the last second, saved at stop
    } catch {
      // No answer: disconnecting below ends the session on the server anyway.
    }
  }
  teardown();
  setPhase('off');
  setStatus(status);
  showError(error);
}

async function calibrate() {
  el.calibrate.disabled = true;
  showError('');
  try {
    const reply = await session.socket.timeout(CONTROL_ACK_TIMEOUT_MS).emitWithAck('calibrate', {});
    if (reply.error) showError(reply.error.message);
    else showBaseline(reply.baseline);
  } catch {
    showError(t('The server did not answer the calibration request.'));
  } finally {
    el.calibrate.disabled = !session.streaming;
  }
}

export function setupLive() {
  el.start.addEventListener('click', start);
  el.stop.addEventListener('click', () => stop());
  el.calibrate.addEventListener('click', calibrate);
  window.addEventListener('pagehide', () => {
    if (session.socket?.connected) session.socket.emit('stop', {});
    teardown();
  });
}
