// Live stream figures: results per second and ack round-trip times.
const RATE_WINDOW_MS = 2000;
const RTT_SAMPLES = 20;

export class RateMeter {
  constructor() {
    this.times = [];
  }

  reset() {
    this.times = [];
  }

  add(now = performance.now()) {
    this.times.push(now);
  }

  // Events per second over the last 2 s.
  rate(now = performance.now()) {
    while (this.times.length > 0 && this.times[0] <= now - RATE_WINDOW_MS) this.times.shift();
    return this.times.length / (RATE_WINDOW_MS / 1000);
  }
}

export class RoundTrips {
  constructor() {
    this.samples = [];
  }

  reset() {
    this.samples = [];
  }

  add(ms) {
    this.samples.push(ms);
    if (this.samples.length > RTT_SAMPLES) this.samples.shift();
  }

  get last() {
    return this.samples.at(-1) ?? null;
  }

  get median() {
    if (this.samples.length === 0) return null;
    const sorted = [...this.samples].sort((a, b) => a - b);
    const mid = sorted.length >> 1;
    return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
  }
}
