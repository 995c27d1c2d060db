// The one place that speaks. Phrases always come from the server (speech.text);
// this module only decides when to say them and how (browser voice or server WAV).
import { speechWavUrl } from './api.js';
import { hook } from './state.js';

const MUTE_KEY = 'painscope.mute';
const VOICES_WAIT_MS = 1000; // Chrome fills getVoices() asynchronously after load
const START_TIMEOUT_MS = 1500; // no 'start' by then: the browser cannot speak
const REPEATED_LEVELS = new Set(['mild', 'moderate', 'severe']); // pain that persists is re-announced

const synth = window.speechSynthesis ?? null;
let muted = readMuted();
let current = null; // the utterance or Audio that is speaking now, if any
const voicesSettled = waitForVoices();

function readMuted() {
  try {
    return localStorage.getItem(MUTE_KEY) === '1';
  } catch {
    return false; // storage blocked (private mode, kiosk policy): default to speaking
  }
}

function waitForVoices() {
  if (!synth || synth.getVoices().length > 0) return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      synth.removeEventListener('voiceschanged', done);
      resolve();
    };
    const timer = setTimeout(done, VOICES_WAIT_MS);
    synth.addEventListener('voiceschanged', done);
  });
}

function silence() {
  if (current instanceof Audio) current.pause();
  if (synth && (synth.speaking || synth.pending)) synth.cancel();
  current = null;
}

// Server-rendered WAV for kiosks without browser voices. A failed play (autoplay
// policy, TTS unavailable) is not reported: the same sentence is always on screen.
function playWav(text) {
  silence();
  const audio = new Audio(speechWavUrl(text));
  current = audio;
  audio.play().catch(() => {});
}

function speakWithVoice(text) {
  const utterance = new SpeechSynthesisUtterance(text);
  // The phrase is in the page's language (the server chose it); the browser picks a voice for it.
  utterance.lang = document.documentElement.dataset.speechLang || document.documentElement.lang || 'en-GB';
  let started = false;
  utterance.addEventListener('start', () => {
    started = true;
  });
  current = utterance;
  synth.speak(utterance);

  const stillWanted = () => current === utterance && !muted;
  const timer = setTimeout(() => {
    if (!started && stillWanted()) playWav(text);
  }, START_TIMEOUT_MS);
  voicesSettled.then(() => {
    if (synth.getVoices().length === 0 && stillWanted()) {
      clearTimeout(timer);
      playWav(text);
    }
  });
}

// Says `text` now, replacing whatever is being said (a stale level is worse than none).
export function speak(text) {
  if (!text || muted) return;
  hook.spoken.push(text);
  silence();
  if (synth) speakWithVoice(text);
  else playWav(text);
}

export function isMuted() {
  return muted;
}

export function setMuted(value) {
  muted = value;
  try {
    localStorage.setItem(MUTE_KEY, value ? '1' : '0');
  } catch {
    // Not persisted; the switch still works for this page.
  }
  if (muted) silence();
}

// Live policy: speak when the level changes, and repeat at most every repeatS
// seconds while pain persists. Any other state ('none', no face) is said once per change.
export class LevelAnnouncer {
  constructor(repeatS) {
    this.repeatMs = repeatS * 1000;
    this.reset();
  }

  reset() {
    this.level = null;
    this.spokenAt = -Infinity;
  }

  offer(level, text, now = performance.now()) {
    const changed = level !== this.level;
    const repeatDue = REPEATED_LEVELS.has(level) && now - this.spokenAt >= this.repeatMs;
    if (!changed && !repeatDue) return;
    this.level = level;
    this.spokenAt = now;
    speak(text);
  }
}
