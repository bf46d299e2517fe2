// Server-sent events read with fetch (not EventSource) so that the embed can send its bearer token.
// The cursor is the last message id the stream delivered; every reconnect resumes after it.

const RETRY_MIN_MS = 500;
const RETRY_MAX_MS = 10000;

const pause = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

export class EventStream {
  constructor(api, { onEvent, onState }) {
    this.api = api;
    this.onEvent = onEvent;
    this.onState = onState;
    this.stopped = true;
    this.controller = null;
  }

  start(after) {
    this.stop();
    this.after = after;
    this.stopped = false;
    this.run();
  }

  stop() {
    this.stopped = true;
    if (this.controller) this.controller.abort();
    this.controller = null;
  }

  async run() {
    let delay = RETRY_MIN_MS;
    while (!this.stopped) {
      const controller = new AbortController();
      this.controller = controller;
      try {
        const response = await fetch(this.api.eventsUrl(this.after), {
          headers: { Accept: "text/event-stream", ...this.api.authHeaders() },
          credentials: "same-origin",
          cache: "no-store",
          signal: controller.signal,
        });
        if (response.status === 401) {
          this.stopped = true;
          this.onEvent("end", await response.json().catch(() => ({})));
          return;
        }
        if (response.status === 503) {
          // Too many open chats on this server: wait as long as it asks (at least the back-off), say so.
          const refusal = await response.json().catch(() => ({}));
          const asked = Number(response.headers.get("Retry-After")) * 1000 || 0;
          this.onState("busy", refusal.message);
          await pause(Math.max(delay, asked) * (1 + Math.random() / 2));
          delay = Math.min(delay * 2, RETRY_MAX_MS);
          continue;
        }
        if (!response.ok || !response.body) throw new Error(`event stream answered ${response.status}`);
        this.onState("open");
        delay = RETRY_MIN_MS;
        await this.read(response.body);
        continue; // the server ends each stream after a while: reconnect at once
      } catch {
        if (this.stopped || controller.signal.aborted) return;
        this.onState("retrying");
      }
      await pause(delay);
      delay = Math.min(delay * 2, RETRY_MAX_MS);
    }
  }

  async read(body) {
    const reader = body.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      buffer += value;
      let end;
      while ((end = buffer.indexOf("\n\n")) >= 0) {
        this.dispatch(buffer.slice(0, end));
        buffer = buffer.slice(end + 2);
      }
    }
  }

  dispatch(block) {
    let event = "message";
    const data = [];
    for (const line of block.split("\n")) {
      if (!line || line.startsWith(":")) continue;
      const colon = line.indexOf(":");
      const field = colon < 0 ? line : line.slice(0, colon);
      const value = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
      if (field === "event") event = value;
      else if (field === "data") data.push(value);
      else if (field === "id" && /^\d+$/.test(value)) this.after = Math.max(this.after, Number(value));
    }
    if (data.length) this.onEvent(event, JSON.parse(data.join("\n")));
  }
}
