// lamina dashboard: small progressive enhancements. Every page works without this file.
"use strict";

document.addEventListener("DOMContentLoaded", () => {
  // Filter a table's rows by key as you type (the target page's config table).
  for (const input of document.querySelectorAll("input[data-filter-table]")) {
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
  for (const button of document.querySelectorAll("button[data-confirm]")) {
    button.addEventListener("click", (event) => {
      if (!window.confirm(button.dataset.confirm)) event.preventDefault();
    });
  }

  // Show the reader's local time when they hover a relative time.
  for (const time of document.querySelectorAll("time[datetime]")) {
    const moment = new Date(time.getAttribute("datetime"));
    if (!Number.isNaN(moment.getTime())) time.title = moment.toLocaleString();
  }
});
