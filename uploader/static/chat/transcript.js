// The transcript: items ordered by the server's integer message id, each shown once whether it came
// from the history, the event stream or the answer to a send (matched by id, or by the widget's client
// id before the server has given one). Text is only ever set with textContent: nothing a customer or
// an agent writes is parsed as HTML.
import { STRINGS } from "./strings.js";
import { renderStructured } from "./structured.js";

// An answer that arrives late must not move a message back (delivered → sent); "failed" and a retry
// after it always apply.
const PROGRESS = { pending: 0, sent: 1, delivered: 2, read: 3 };

function isBehind(incoming, known) {
  return incoming in PROGRESS && known in PROGRESS && PROGRESS[incoming] < PROGRESS[known];
}

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

// Only http(s) links are shown (never javascript: or data:).
function webUrl(value) {
  try {
    const url = new URL(value, window.location.href);
    return url.protocol === "http:" || url.protocol === "https:" ? url.href : null;
  } catch {
    return null;
  }
}

function formatTime(iso) {
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? "" : date.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
}

// A file the agent sent is in Ferry's bucket: its short-lived URL is asked for when it is shown, and
// again when the pointer or focus reaches the link once that one may have expired.
const AGENT_FILE_URL_MS = 60_000;

function showAgentFile(link, preview, attachmentId, agentFileUrl) {
  let fetchedAt = 0;
  const refresh = () => {
    if (Date.now() - fetchedAt < AGENT_FILE_URL_MS) return;
    fetchedAt = Date.now();
    agentFileUrl(attachmentId).then(
      (url) => {
        const href = webUrl(url);
        if (!href) return;
        link.href = href;
        if (preview && !preview.src) preview.src = href;
      },
      () => link.classList.add("msg__link--unavailable"),
    );
  };
  refresh();
  link.addEventListener("pointerenter", refresh);
  link.addEventListener("focus", refresh);
}

function renderAttachments(message, agentFileUrl) {
  const list = el("ul", "msg__attachments");
  for (const attachment of message.attachments || []) {
    const fromFerry = Boolean(attachment.attachment_id && agentFileUrl);
    const href = fromFerry ? null : webUrl(attachment.url);
    if (!href && !fromFerry) continue;
    const name = attachment.filename || STRINGS.attachment;
    const item = el("li", "msg__attachment");
    const link = el("a", "msg__link");
    if (href) link.href = href;
    link.target = "_blank";
    link.rel = "noopener noreferrer";
    let preview = null;
    if (attachment.media_type === "Image") {
      preview = el("img", "msg__preview");
      if (href) preview.src = href;
      preview.alt = name;
      preview.loading = "lazy";
      link.append(preview);
    } else {
      link.textContent = name;
    }
    if (fromFerry) showAgentFile(link, preview, attachment.attachment_id, agentFileUrl);
    item.append(link);
    list.append(item);
  }
  return list.childElementCount ? list : null;
}

// How each kind of item is drawn; the attachment issue adds "file" (upload progress, scan state).
const RENDERERS = {
  text(message, body, transcript) {
    if (message.text) body.append(el("p", "msg__text", message.text));
    const attachments = renderAttachments(message, transcript && transcript.agentFileUrl);
    if (attachments) body.append(attachments);
    renderStructured(message, body);
  },
};

export function registerRenderer(kind, render) {
  RENDERERS[kind] = render;
}

export class Transcript {
  constructor(list, { onRetry, agentFileUrl }) {
    this.list = list;
    this.onRetry = onRetry;
    this.agentFileUrl = agentFileUrl; // attachment id → Promise of a presigned URL
    this.byKey = new Map(); // "id:<n>" or "client:<id>" → { message, node }
  }

  reset(messages) {
    this.list.replaceChildren();
    this.byKey.clear();
    for (const message of messages) this.upsert(message);
  }

  get maxId() {
    let max = 0;
    for (const { message } of this.byKey.values()) if (message.id) max = Math.max(max, message.id);
    return max;
  }

  has(clientId) {
    return this.byKey.has(`client:${clientId}`);
  }

  // Add or update one item; answers true when it is new.
  upsert(message) {
    const known =
      (message.id && this.byKey.get(`id:${message.id}`)) ||
      (message.client_id && this.byKey.get(`client:${message.client_id}`));
    if (known) {
      const merged = { ...known.message, ...message };
      if (isBehind(message.status, known.message.status)) merged.status = known.message.status;
      this.replace(known, merged);
      return false;
    }
    const list = this.list;
    const atBottom = list.scrollHeight - list.scrollTop - list.clientHeight < 48;
    const entry = { message, node: this.render(message) };
    this.index(entry);
    this.insert(entry);
    if (atBottom) list.scrollTop = list.scrollHeight;
    return true;
  }

  setStatus(id, status, failureReason) {
    const known = this.byKey.get(`id:${id}`);
    if (known) this.replace(known, { ...known.message, status, failure_reason: failureReason });
  }

  index(entry) {
    if (entry.message.id) this.byKey.set(`id:${entry.message.id}`, entry);
    if (entry.message.client_id) this.byKey.set(`client:${entry.message.client_id}`, entry);
  }

  // Update an item in place: the log announces additions, so a status change must not re-add the item.
  replace(entry, message) {
    const previous = entry.message;
    entry.message = message;
    this.index(entry);
    const node = entry.node;
    if (message.id) node.dataset.id = String(message.id);
    const sameBody = message.kind === "text" && previous.kind === message.kind && previous.text === message.text
      && (previous.attachments || []).length === (message.attachments || []).length;
    if (!sameBody) node.querySelector(".msg__body").replaceWith(this.renderBody(message));
    this.updateStatus(node, previous, message);
    if (!this.inPlace(node)) {
      node.remove();
      this.insert(entry);
    }
  }

  updateStatus(node, previous, message) {
    const meta = node.querySelector(".msg__meta");
    if (!meta) {
      if (message.direction !== "agent" && message.status) node.append(this.renderStatus(message));
      return;
    }
    const failedBefore = previous.status === "failed";
    if (failedBefore || message.status === "failed") {
      if (failedBefore && message.status === "failed" && previous.failure_reason === message.failure_reason) return;
      meta.replaceWith(this.renderStatus(message));
      return;
    }
    meta.className = `msg__meta msg__meta--${message.status}`;
    meta.querySelector(".msg__status").textContent = STRINGS.status[message.status] || message.status;
  }

  // Whether a node with an id sits between a smaller id and a larger one (or an item without one).
  inPlace(node) {
    const id = Number(node.dataset.id || 0);
    if (!id) return true;
    const before = node.previousElementSibling;
    const after = node.nextElementSibling;
    return (!before || (Boolean(before.dataset.id) && Number(before.dataset.id) < id))
      && (!after || !after.dataset.id || Number(after.dataset.id) > id);
  }

  // Items with an id are ordered by it; items still waiting for one stay at the end.
  insert(entry) {
    const id = entry.message.id;
    if (id) {
      for (const child of this.list.children) {
        const other = Number(child.dataset.id || 0);
        if (!other || other > id) {
          this.list.insertBefore(entry.node, child);
          return;
        }
      }
    }
    this.list.append(entry.node);
  }

  render(message) {
    // A file's item is the scanner's notice about it, but the file is the customer's own.
    const direction = message.kind === "file" ? "customer" : message.direction || "customer";
    const item = el("li", `msg msg--${direction}`);
    if (message.id) item.dataset.id = String(message.id);
    if (message.client_id) item.dataset.clientId = message.client_id;
    const who = { customer: STRINGS.you, agent: STRINGS.agent, system: STRINGS.system }[direction] || "";
    const head = el("p", "msg__head");
    head.append(el("span", "msg__who", who));
    const time = el("time", "msg__time", formatTime(message.created_at));
    if (message.created_at) time.dateTime = message.created_at;
    head.append(time);
    item.append(head);
    item.append(this.renderBody(message));
    if (direction !== "agent" && message.status) item.append(this.renderStatus(message));
    return item;
  }

  renderBody(message) {
    const body = el("div", "msg__body");
    (RENDERERS[message.kind] || RENDERERS.text)(message, body, this);
    return body;
  }

  renderStatus(message) {
    const meta = el("p", `msg__meta msg__meta--${message.status}`);
    meta.append(el("span", "msg__status", STRINGS.status[message.status] || message.status));
    if (message.status === "failed") {
      if (message.failure_reason) meta.append(el("span", "msg__reason", message.failure_reason));
      const retry = el("button", "button button--small", STRINGS.retryButton);
      retry.type = "button";
      retry.addEventListener("click", () => this.onRetry(message));
      meta.append(retry);
    }
    return meta;
  }
}
