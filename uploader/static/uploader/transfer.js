// The upload's logic that needs no browser: part sizing, what a resumed upload still has to send, the
// concurrency limiter, and retries with back-off. multipart.js drives a real upload with them; node's
// test runner checks them (tests/uploader/static/transfer.test.mjs).

// Delay before each attempt (ms); when they run out the caller gives up with the last error.
export const RETRY_DELAYS = [0, 1000, 3000, 5000, 10000, 20000, 30000];

// Stops the current run (pause, cancel) without it counting as a failure.
export class Stopped extends Error {}

// Bytes in part `number` (from 1) of a `size`-byte file cut into `partSize` parts: the last may be shorter.
export function partLength(size, partSize, number) {
  return Math.min(partSize, size - (number - 1) * partSize);
}

// [start, end) of part `number` in the file.
export function partRange(size, partSize, number) {
  const start = (number - 1) * partSize;
  return [start, start + partLength(size, partSize, number)];
}

// What storage already holds (parts of exactly the planned length count) and what is left to send.
export function remainingParts(listed, size, partSize, count) {
  const held = new Map();
  for (const part of listed) {
    if (part.size === partLength(size, partSize, part.number)) held.set(part.number, part.size);
  }
  const queue = [];
  for (let n = 1; n <= count; n += 1) if (!held.has(n)) queue.push(n);
  return { queue, confirmed: [...held.values()].reduce((sum, bytes) => sum + bytes, 0) };
}

// Whether an API refusal may go away by itself (no answer, server trouble, rate limit).
export function transient(error) {
  return Boolean(error) && (error.status === 0 || error.status === 429 || error.status >= 500);
}

// Where an upload stops after `error`: `rejected` when the server says no retry can change its answer
// (`retryable` false, from ferry/errors.py), else `failed`, which Retry resumes.
export function stateAfter(error) {
  return error && error.body && error.body.retryable === false ? "rejected" : "failed";
}

// A wait of about `ms`: ±20% jitter spreads the retries of many parts out.
export function jittered(ms, random = Math.random) {
  return ms * (0.8 + random() * 0.4);
}

export function delay(ms, signal) {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(new Stopped());
    const timer = setTimeout(resolve, jittered(ms));
    signal.addEventListener("abort", () => {
      clearTimeout(timer);
      reject(new Stopped());
    });
  });
}

// Runs `attempt()` until it answers. An error `retryable` accepts is tried again after the next delay
// (`onRetry` sees it first and may throw instead); while `isOnline()` is false, `reconnected()` is awaited
// and no attempt is used up. Anything else, or running out of delays, throws; an abort throws Stopped.
export async function retrying(attempt, { delays, signal, retryable, onRetry, isOnline, reconnected }) {
  for (let tries = 0; ; ) {
    if (signal.aborted) throw new Stopped();
    try {
      const answer = await attempt();
      if (signal.aborted) throw new Stopped(); // paused or cancelled while the answer was on its way
      return answer;
    } catch (error) {
      if (error instanceof Stopped || signal.aborted) throw new Stopped();
      if (!retryable(error)) throw error;
      if (onRetry) onRetry(error);
      if (!isOnline()) {
        await reconnected();
        continue;
      }
      tries += 1;
      if (tries >= delays.length) throw error;
      await delay(delays[tries], signal);
    }
  }
}

// Runs at most `limit` tasks at once, in the order they were asked for. Hashing reads each part into
// memory; one at a time (about 0.5 GB/s) stays ahead of the uploads without competing with them for
// the CPU, and keeps the next part's checksum the first one ready.
export class Limiter {
  constructor(limit) {
    this.limit = limit;
    this.running = 0;
    this.waiting = [];
  }

  run(task) {
    return new Promise((resolve, reject) => {
      this.waiting.push({ task, resolve, reject });
      this.next();
    });
  }

  next() {
    while (this.running < this.limit && this.waiting.length) {
      const { task, resolve, reject } = this.waiting.shift();
      this.running += 1;
      task()
        .then(resolve, reject)
        .finally(() => {
          this.running -= 1;
          this.next();
        });
    }
  }
}
