// The widget's configuration: the page's data attributes, plus what the embed passes in the frame's
// query string (labels, accent colour). Nothing from the query string is ever used as HTML or CSS text.
import { STRINGS } from "./strings.js";

const LABELS = ["title", "intro"];
const MAX_LABEL = 200;
const HEX = /^#(?:[0-9a-f]{3}|[0-9a-f]{6})$/i;

export function readConfig(root) {
  const mode = root.dataset.mode === "embed" ? "embed" : "page";
  const params = mode === "embed" ? new URLSearchParams(window.location.search) : new URLSearchParams();
  const labels = {};
  for (const key of LABELS) {
    const value = (params.get(key) || "").trim();
    if (value) labels[key] = value.slice(0, MAX_LABEL);
  }
  const accent = params.get("accent") || "";
  const hostOrigins = (root.dataset.hostOrigins || "").split(" ").filter(Boolean);
  return { mode, api: root.dataset.api, labels, accent: HEX.test(accent) ? accent : null, hostOrigins };
}

// Fill every [data-string] element's text and [data-string-aria-label] element's name.
export function applyStrings(root, labels) {
  Object.assign(STRINGS, labels);
  document.documentElement.lang = STRINGS.lang;
  document.title = STRINGS.title;
  for (const node of root.querySelectorAll("[data-string]")) node.textContent = STRINGS[node.dataset.string];
  for (const node of root.querySelectorAll("[data-string-aria-label]")) {
    node.setAttribute("aria-label", STRINGS[node.dataset.stringAriaLabel]);
  }
}

function channel(value) {
  const c = value / 255;
  return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
}

function luminance(hex) {
  const full = hex.length === 4 ? `#${[...hex.slice(1)].map((c) => c + c).join("")}` : hex;
  const [r, g, b] = [1, 3, 5].map((i) => parseInt(full.slice(i, i + 2), 16));
  return 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b);
}

function contrast(a, b) {
  const [light, dark] = [luminance(a), luminance(b)].sort((x, y) => y - x);
  return (light + 0.05) / (dark + 0.05);
}

// The site's accent colour, with black or white text on it, whichever contrasts more (always ≥ 4.5:1).
export function applyAccent(root, accent) {
  if (!accent) return;
  const text = contrast(accent, "#ffffff") >= contrast(accent, "#000000") ? "#ffffff" : "#000000";
  root.style.setProperty("--accent", accent);
  root.style.setProperty("--on-accent", text);
}
