// Pages framed inside Genesys Cloud sign in through a pop-up (Genesys's login page cannot be framed) and
// reload once the pop-up closes; the pop-up's last page closes itself.
"use strict";

document.addEventListener("DOMContentLoaded", () => {
  for (const link of document.querySelectorAll("a[data-popup-login]")) {
    link.addEventListener("click", (event) => {
      if (window.top === window) {
        return; // not framed: an ordinary sign-in that comes back to this page
      }
      event.preventDefault();
      const popup = window.open(link.dataset.popupLogin, "ferry-login", "width=520,height=700");
      if (!popup) {
        return;
      }
      const timer = window.setInterval(() => {
        if (popup.closed) {
          window.clearInterval(timer);
          window.location.reload();
        }
      }, 500);
    });
  }
  if (document.body.hasAttribute("data-close-popup") && window.opener) {
    window.close();
  }
});
