// One file's upload, browser → S3, through Ferry's upload API (api.js): parts of
// max(8 MiB, size / 10,000) bytes, several in flight, each retried with backoff and re-signed when its
// URL expires or S3 refuses it, each carrying its SHA-256 (computed here with crypto.subtle over the
// part's slice, signed into the URL, so S3 refuses a part that was corrupted on the way). The file is
// read slice by slice (Blob.slice), never whole. Resume: after a pause or a lost connection the parts
// S3 already holds are listed and skipped; after a reload the customer selects the same file again and
// its fingerprint (name, size, lastModified and the first MiB) finds the unfinished upload.
import { ATTACH_STRINGS as T } from "../chat/strings.js";
import { sha256 } from "../vendor/noble-hashes/sha2.js";
import {
  Limiter,
  RETRY_DELAYS,
  Stopped,
  partLength,
  partRange,
  remainingParts,
  retrying,
  stateAfter,
  transient,
} from "./transfer.js";

const MIB = 1024 * 1024;
const FINGERPRINT_HEAD = MIB;
const RESIGN_MARGIN_MS = 60 * 1000; // never start a PUT on a URL that expires within this margin
const SPEED_WINDOW_MS = 5000;
const HASHING_AT_ONCE = 1;

// States: preparing (fingerprint, declare), uploading, paused, completing, then from the server
// scanning → delivered | rejected (policy, size check or scan; see `reason`); also cancelled, expired,
// and failed (stopped after retries or by an error; resume() tries again).
const FINAL = new Set(["delivered", "rejected", "cancelled", "expired"]);

function base64(bytes) {
  let text = "";
  for (let i = 0; i < bytes.length; i += 1) text += String.fromCharCode(bytes[i]);
  return btoa(text);
}

function hex(bytes) {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

// Base64 SHA-256 of some bytes, as S3's x-amz-checksum-sha256 wants it.
async function sha256Base64(bytes) {
  return base64(new Uint8Array(await crypto.subtle.digest("SHA-256", bytes)));
}

// The whole file's SHA-256, declared at completion (the scanner's own must match). Fed each part's bytes
// as they are read for sending, in part order; parts this page never sends (storage already held them
// when it resumed) are read for the hash alone. Feeds run one at a time, so an aborted run's late read
// and the next run's cannot interleave.
class WholeFileHash {
  constructor(read) {
    this.read = read; // part number → Promise<Uint8Array>
    this.hasher = sha256.create();
    this.next = 1;
    this.chain = Promise.resolve();
    this.hex = null;
  }

  feed(number, bytes) {
    return this.serial(async () => {
      await this.upTo(number);
      if (number === this.next) {
        this.hasher.update(bytes);
        this.next += 1;
      }
    });
  }

  // Hex digest once every part up to `count` is in.
  digest(count) {
    return this.serial(async () => {
      if (this.hex === null) {
        await this.upTo(count + 1);
        this.hex = hex(this.hasher.digest());
      }
      return this.hex;
    });
  }

  async upTo(number) {
    while (this.next < number) {
      this.hasher.update(await this.read(this.next));
      this.next += 1;
    }
  }

  serial(task) {
    const result = this.chain.then(task);
    this.chain = result.catch(() => null);
    return result;
  }
}

// Identifies the same file when the customer selects it again (after a reload).
export async function fingerprintFile(file) {
  const meta = new TextEncoder().encode(`${file.name}\u0000${file.size}\u0000${file.lastModified}\u0000`);
  const head = new Uint8Array(await file.slice(0, FINGERPRINT_HEAD).arrayBuffer());
  const joined = new Uint8Array(meta.length + head.length);
  joined.set(meta);
  joined.set(head, meta.length);
  return `v1-${hex(new Uint8Array(await crypto.subtle.digest("SHA-256", joined)))}`;
}

// A part PUT that S3 (or the network) refused; its message is what the customer sees if retries run out.
class PartError extends Error {
  constructor(status, code) {
    super(T.partFailed);
    this.status = status;
    this.code = code;
  }
}

function checkpoint(run) {
  if (run.controller.signal.aborted) throw new Stopped();
}

function s3ErrorCode(xhr) {
  const match = /<Code>([^<]+)<\/Code>/.exec(xhr.responseText || "");
  return match ? match[1] : "";
}

function online(signal) {
  if (navigator.onLine) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const done = () => {
      window.removeEventListener("online", done);
      if (signal.aborted) reject(new Stopped());
      else resolve();
    };
    window.addEventListener("online", done);
    signal.addEventListener("abort", done);
  });
}

// Collects sign requests and sends them in batches: whatever is asked while one request is on its way
// goes out together in the next one.
class Signer {
  constructor(api, id, maxBatch) {
    this.api = api;
    this.id = id;
    this.maxBatch = maxBatch;
    this.waiting = [];
    this.busy = false;
  }

  sign(number, sha256) {
    return new Promise((resolve, reject) => {
      this.waiting.push({ number, sha256, resolve, reject });
      this.kick();
    });
  }

  kick() {
    if (this.busy || this.waiting.length === 0) return;
    this.busy = true;
    queueMicrotask(() => this.flush());
  }

  async flush() {
    const batch = this.waiting.splice(0, this.maxBatch);
    try {
      const data = await this.api.sign(
        this.id,
        batch.map(({ number, sha256 }) => ({ number, sha256 })),
      );
      const received = Date.now();
      const byNumber = new Map(data.parts.map((p) => [p.number, p]));
      for (const item of batch) {
        const part = byNumber.get(item.number);
        // Lifetimes come from the URL itself, so the customer's clock does not matter.
        const seconds = Number(new URL(part.url).searchParams.get("X-Amz-Expires") || 300);
        item.resolve({ ...part, sha256: item.sha256, expiresAt: received + seconds * 1000 });
      }
    } catch (error) {
      for (const item of batch) item.reject(error);
    } finally {
      this.busy = false;
      this.kick();
    }
  }
}

// Drives one file's upload. Listen for "state" (detail: {state, reason}), "progress"
// (detail: {loaded, total, percent, speed, remaining}) and "network" (detail: {online}).
export class FileUpload extends EventTarget {
  constructor(file, api, { concurrency = 6, retryDelays = RETRY_DELAYS } = {}) {
    super();
    this.file = file;
    this.api = api;
    this.concurrency = Math.min(6, Math.max(1, concurrency));
    this.retryDelays = retryDelays;
    this.state = "preparing";
    this.reason = null;
    this.attachment = null;
    this.run = null; // { controller, xhrs, ... } of the current attempt
    this.samples = [];
    this.whole = new WholeFileHash((number) => this.readPart(number));
  }

  // Hex SHA-256 of the whole file, once it is known (after completion).
  get sha256() {
    return this.whole.hex;
  }

  get final() {
    return FINAL.has(this.state);
  }

  start() {
    if (this.run || this.final) return this.finished;
    this.finished = this.execute();
    return this.finished;
  }

  // Stop sending; parts already in S3 stay there for resume().
  pause() {
    if (!this.run || this.state === "completing") return;
    this.stop();
    this.setState("paused");
  }

  resume() {
    if (this.run || this.final || this.state === "scanning") return this.finished;
    return this.start();
  }

  get cancellable() {
    return ["preparing", "uploading", "paused", "failed"].includes(this.state);
  }

  // Stop and make S3 drop every part.
  async cancel() {
    if (!this.cancellable) return;
    this.stop();
    this.setState("cancelled");
    if (this.creating) await this.creating.catch(() => null);
    if (!this.attachment) return;
    for (let attempt = 0; attempt < this.retryDelays.length; attempt += 1) {
      try {
        this.attachment = (await this.api.abort(this.attachment.id)).attachment;
        return;
      } catch (error) {
        if (!transient(error)) return;
        await new Promise((resolve) => setTimeout(resolve, this.retryDelays[attempt] || 1000));
      }
    }
  }

  stop() {
    if (!this.run) return;
    this.run.controller.abort();
    for (const xhr of this.run.xhrs) xhr.abort();
    this.run = null;
  }

  setState(state, reason = null) {
    this.state = state;
    this.reason = reason;
    this.dispatchEvent(new CustomEvent("state", { detail: { state, reason } }));
  }

  // Take the server's word for where the attachment is (after complete, or when resuming).
  adopt(attachment) {
    this.attachment = attachment;
    if (attachment.state !== "uploading") this.setState(attachment.state, attachment.reason);
  }

  async execute() {
    const run = { controller: new AbortController(), xhrs: new Set(), inflight: new Map(), prepared: new Map() };
    this.run = run;
    try {
      if (!this.attachment) await this.declare(run);
      if (this.attachment.state !== "uploading") return this.adopt(this.attachment);
      this.setState("uploading");
      for (let round = 0; ; round += 1) {
        await this.sendMissing(run);
        this.setState("completing");
        try {
          const sha256 = await this.whole.digest(this.attachment.part_count);
          checkpoint(run);
          const done = await this.call(run, () => this.api.complete(this.attachment.id, { sha256 }));
          this.adopt(done.attachment);
          return;
        } catch (error) {
          // Another tab or an earlier run may have left parts out: list again and send them.
          if (error.code !== "parts_missing" || round >= 2) throw error;
          this.setState("uploading");
        }
      }
    } catch (error) {
      if (error instanceof Stopped || run.controller.signal.aborted) return;
      if (error.body && error.body.attachment) this.attachment = error.body.attachment;
      this.setState(stateAfter(error), error.message || String(error));
    } finally {
      if (this.run === run) this.run = null;
    }
  }

  async declare(run) {
    const fingerprint = await fingerprintFile(this.file);
    checkpoint(run);
    const { name, size, type } = this.file;
    // The attachment is kept the moment it exists, so that a cancel while this was on its way aborts it.
    this.creating = this.call(run, async () => {
      const created = await this.api.create({ name, size, type, fingerprint });
      this.attachment = created.attachment;
      this.maxBatch = created.max_sign_batch;
      run.fresh = !created.resumed;
      return created;
    });
    await this.creating;
    this.creating = null;
  }

  // Send every part S3 does not hold yet (with the exact size the plan says).
  async sendMissing(run) {
    const { id, part_count: count } = this.attachment;
    // A brand-new upload holds nothing yet; anything else asks storage what it already has.
    const fresh = run.fresh;
    run.fresh = false;
    const listed = fresh ? { parts: [] } : await this.call(run, () => this.api.parts(id));
    const { size, part_size: partSize } = this.attachment;
    Object.assign(run, remainingParts(listed.parts, size, partSize, count));
    run.signer = new Signer(this.api, id, this.maxBatch || 100);
    run.hasher = new Limiter(HASHING_AT_ONCE);
    this.samples = [];
    this.progress(run);
    const workers = [];
    for (let i = 0; i < Math.min(this.concurrency, run.queue.length); i += 1) workers.push(this.worker(run));
    try {
      await Promise.all(workers);
    } catch (error) {
      run.controller.abort(); // one part gave up: stop the others too
      for (const xhr of run.xhrs) xhr.abort();
      throw error;
    }
    checkpoint(run);
  }

  partLength(number) {
    return partLength(this.attachment.size, this.attachment.part_size, number);
  }

  slice(number) {
    return this.file.slice(...partRange(this.attachment.size, this.attachment.part_size, number));
  }

  async readPart(number) {
    return new Uint8Array(await this.slice(number).arrayBuffer());
  }

  async worker(run) {
    while (run.queue.length && !run.controller.signal.aborted) {
      const number = run.queue.shift();
      this.prepare(run, number);
      // Hash and sign the next parts while this one travels.
      for (const next of run.queue.slice(0, this.concurrency)) this.prepare(run, next);
      await this.sendPart(run, number);
    }
  }

  // The part's checksum and a signed URL for it (reused while it has time left).
  prepare(run, number, { rehash = false, resign = false } = {}) {
    let entry = run.prepared.get(number);
    if (!entry || rehash) {
      // One read of the part serves its own checksum and the whole file's hash.
      const sha256 = run.hasher.run(async () => {
        const bytes = await this.readPart(number);
        await this.whole.feed(number, bytes);
        return sha256Base64(bytes);
      });
      entry = { sha256, ticket: sha256.then((sum) => run.signer.sign(number, sum)) };
    } else if (resign) {
      entry = { sha256: entry.sha256, ticket: entry.sha256.then((sum) => run.signer.sign(number, sum)) };
    }
    entry.ticket.catch(() => null); // consumed (and reported) by sendPart
    run.prepared.set(number, entry);
    return entry;
  }

  async sendPart(run, number) {
    let rehash = false;
    let resign = false;
    await retrying(
      async () => {
        let ticket = await this.prepare(run, number, { rehash, resign }).ticket;
        if (ticket.expiresAt - Date.now() < RESIGN_MARGIN_MS) {
          ticket = await this.prepare(run, number, { resign: true }).ticket;
        }
        rehash = resign = false;
        try {
          await this.put(run, number, ticket);
        } finally {
          run.inflight.delete(number);
        }
        run.prepared.delete(number);
        run.confirmed += this.partLength(number);
        this.progress(run);
      },
      {
        ...this.retryOptions(run),
        // Not the API refusing, nor the file unreadable: S3 or the network, or signing failed for now.
        retryable: (error) => error instanceof PartError || transient(error),
        onRetry: (error) => {
          // Signing failed for now; or 403: the URL expired or its signature no longer holds; or 400: S3
          // found the bytes do not match the checksum (BadDigest) or the length: read the slice again.
          // Each gets a new URL.
          if (!(error instanceof PartError) || error.status === 403) resign = true;
          if (error.status === 400) rehash = true;
          if (error.status === 404) throw new Error(T.discarded);
        },
      },
    );
  }

  put(run, number, ticket) {
    return new Promise((resolve, reject) => {
      if (run.controller.signal.aborted) return reject(new Stopped());
      const xhr = new XMLHttpRequest();
      run.xhrs.add(xhr);
      const settle = (fn, value) => {
        run.xhrs.delete(xhr);
        fn(value);
      };
      xhr.open("PUT", ticket.url);
      for (const [name, value] of Object.entries(ticket.headers || {})) xhr.setRequestHeader(name, value);
      xhr.upload.onprogress = (event) => {
        run.inflight.set(number, event.loaded);
        this.progress(run);
      };
      xhr.onload = () => {
        if (xhr.status >= 200 && xhr.status < 300) settle(resolve);
        else settle(reject, new PartError(xhr.status, s3ErrorCode(xhr)));
      };
      xhr.onerror = () => settle(reject, new PartError(0, "network"));
      xhr.onabort = () => settle(reject, run.controller.signal.aborted ? new Stopped() : new PartError(0, "aborted"));
      xhr.send(this.slice(number));
    });
  }

  // Wait for the browser to be online again; "network" events (detail: {online}) tell the UI.
  async reconnected(signal) {
    if (navigator.onLine) return;
    this.dispatchEvent(new CustomEvent("network", { detail: { online: false } }));
    try {
      await online(signal);
    } finally {
      this.dispatchEvent(new CustomEvent("network", { detail: { online: true } }));
    }
  }

  // A lost connection does not use up attempts: wait for it to come back.
  retryOptions(run) {
    const signal = run.controller.signal;
    return {
      delays: this.retryDelays,
      signal,
      isOnline: () => navigator.onLine,
      reconnected: () => this.reconnected(signal),
    };
  }

  // Calls the API, retrying what may go away by itself (no connection, 5xx, 429).
  call(run, request) {
    return retrying(request, { ...this.retryOptions(run), retryable: transient });
  }

  progress(run) {
    let loaded = run.confirmed || 0;
    for (const bytes of run.inflight.values()) loaded += bytes;
    const total = this.file.size;
    loaded = Math.min(loaded, total);
    const now = performance.now();
    this.samples.push([now, loaded]);
    while (this.samples.length > 2 && now - this.samples[0][0] > SPEED_WINDOW_MS) this.samples.shift();
    const [t0, b0] = this.samples[0];
    const speed = now - t0 > 250 ? Math.max(0, ((loaded - b0) * 1000) / (now - t0)) : 0;
    const remaining = speed > 0 ? (total - loaded) / speed : null;
    this.dispatchEvent(
      new CustomEvent("progress", {
        detail: { loaded, total, percent: total ? (loaded * 100) / total : 100, speed, remaining },
      }),
    );
  }
}
