// jichitai-cloud — small keyboard helpers (own code; every page also works without it).
"use strict";

document.addEventListener("DOMContentLoaded", () => {
  // An error summary takes the focus, so a screen reader announces it and Tab goes to its links.
  const summary = document.getElementById("error-summary");
  if (summary) summary.focus();

  // A form is sent once: the submit button is disabled after the first press.
  for (const form of document.querySelectorAll("form[data-once]")) {
    form.addEventListener("submit", () => {
      for (const button of form.querySelectorAll("button[type=submit]")) button.disabled = true;
    });
  }

  // Search results: j / k or ↓ / ↑ move between the rows' links; Enter opens the person.
  const list = document.querySelector("[data-keyboard-list]");
  if (list) {
    const links = Array.from(list.querySelectorAll("a[data-row-link]"));
    document.addEventListener("keydown", (event) => {
      const target = event.target;
      const typing = target instanceof HTMLInputElement || target instanceof HTMLTextAreaElement ||
        target instanceof HTMLSelectElement;
      if (typing || event.altKey || event.ctrlKey || event.metaKey || links.length === 0) return;
      const at = links.indexOf(document.activeElement);
      let next = null;
      if (event.key === "j" || event.key === "ArrowDown") next = at < 0 ? 0 : Math.min(at + 1, links.length - 1);
      if (event.key === "k" || event.key === "ArrowUp") next = at < 0 ? 0 : Math.max(at - 1, 0);
      if (next !== null) {
        event.preventDefault();
        links[next].focus();
      }
    });
  }

  // Certificate form: 住民票コード and 個人番号 only for the categories the law allows (the server checks too).
  const category = document.querySelector("[data-number-categories]");
  if (category) {
    const allowed = category.getAttribute("data-number-categories").split(" ");
    const boxes = Array.from(document.querySelectorAll("input[data-number-item]"));
    const sync = () => {
      const ok = allowed.includes(category.value);
      for (const box of boxes) {
        if (box.hasAttribute("data-never")) continue;
        box.disabled = !ok;
        if (!ok) box.checked = false;
      }
    };
    category.addEventListener("change", sync);
    sync();
  }

  // 転居: the member rows matter only when 一部の世帯員 is chosen.
  const scope = document.querySelectorAll("input[name=scope]");
  const rows = document.getElementById("member-rows");
  if (scope.length && rows) {
    const sync = () => {
      const some = document.querySelector("input[name=scope]:checked")?.value === "some";
      rows.hidden = !some;
    };
    for (const radio of scope) radio.addEventListener("change", sync);
    sync();
  }
});
