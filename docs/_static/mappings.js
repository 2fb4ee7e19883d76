// Every page: label table cells with their column heading (the stacked phone layout shows it),
// and make the type-to-filter box above mapping tables work, without a new page load.
"use strict";

function labelTableCells() {
  document.querySelectorAll("article table.docutils").forEach((table) => {
    const headings = Array.from(table.querySelectorAll("thead th")).map((th) => th.textContent.trim());
    table.querySelectorAll("tbody tr").forEach((row) => {
      Array.from(row.children).forEach((cell, index) => {
        if (headings[index] && !cell.hasAttribute("data-label")) cell.setAttribute("data-label", headings[index]);
      });
    });
  });
}

function rowText(row) {
  if (!row.dataset.search) {
    row.dataset.search = (row.textContent + " " + (row.dataset.status || "").replace(/-/g, " ")).toLowerCase();
  }
  return row.dataset.search;
}

function applyFilter(input, count) {
  const words = input.value.toLowerCase().replace(/-/g, " ").split(/\s+/).filter(Boolean);
  let shown = 0;
  let total = 0;
  document.querySelectorAll("table.mapping-table").forEach((table) => {
    let visibleInTable = 0;
    table.querySelectorAll("tbody tr").forEach((row) => {
      const text = rowText(row);
      const visible = words.every((word) => text.includes(word));
      row.hidden = !visible;
      total += 1;
      if (visible) visibleInTable += 1;
    });
    shown += visibleInTable;
    const section = table.closest("section");
    if (section && section.querySelectorAll("table.mapping-table").length === 1 && section.querySelector("h2")) {
      section.hidden = visibleInTable === 0;
    }
  });
  count.textContent = words.length ? `${shown} of ${total} shown` : `${total} APIs`;
}

function setUpFilter() {
  const input = document.getElementById("mapping-filter-input");
  if (!input) return;
  const count = document.querySelector(".mapping-filter-count");
  let pending = null;
  input.addEventListener("input", () => {
    clearTimeout(pending);
    pending = setTimeout(() => applyFilter(input, count), 60);
  });
  applyFilter(input, count);
}

document.addEventListener("DOMContentLoaded", () => {
  labelTableCells();
  setUpFilter();
});
