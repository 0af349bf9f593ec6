// lamina dashboard: small progressive enhancements. Every page works without this file.
"use strict";

function enhance(root) {
  // Filter a table's rows by key as you type (the target page's config table).
  for (const input of root.querySelectorAll("input[data-filter-table]")) {
    const table = document.getElementById(input.dataset.filterTable);
    const empty = document.getElementById("filter-empty");
    if (!table) continue;
    input.addEventListener("input", () => {
      const needle = input.value.trim().toLowerCase();
      let shown = 0;
      for (const row of table.tBodies[0].rows) {
        const match = !needle || (row.dataset.key || "").toLowerCase().includes(needle);
        row.hidden = !match;
        if (match) shown += 1;
      }
      if (empty) empty.hidden = shown !== 0;
    });
  }

  // Ask before a button that cannot be undone (Reject).
  for (const button of root.querySelectorAll("button[data-confirm]")) {
    button.addEventListener("click", (event) => {
      if (!window.confirm(button.dataset.confirm)) event.preventDefault();
    });
  }

  // Show the reader's local time when they hover a relative time.
  for (const time of root.querySelectorAll("time[datetime]")) {
    const moment = new Date(time.getAttribute("datetime"));
    if (!Number.isNaN(moment.getTime())) time.title = moment.toLocaleString();
  }
}

// Live updates: the server says "update" (server-sent events) when lamina recorded something;
// the page fetches itself again and swaps its main content, unless the reader is typing.
function live(url) {
  if (!window.EventSource) return;
  const source = new EventSource(url);
  source.addEventListener("update", async () => {
    const active = document.activeElement;
    if (active && active.closest("main form") && active.value) return;
    const response = await fetch(window.location.href, { headers: { Accept: "text/html" } });
    if (!response.ok || response.redirected) return;
    const fresh = new DOMParser().parseFromString(await response.text(), "text/html");
    const main = document.getElementById("main");
    const next = fresh.getElementById("main");
    if (!main || !next) return;
    main.innerHTML = next.innerHTML;
    const nav = document.querySelector(".mainnav");
    const freshNav = fresh.querySelector(".mainnav");
    if (nav && freshNav) nav.innerHTML = freshNav.innerHTML;
    enhance(main);
    document.body.dataset.updated = String(Number(document.body.dataset.updated || 0) + 1);
  });
}

document.addEventListener("DOMContentLoaded", () => {
  enhance(document);
  if (document.body.dataset.live) live(document.body.dataset.live);
});
