// The chat widget's attach UI: an "Attach file" input and drag-and-drop (several files at once), and one
// transcript item per file showing its progress (percent, bytes, speed, time left), Pause/Resume and
// Cancel, then its state from the server: scanning, delivered to the agent, or rejected with the reason.
//
// Mount it once: mountAttach({root, row, transcript, chatApi}); call restore() after the transcript is
// (re)filled so unfinished uploads from before a reload show up ("select the same file again").
import { registerRenderer } from "../chat/transcript.js";
import { UploadApi } from "./api.js";
import { FileUpload } from "./multipart.js";
import { ATTACH_STRINGS as T, formatBytes } from "../chat/strings.js";

const POLL_MS = 3000; // how soon a file waiting for its scan first asks for its state
const POLL_MAX_MS = 30000;
const PROGRESS_EVERY_MS = 200;
const WATCHED = new Set(["scanning"]);
const SETTLED = new Set(["delivered", "rejected", "cancelled", "expired"]);

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

function button(text, onClick) {
  const node = el("button", "button button--small", text);
  node.type = "button";
  node.addEventListener("click", onClick);
  return node;
}

// One file's item: built once, then updated in place (so focus stays on its buttons).
class UploadView {
  constructor(attach, { name, size }) {
    this.attach = attach;
    this.upload = null;
    this.attachment = null;
    this.lastPaint = 0;
    this.element = el("div", "upload");
    this.name = el("p", "upload__name", name);
    this.bar = el("progress", "upload__bar");
    this.bar.max = 100;
    this.bar.value = 0;
    this.bar.setAttribute("aria-label", name);
    this.numbers = el("p", "upload__progress", T.progress({ percent: 0, loaded: 0, total: size, speed: 0 }));
    this.stateText = el("p", "upload__state");
    this.stateText.setAttribute("role", "status");
    this.reason = el("p", "upload__reason");
    this.actions = el("div", "upload__actions");
    this.pauseButton = button(T.pause, () => this.togglePause());
    this.cancelButton = button(T.cancel, () => this.cancel());
    this.cancelButton.setAttribute("aria-label", `${T.cancel} ${name}`);
    this.actions.append(this.pauseButton, this.cancelButton);
    this.receipt = el("dl", "upload__receipt");
    this.receipt.hidden = true;
    this.element.append(this.name, this.bar, this.numbers, this.stateText, this.reason, this.actions, this.receipt);
  }

  // The customer's record of a delivered file: what was sent, and the SHA-256 their browser computed
  // while sending it (the scanner's matched, or the file would not have been delivered).
  showReceipt() {
    const attachment = this.attachment || (this.upload && this.upload.attachment);
    const sha256 = (attachment && attachment.sha256) || (this.upload && this.upload.sha256);
    if (!attachment || !sha256) return;
    const at = new Date(attachment.uploaded_at || attachment.created_at);
    const rows = [
      [T.receipt.name, attachment.name],
      [T.receipt.size, formatBytes(attachment.size)],
      [T.receipt.sha256, sha256, "upload__sha256"],
      [T.receipt.time, Number.isNaN(at.getTime()) ? "" : at.toLocaleString()],
    ];
    this.receipt.replaceChildren(
      ...rows.flatMap(([term, value, className]) => [el("dt", "", term), el("dd", className, value)]),
    );
    this.receipt.hidden = false;
  }

  // Whether this item stands for an unfinished upload (from before a reload) of a file like `file`.
  awaits(file) {
    const a = this.attachment;
    return !this.upload && a && a.state === "uploading" && a.name === file.name && a.size === file.size;
  }

  bind(upload) {
    this.upload = upload;
    upload.addEventListener("state", () => this.onState());
    upload.addEventListener("progress", (event) => this.onProgress(event.detail));
    upload.addEventListener("network", (event) => {
      this.reason.textContent = event.detail.online ? "" : T.offline;
    });
    this.onState();
  }

  onState() {
    const upload = this.upload;
    if (upload.attachment) this.attach.known(upload.attachment.id, this);
    this.show(upload.state, upload.reason);
    if (upload.state === "scanning" || upload.state === "delivered") {
      this.bar.value = 100;
      this.numbers.textContent = T.progress({ percent: 100, loaded: upload.file.size, total: upload.file.size });
    }
    if (WATCHED.has(upload.state)) this.attach.watch(upload.attachment.id, this);
  }

  onProgress(detail) {
    const now = performance.now();
    if (now - this.lastPaint < PROGRESS_EVERY_MS && detail.loaded < detail.total) return;
    this.lastPaint = now;
    this.bar.value = detail.percent;
    this.numbers.textContent = T.progress(detail);
  }

  // From the server's view of the attachment (status polling, or after a reload).
  showAttachment(attachment) {
    this.attachment = attachment;
    if (this.upload && !this.upload.final) this.upload.adopt(attachment);
    else this.show(attachment.state, attachment.reason);
    if (attachment.state === "scanning" || attachment.state === "delivered") this.bar.value = 100;
  }

  show(state, reason) {
    this.element.dataset.state = state;
    this.stateText.textContent = T.states[state] || state;
    const waiting = state === "uploading" && !this.upload;
    this.reason.textContent = reason || (waiting ? T.reselect : "");
    const live = this.upload && ["preparing", "uploading", "paused", "failed"].includes(state);
    this.pauseButton.hidden = !live || state === "preparing";
    this.pauseButton.textContent = state === "paused" ? T.resume : state === "failed" ? T.retry : T.pause;
    this.pauseButton.setAttribute("aria-label", `${this.pauseButton.textContent} ${this.name.textContent}`);
    this.cancelButton.hidden = !(live || waiting);
    this.actions.hidden = this.pauseButton.hidden && this.cancelButton.hidden;
    if (state === "delivered") this.showReceipt();
  }

  togglePause() {
    if (!this.upload) return;
    if (this.upload.state === "uploading") this.upload.pause();
    else this.upload.resume();
  }

  async cancel() {
    if (this.upload) {
      await this.upload.cancel();
      return;
    }
    try {
      this.showAttachment((await this.attach.api.abort(this.attachment.id)).attachment);
    } catch (error) {
      this.reason.textContent = error.message;
    }
  }
}

class Attach {
  constructor({ root, row, transcript, chatApi, api, concurrency }) {
    this.transcript = transcript;
    this.api = api || UploadApi.fromChatApi(chatApi);
    this.concurrency = concurrency;
    this.counter = 0;
    this.views = []; // this page's items, in the order they were added
    this.byId = new Map(); // attachment id → view
    this.watching = new Set();
    registerRenderer("upload", (message, body) => body.append(message.view.element));
    // Server transcript items about an attachment show the same live view.
    registerRenderer("file", (message, body) => this.renderFile(message, body));
    this.addStylesheet();
    this.addInput(row);
    this.addDropZone(root);
  }

  addStylesheet() {
    const link = document.createElement("link");
    link.rel = "stylesheet";
    link.href = new URL("./attach.css", import.meta.url).href;
    document.head.append(link);
  }

  addInput(row) {
    const label = el("label", "attach");
    this.input = el("input", "attach__input");
    this.input.type = "file";
    this.input.multiple = true;
    this.input.id = "attach-file";
    label.append(this.input, el("span", "attach__text", T.attachButton));
    this.input.addEventListener("change", () => {
      this.addFiles(this.input.files);
      this.input.value = ""; // the same file may be chosen again (e.g. to resume)
    });
    row.prepend(label);
  }

  addDropZone(zone) {
    zone.dataset.dropHint = T.dropHint;
    let depth = 0;
    const carriesFiles = (event) => Array.from(event.dataTransfer?.types || []).includes("Files");
    zone.addEventListener("dragenter", (event) => {
      if (!carriesFiles(event)) return;
      event.preventDefault();
      depth += 1;
      zone.classList.add("attach-drop");
    });
    zone.addEventListener("dragover", (event) => {
      if (!carriesFiles(event)) return;
      event.preventDefault();
      event.dataTransfer.dropEffect = "copy";
    });
    zone.addEventListener("dragleave", () => {
      depth = Math.max(0, depth - 1);
      if (!depth) zone.classList.remove("attach-drop");
    });
    zone.addEventListener("drop", (event) => {
      if (!carriesFiles(event)) return;
      event.preventDefault();
      depth = 0;
      zone.classList.remove("attach-drop");
      this.addFiles(event.dataTransfer.files);
    });
  }

  // Start uploading each file; answers their FileUploads.
  addFiles(files) {
    const uploads = [];
    for (const file of Array.from(files || [])) {
      const upload = new FileUpload(file, this.api, { concurrency: this.concurrency });
      // The file an unfinished upload from before a reload is waiting for continues in its item.
      let view = this.views.find((v) => v.awaits(file));
      if (!view) {
        view = new UploadView(this, { name: file.name, size: file.size });
        this.place(view);
      }
      view.bind(upload);
      upload.start();
      uploads.push(upload);
    }
    return uploads;
  }

  place(view) {
    this.counter += 1;
    this.views.push(view);
    this.transcript.upsert({
      client_id: `upload-${this.counter}`,
      kind: "upload",
      direction: "customer",
      created_at: new Date().toISOString(),
      view,
    });
  }

  // A view now stands for attachment `id`; an older view of it (e.g. "select again" after a reload) goes.
  known(id, view) {
    const previous = this.byId.get(id);
    if (previous && previous !== view) {
      previous.element.closest("li")?.setAttribute("hidden", "");
      this.views = this.views.filter((v) => v !== previous);
    }
    this.byId.set(id, view);
  }

  // After the transcript is (re)filled: show this page's uploads again, and the chat's unfinished or
  // still-scanning files from before a reload.
  async restore() {
    const views = this.views;
    this.views = [];
    for (const view of views) if (!view.inMessage) this.place(view);
    let attachments;
    try {
      attachments = (await this.api.list()).attachments;
    } catch {
      return; // no session yet, or offline: nothing to restore
    }
    for (const attachment of attachments) {
      if (this.byId.has(attachment.id) || !["uploading", "scanning"].includes(attachment.state)) continue;
      const view = new UploadView(this, { name: attachment.name, size: attachment.size });
      this.place(view);
      this.known(attachment.id, view);
      view.showAttachment(attachment);
      if (WATCHED.has(attachment.state)) this.watch(attachment.id, view);
    }
  }

  renderFile(message, body) {
    let view = this.byId.get(message.attachment_id);
    if (!view) {
      view = new UploadView(this, { name: "", size: 0 });
      this.known(message.attachment_id, view);
      this.api.get(message.attachment_id).then(
        ({ attachment }) => {
          view.name.textContent = attachment.name;
          view.showAttachment(attachment);
          this.watch(attachment.id, view);
        },
        () => null,
      );
    } else if (!view.inMessage) {
      // Hide the page's own item once, when the server's item first takes the view over; a later
      // re-render (a status change) of the server's item must not hide that item itself.
      view.element.closest("li")?.setAttribute("hidden", "");
    }
    view.inMessage = true; // the server's item shows it from now on
    body.append(view.element);
  }

  // Ask for the attachment's state until it settles (scan verdict, delivery).
  watch(id, view) {
    if (this.watching.has(id)) return;
    this.watching.add(id);
    let wait = POLL_MS;
    const poll = async () => {
      try {
        const { attachment } = await this.api.get(id);
        view.showAttachment(attachment);
        if (SETTLED.has(attachment.state)) {
          this.watching.delete(id);
          return;
        }
      } catch (error) {
        if (error.status === 404 || error.status === 401) {
          this.watching.delete(id);
          return;
        }
      }
      wait = Math.min(wait * 1.5, POLL_MAX_MS); // a long scan is asked about less and less often
      setTimeout(poll, wait);
    };
    setTimeout(poll, wait);
  }
}

export function mountAttach(options) {
  return new Attach(options);
}
