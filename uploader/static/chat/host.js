// The embed's link to the page that embeds it. A third-party iframe often gets no cookies and no
// storage, so the embedding page (embed.js, first-party on the customer's site) keeps the chat's token
// and hands it over when the frame asks. Messages are only taken from the parent window, and only from
// an origin in WIDGET_ORIGINS; they are only sent back to that origin.

const HELLO_WAIT_MS = 2000;

const detached = { token: null, save() {}, post() {} };

export function connectHost(allowedOrigins) {
  if (window.parent === window) return Promise.resolve(detached);
  return new Promise((resolve) => {
    const onMessage = (event) => {
      const data = event.data || {};
      if (event.source !== window.parent || !allowedOrigins.includes(event.origin) || data.type !== "ferry:hello") {
        return;
      }
      const origin = event.origin;
      finish({
        token: typeof data.token === "string" && data.token ? data.token : null,
        save: (token) => window.parent.postMessage({ type: "ferry:token", token }, origin),
        post: (message) => window.parent.postMessage(message, origin),
      });
    };
    const timer = setTimeout(() => finish(detached), HELLO_WAIT_MS);
    function finish(link) {
      clearTimeout(timer);
      window.removeEventListener("message", onMessage);
      resolve(link);
    }
    window.addEventListener("message", onMessage);
    // Says nothing but "ready": the parent answers only if it is the embed script of an allowed site.
    window.parent.postMessage({ type: "ferry:ready" }, "*");
  });
}
