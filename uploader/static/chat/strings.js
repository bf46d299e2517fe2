// Every text the widget shows (chat and file uploads), in one place for translation. Texts the server
// sends (error and refusal messages) live in ferry/errors.py. The embed may override `title`, `intro` and `launcher` (see config.js).

export const STRINGS = {
  lang: "en",
  title: "Chat with us",
  intro: "Tell us how we can help. Your name and email are optional.",
  nameLabel: "Your name",
  emailLabel: "Email",
  emailHint: "Optional. We only use it to reach you about this conversation.",
  startButton: "Start chat",
  closeButton: "Close chat",
  transcriptLabel: "Conversation",
  messageLabel: "Message",
  messageHint: "Enter sends, Shift+Enter starts a new line.",
  sendButton: "Send",
  retryButton: "Retry",
  quickReplies: "Choose an answer",
  you: "You",
  agent: "Agent",
  system: "Notice",
  attachment: "Attachment",
  status: {
    pending: "Sending…",
    sent: "Sent",
    delivered: "Delivered",
    read: "Read",
    failed: "Not delivered",
  },
  agentTyping: "The agent is typing…",
  emptyMessage: "Type a message before sending.",
  tooLong: (limit, length) => `Messages can be at most ${limit} characters long (this one has ${length}).`,
  charactersLeft: (n) => (n === 1 ? "1 character left" : `${n} characters left`),
  charactersOver: (n) => (n === 1 ? "1 character too many" : `${n} characters too many`),
  notDelivered: "A message could not be delivered. Use Retry to send it again.",
  offline: "Connection lost. Trying to reconnect…",
  online: "",
  networkError: "We could not reach the chat service. Please check your connection and try again.",
  genericError: "Something went wrong. Please try again.",
  unreadTitle: (count, title) => `(${count}) ${count === 1 ? "New message" : "New messages"} · ${title}`,
};

// -- file uploads ----------------------------------------------------------------------------------

// The same rule as ferry/sizes.py's human_size (decimal units, as Genesys states its limits), so the
// customer reads the sizes the agent reads; tests/uploader/test_sizes_js.py holds the two together.
const UNITS = ["kB", "MB", "GB", "TB"];

export function formatBytes(bytes) {
  if (bytes < 1000) return `${bytes} byte${bytes === 1 ? "" : "s"}`;
  let value = bytes / 1000;
  let unit = 0;
  while (value >= 999.5 && unit < UNITS.length - 1) {
    value /= 1000;
    unit += 1;
  }
  return `${value.toFixed(value < 10 ? 1 : 0)} ${UNITS[unit]}`;
}

export function formatDuration(seconds) {
  if (seconds < 60) return `${Math.max(1, Math.round(seconds))} s`;
  if (seconds < 3600) return `${Math.round(seconds / 60)} min`;
  const hours = Math.floor(seconds / 3600);
  return `${hours} h ${Math.round((seconds - hours * 3600) / 60)} min`;
}

export const ATTACH_STRINGS = {
  attachButton: "Attach file",
  dropHint: "Drop files to send them",
  pause: "Pause",
  resume: "Resume",
  cancel: "Cancel",
  retry: "Retry",
  states: {
    preparing: "Preparing…",
    uploading: "Uploading…",
    paused: "Paused",
    completing: "Finishing…",
    scanning: "Checking for viruses…",
    delivered: "Delivered to the agent",
    rejected: "Not sent",
    cancelled: "Cancelled",
    expired: "Not sent: the upload was not finished in time",
    failed: "Upload stopped",
  },
  receipt: { name: "File", size: "Size", sha256: "SHA-256", time: "Sent" },
  reselect: "Select the same file again to continue this upload.",
  offline: "Connection lost. The upload continues when it is back.",
  partFailed: "Storage kept refusing the file or could not be reached. Use Retry to continue.",
  discarded: "The upload was discarded by storage. Please send the file again.",
  progress: ({ percent, loaded, total, speed, remaining }) =>
    [
      `${Math.floor(percent)}%`,
      `${formatBytes(loaded)} of ${formatBytes(total)}`,
      speed > 0 ? `${formatBytes(speed)}/s` : "",
      remaining !== null && speed > 0 ? `${formatDuration(remaining)} left` : "",
    ]
      .filter(Boolean)
      .join(" · "),
};
