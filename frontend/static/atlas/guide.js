// Decision guide: progressive enhancement only (every action is also a plain link).
// Number keys pick an answer, Backspace goes back, and the share field selects itself on focus.
"use strict";
(() => {
  const guide = document.getElementById("guide");
  if (!guide) return;
  document.addEventListener("keydown", (event) => {
    if (event.altKey || event.ctrlKey || event.metaKey) return;
    const target = event.target;
    if (target.closest("input, select, textarea, [contenteditable]")) return;
    if (/^[1-9]$/.test(event.key)) {
      const option = guide.querySelectorAll(".guide-option")[Number(event.key) - 1];
      if (option) option.click();
    } else if (event.key === "Backspace") {
      const back = guide.querySelector(".guide-back");
      if (back) {
        event.preventDefault();
        back.click();
      }
    }
  });
  const share = document.getElementById("guide-share-url");
  if (share) share.addEventListener("focus", () => share.select());
})();
