// Ferry's chat on a customer's own site, with one tag:
//
//   <script src="https://ferry.example.com/chat/embed.js" async
//           data-title="Chat with us" data-intro="We usually answer within minutes."
//           data-launcher="Chat" data-accent="#0b57d0"></script>
//
// `data-ferry-origin` overrides where Ferry is (default: where this script came from). The chat runs
// in an iframe on Ferry's origin, so the site's styles and scripts cannot touch it and its styles
// cannot leak out; the launcher button lives in a shadow root for the same reason. The site's
// origin must be listed in Ferry's WIDGET_ORIGINS.
(() => {
  const script = document.currentScript;
  if (!script) return;
  const data = script.dataset;
  const origin = new URL(data.ferryOrigin || script.src, window.location.href).origin;
  const accent = /^#(?:[0-9a-f]{3}|[0-9a-f]{6})$/i.test(data.accent || "") ? data.accent : "#0b57d0";
  const launcherLabel = data.launcher || "Chat";
  const title = data.title || "Chat";

  const params = new URLSearchParams();
  for (const key of ["title", "intro"]) if (data[key]) params.set(key, data[key]);
  params.set("accent", accent);

  const host = document.createElement("div");
  host.setAttribute("data-ferry-chat", "");
  const shadow = host.attachShadow({ mode: "open" });

  const frame = document.createElement("iframe");
  frame.src = `${origin}/chat/frame?${params}`;
  frame.title = title;
  frame.hidden = true;
  Object.assign(frame.style, {
    position: "fixed",
    right: "16px",
    bottom: "84px",
    width: "min(400px, calc(100vw - 32px))",
    height: "min(640px, calc(100vh - 108px))",
    border: "1px solid #8a8a8a",
    borderRadius: "12px",
    background: "#ffffff",
    boxShadow: "0 8px 24px rgba(0, 0, 0, 0.25)",
    zIndex: "2147483646",
  });

  const button = document.createElement("button");
  button.type = "button";
  button.textContent = launcherLabel;
  button.setAttribute("aria-expanded", "false");
  Object.assign(button.style, {
    position: "fixed",
    right: "16px",
    bottom: "16px",
    minWidth: "56px",
    minHeight: "48px",
    padding: "0 20px",
    border: "2px solid #ffffff",
    borderRadius: "24px",
    background: accent,
    color: textOn(accent),
    font: "600 16px/1.2 system-ui, sans-serif",
    cursor: "pointer",
    boxShadow: "0 4px 12px rgba(0, 0, 0, 0.3)",
    zIndex: "2147483647",
  });

  const badge = document.createElement("span");
  Object.assign(badge.style, {
    marginLeft: "8px",
    padding: "0 6px",
    borderRadius: "10px",
    background: "#b3261e",
    color: "#ffffff",
    font: "700 13px/20px system-ui, sans-serif",
  });
  badge.hidden = true;
  button.append(badge);

  function setOpen(open) {
    frame.hidden = !open;
    button.setAttribute("aria-expanded", String(open));
    if (open) frame.focus();
  }

  // The chat's token lives here, in the site's own storage: the iframe is third-party and browsers
  // increasingly give it no storage of its own.
  const tokenKey = `ferry.chat.token:${origin}`;
  const storage = {
    get() {
      try {
        return window.localStorage.getItem(tokenKey);
      } catch {
        return null;
      }
    },
    set(token) {
      try {
        if (token) window.localStorage.setItem(tokenKey, token);
        else window.localStorage.removeItem(tokenKey);
      } catch {
        // no storage: the chat lasts as long as the page
      }
    },
  };

  button.addEventListener("click", () => setOpen(frame.hidden));
  window.addEventListener("message", (event) => {
    if (event.origin !== origin || event.source !== frame.contentWindow || !event.data) return;
    if (event.data.type === "ferry:ready") {
      frame.contentWindow.postMessage({ type: "ferry:hello", token: storage.get() }, origin);
    } else if (event.data.type === "ferry:token") {
      storage.set(typeof event.data.token === "string" ? event.data.token : null);
    } else if (event.data.type === "ferry:close") {
      setOpen(false);
      button.focus();
    } else if (event.data.type === "ferry:unread") {
      const count = Number(event.data.count) || 0;
      badge.hidden = count === 0;
      badge.textContent = String(count);
      button.setAttribute("aria-label", count ? `${launcherLabel} (${count} new)` : launcherLabel);
    }
  });

  shadow.append(frame, button);
  if (document.body) document.body.append(host);
  else document.addEventListener("DOMContentLoaded", () => document.body.append(host));

  // Black or white text on the accent, whichever contrasts more (WCAG AA).
  function textOn(hex) {
    const full = hex.length === 4 ? `#${[...hex.slice(1)].map((c) => c + c).join("")}` : hex;
    const lum = [1, 3, 5]
      .map((i) => parseInt(full.slice(i, i + 2), 16) / 255)
      .map((c) => (c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4));
    const l = 0.2126 * lum[0] + 0.7152 * lum[1] + 0.0722 * lum[2];
    return (1.05 / (l + 0.05)) >= ((l + 0.05) / 0.05) ? "#ffffff" : "#000000";
  }
})();
