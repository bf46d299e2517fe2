// The upload API (uploader/uploads.py, described at /api/openapi.json), over the chat widget's own
// request function: same session (cookie or bearer token), same CSRF header, same JSON errors
// ({error, message} → an error with .status, .code, .message, .body).

export class UploadApi {
  // `request(method, path, body)` answers the parsed JSON or throws; ChatApi.request fits.
  constructor(request) {
    this.request = request;
  }

  static fromChatApi(chatApi) {
    return new UploadApi((method, path, body) => chatApi.request(method, path, body));
  }

  create(declaration) {
    return this.request("POST", "/attachments", declaration);
  }

  list() {
    return this.request("GET", "/attachments");
  }

  get(id) {
    return this.request("GET", `/attachments/${encodeURIComponent(id)}`);
  }

  sign(id, parts) {
    return this.request("POST", `/attachments/${encodeURIComponent(id)}/sign`, { parts });
  }

  parts(id) {
    return this.request("GET", `/attachments/${encodeURIComponent(id)}/parts`);
  }

  // `declared`: {sha256} of the whole file, as the browser read it.
  complete(id, declared = {}) {
    return this.request("POST", `/attachments/${encodeURIComponent(id)}/complete`, declared);
  }

  abort(id) {
    return this.request("DELETE", `/attachments/${encodeURIComponent(id)}`);
  }
}
