// The widget's JSON API client. The standalone page is identified by its HttpOnly cookie; the embed
// (a third-party iframe, which gets no cookies) by a bearer token the embedding page keeps (host.js).
import { STRINGS } from "./strings.js";

export class ApiError extends Error {
  constructor(status, code, message, body = {}) {
    super(message);
    this.status = status;
    this.code = code;
    this.body = body;
  }

  // Worth sending again unchanged later (no answer, or the server was briefly unwell).
  get transient() {
    return this.status === 0 || this.status >= 500;
  }
}

export class ChatApi {
  constructor(base, mode) {
    this.base = base;
    this.embed = mode === "embed";
    this.host = null;
    this.token = null;
  }

  // The embed's token comes from, and goes back to, the page that embeds it.
  useHost(host) {
    this.host = host;
    this.token = host.token;
  }

  authHeaders() {
    return this.token ? { Authorization: `Bearer ${this.token}` } : {};
  }

  async request(method, path, body) {
    const headers = { Accept: "application/json", "X-Ferry-Chat": "1", ...this.authHeaders() };
    const init = { method, headers, credentials: "same-origin", cache: "no-store" };
    if (body !== undefined) {
      headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    let response;
    try {
      response = await fetch(this.base + path, init);
    } catch {
      throw new ApiError(0, "network", STRINGS.networkError);
    }
    const data = await response.json().catch(() => ({}));
    if (!response.ok) {
      throw new ApiError(response.status, data.error || "error", data.message || STRINGS.genericError, data);
    }
    return data;
  }

  async startChat(details) {
    const data = await this.request("POST", "/chats", { ...details, mode: this.embed ? "embed" : "page" });
    if (data.token) {
      this.token = data.token;
      if (this.host) this.host.save(data.token);
    }
    return data;
  }

  forget() {
    this.token = null;
    if (this.host) this.host.save(null);
  }

  current() {
    return this.request("GET", "/chat");
  }

  send(clientId, text) {
    return this.request("POST", "/messages", { client_id: clientId, text });
  }

  retry(messageId) {
    return this.request("POST", `/messages/${encodeURIComponent(messageId)}/retry`, {});
  }

  answer(messageId, clientId, text, payload) {
    return this.request("POST", `/messages/${encodeURIComponent(messageId)}/answers`, {
      client_id: clientId,
      text,
      payload,
    });
  }

  typing() {
    return this.request("POST", "/typing", {});
  }

  seen(upTo) {
    return this.request("POST", "/seen", { up_to: upTo });
  }

  async agentFileUrl(attachmentId) {
    return (await this.request("GET", `/agent-files/${encodeURIComponent(attachmentId)}`)).url;
  }

  eventsUrl(after) {
    return `${this.base}/events?after=${encodeURIComponent(after)}`;
  }
}
