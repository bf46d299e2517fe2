// The chat widget: start a chat, send messages (each with a client id, so a retried send never makes a
// second message), show the transcript live from the event stream, relay typing and "seen".
import { ChatApi } from "./api.js";
import { applyAccent, applyStrings, readConfig } from "./config.js";
import { connectHost } from "./host.js";
import { EventStream } from "./stream.js";
import { STRINGS } from "./strings.js";
import { ANSWER_EVENT } from "./structured.js";
import { Transcript } from "./transcript.js";
import { mountAttach } from "../uploader/attach.js";

const TYPING_EVERY_MS = 4000;
const RESEND_MIN_MS = 1000;
const RESEND_MAX_MS = 30000;

const $ = (id) => document.getElementById(id);

function newClientId() {
  return crypto.randomUUID();
}

// Sends the server has not confirmed yet survive a reload (sessionStorage), and are sent again with
// the same client id.
class Unconfirmed {
  constructor() {
    this.key = null;
  }

  use(chatId) {
    this.key = `ferry.chat.unconfirmed.${chatId}`;
  }

  all() {
    try {
      return JSON.parse(window.sessionStorage.getItem(this.key) || "[]");
    } catch {
      return [];
    }
  }

  write(items) {
    try {
      window.sessionStorage.setItem(this.key, JSON.stringify(items));
    } catch {
      // storage unavailable: unconfirmed sends then only live as long as the page
    }
  }

  add(item) {
    this.write([...this.all().filter((i) => i.client_id !== item.client_id), item]);
  }

  remove(clientId) {
    this.write(this.all().filter((i) => i.client_id !== clientId));
  }
}

class Widget {
  constructor(root) {
    this.root = root;
    this.config = readConfig(root);
    this.api = new ChatApi(this.config.api, this.config.mode);
    this.chat = null;
    this.unread = 0;
    this.lastTyping = 0;
    this.unconfirmed = new Unconfirmed();
    this.transcript = new Transcript($("transcript"), {
      onRetry: (message) => this.retry(message),
      agentFileUrl: (attachmentId) => this.api.agentFileUrl(attachmentId),
    });
    $("transcript").addEventListener(ANSWER_EVENT, (event) => this.answer(event.detail));
    this.attach = mountAttach({
      root: $("conversation"),
      row: $("composer").querySelector(".composer__row"),
      transcript: this.transcript,
      chatApi: this.api,
    });
    this.stream = new EventStream(this.api, {
      onEvent: (event, data) => this.onEvent(event, data),
      onState: (state, message) => this.connection(state, message),
    });
  }

  async init() {
    applyStrings(this.root, this.config.labels);
    applyAccent(this.root, this.config.accent);
    this.host = this.config.mode === "embed" ? await connectHost(this.config.hostOrigins) : null;
    if (this.host) this.api.useHost(this.host);
    this.bind();
    this.root.hidden = false;
    try {
      const data = await this.api.current();
      if (data.chat) this.showConversation(data);
      else this.showStart("");
    } catch (error) {
      if (error.status === 401) this.api.forget();
      this.showStart(error.message);
    }
  }

  bind() {
    $("start-form").addEventListener("submit", (event) => {
      event.preventDefault();
      this.start();
    });
    $("composer").addEventListener("submit", (event) => {
      event.preventDefault();
      this.submit();
    });
    const box = $("message");
    box.addEventListener("keydown", (event) => {
      if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
        event.preventDefault();
        this.submit();
      }
    });
    box.addEventListener("input", () => {
      this.updateCount();
      this.typing();
    });
    document.addEventListener("visibilitychange", () => {
      if (!document.hidden) this.caughtUp();
    });
    window.addEventListener("focus", () => this.caughtUp());
    if (this.config.mode === "embed") {
      const close = $("close-chat");
      close.hidden = false;
      close.addEventListener("click", () => this.host.post({ type: "ferry:close" }));
      document.addEventListener("keydown", (event) => {
        if (event.key === "Escape") this.host.post({ type: "ferry:close" });
      });
    }
  }

  // -- screens ---------------------------------------------------------------------------------

  showStart(message) {
    this.stream.stop();
    this.chat = null;
    $("conversation").hidden = true;
    $("start").hidden = false;
    $("start-error").textContent = message || "";
    $("start-chat").disabled = false;
  }

  showConversation(data) {
    this.chat = data.chat;
    this.unconfirmed.use(data.chat.id);
    $("start").hidden = true;
    $("conversation").hidden = false;
    this.transcript.reset(data.messages);
    this.attach.restore();
    this.setTyping(Boolean(data.agent_typing));
    this.updateCount();
    for (const item of this.unconfirmed.all()) {
      if (!this.transcript.has(item.client_id)) this.deliver(item);
      else this.unconfirmed.remove(item.client_id);
    }
    this.stream.start(this.transcript.maxId);
    this.caughtUp();
    $("message").focus();
  }

  async start() {
    const button = $("start-chat");
    button.disabled = true;
    $("start-error").textContent = "";
    try {
      const data = await this.api.startChat({ name: $("start-name").value, email: $("start-email").value });
      this.showConversation(data);
    } catch (error) {
      $("start-error").textContent = error.message;
      button.disabled = false;
    }
  }

  // -- sending ---------------------------------------------------------------------------------

  submit() {
    const box = $("message");
    const text = box.value.trim();
    const length = [...text].length;
    if (!text) {
      this.notice(STRINGS.emptyMessage);
      return;
    }
    if (length > this.chat.max_chars) {
      this.notice(STRINGS.tooLong(this.chat.max_chars, length));
      return;
    }
    this.notice("");
    this.lastTyping = 0; // the next keystroke starts a new burst of typing
    box.value = "";
    this.updateCount();
    const item = { client_id: newClientId(), text, created_at: new Date().toISOString() };
    this.unconfirmed.add(item);
    this.deliver(item);
  }

  // Show the message as sending and POST it until the server answers (same client id every time).
  async deliver(item, delay = RESEND_MIN_MS) {
    this.transcript.upsert({ ...item, direction: "customer", kind: "text", status: "pending" });
    try {
      const data = await this.api.send(item.client_id, item.text);
      this.unconfirmed.remove(item.client_id);
      this.transcript.upsert(data.message);
    } catch (error) {
      if (error.transient && this.chat) {
        setTimeout(() => this.deliver(item, Math.min(delay * 2, RESEND_MAX_MS)), delay);
      } else if (error.status === 401) {
        this.showStart(error.message);
      } else {
        this.unconfirmed.remove(item.client_id);
        this.transcript.upsert({ ...item, status: "failed", failure_reason: error.message });
        this.notice(error.message);
      }
    }
  }

  // The customer pressed a quick reply or a card's button: it becomes their message.
  async answer({ messageId, text, payload }) {
    try {
      this.transcript.upsert((await this.api.answer(messageId, newClientId(), text, payload)).message);
      this.notice("");
    } catch (error) {
      if (error.status === 401) this.showStart(error.message);
      else this.notice(error.message);
    }
  }

  async retry(message) {
    if (!message.id) {
      this.unconfirmed.add(message);
      this.deliver({ client_id: message.client_id, text: message.text, created_at: message.created_at });
      return;
    }
    try {
      this.transcript.upsert((await this.api.retry(message.id)).message);
      this.notice("");
      $("message").focus(); // the Retry button is gone: keep the keyboard somewhere useful
    } catch (error) {
      if (error.status === 401) this.showStart(error.message);
      else this.notice(error.message);
    }
  }

  typing() {
    const now = Date.now();
    if (!this.chat || !this.chat.typing_indicators || !$("message").value.trim()) return;
    if (now - this.lastTyping < TYPING_EVERY_MS) return;
    this.lastTyping = now;
    this.api.typing().catch(() => {}); // best effort: a lost typing event is harmless
  }

  updateCount() {
    if (!this.chat) return;
    const left = this.chat.max_chars - [...$("message").value.trim()].length;
    const count = $("message-count");
    count.textContent =
      left < 0 ? STRINGS.charactersOver(-left) : left <= this.chat.max_chars / 10 ? STRINGS.charactersLeft(left) : "";
    count.classList.toggle("count--over", left < 0);
  }

  // -- receiving -------------------------------------------------------------------------------

  onEvent(event, data) {
    if (event === "message") {
      const added = this.transcript.upsert(data);
      if (data.client_id) this.unconfirmed.remove(data.client_id);
      if (added && data.direction === "agent") {
        this.setTyping(false);
        this.arrived();
      }
      if (data.direction !== "agent" && data.status === "failed") this.notice(STRINGS.notDelivered);
    } else if (event === "statuses") {
      for (const item of data) this.transcript.setStatus(item.id, item.status, item.failure_reason);
    } else if (event === "status") {
      this.transcript.setStatus(data.id, data.status, data.failure_reason);
      if (data.status === "failed") this.notice(STRINGS.notDelivered);
    } else if (event === "typing") {
      this.setTyping(data.agent);
    } else if (event === "end") {
      this.api.forget();
      this.showStart(data.message);
    }
  }

  setTyping(active) {
    $("typing").textContent = active ? STRINGS.agentTyping : "";
  }

  // A new agent message: announce it in the title (and to the embedding page) while the tab is hidden.
  arrived() {
    if (document.hidden || !document.hasFocus()) {
      this.unread += 1;
      this.showUnread();
    } else {
      this.markSeen();
    }
  }

  caughtUp() {
    if (!this.chat || document.hidden) return;
    this.unread = 0;
    this.showUnread();
    this.markSeen();
  }

  showUnread() {
    document.title = this.unread ? STRINGS.unreadTitle(this.unread, STRINGS.title) : STRINGS.title;
    if (this.host) this.host.post({ type: "ferry:unread", count: this.unread });
  }

  markSeen() {
    const upTo = this.transcript.maxId;
    if (!this.chat || upTo <= (this.seenUpTo || 0)) return;
    this.seenUpTo = upTo;
    this.api.seen(upTo).catch(() => {
      this.seenUpTo = 0; // try again next time
    });
  }

  notice(text) {
    $("notice").textContent = text;
  }

  // The stream reconnects every CHAT_STREAM_SECONDS: once it is back, clear only the notice that it was lost.
  connection(state, message) {
    if (state === "retrying" || state === "busy") this.notice((this.lost = message || STRINGS.offline));
    else if (this.lost && $("notice").textContent === this.lost) this.notice(STRINGS.online);
  }
}

const root = document.getElementById("ferry-chat");
if (root) new Widget(root).init();
