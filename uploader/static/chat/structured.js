// A bot's structured content under an agent message: quick replies as buttons, cards with their
// buttons and links. A press is announced as a "ferry-answer" event (the widget sends it); text is only
// ever set with textContent.
import { STRINGS } from "./strings.js";

export const ANSWER_EVENT = "ferry-answer";

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

function choice(message, group, text, payload) {
  const button = el("button", "button button--small msg__choice", text);
  button.type = "button";
  button.addEventListener("click", () => {
    for (const other of group.querySelectorAll("button")) other.disabled = true;
    button.setAttribute("aria-pressed", "true");
    button.dispatchEvent(
      new CustomEvent(ANSWER_EVENT, { bubbles: true, detail: { messageId: message.id, text, payload } }),
    );
  });
  return button;
}

function safeLink(value) {
  try {
    const url = new URL(value);
    return url.protocol === "https:" || url.protocol === "http:" ? url.href : null;
  } catch {
    return null;
  }
}

export function renderStructured(message, body) {
  const items = message.structured || [];
  const replies = items.filter((i) => i.type === "quick_reply");
  if (replies.length) {
    const group = el("div", "msg__choices");
    group.setAttribute("role", "group");
    group.setAttribute("aria-label", STRINGS.quickReplies);
    for (const reply of replies) group.append(choice(message, group, reply.text, reply.payload));
    body.append(group);
  }
  for (const card of items.filter((i) => i.type === "card")) {
    const box = el("div", "msg__card");
    box.append(el("p", "msg__card-title", card.title));
    if (card.description) box.append(el("p", "msg__card-text", card.description));
    const group = el("div", "msg__choices");
    for (const action of card.actions || []) {
      if (action.type === "postback") group.append(choice(message, group, action.text, action.payload));
      const href = action.type === "link" ? safeLink(action.url) : null;
      if (href) {
        const link = el("a", "msg__link", action.text);
        link.href = href;
        link.target = "_blank";
        link.rel = "noopener noreferrer";
        group.append(link);
      }
    }
    if (group.childElementCount) box.append(group);
    body.append(box);
  }
}
