// Search page: pages whose API names match the query come first, above Sphinx's full-text results.
// The index (_static/api-names.js, written at build time) holds [title, url, [API names]] per page.
"use strict";

// How well one API name matches the query; 0 = not at all. Higher is better.
function apiNameScore(name, query) {
  const full = name.toLowerCase();
  const q = query.toLowerCase();
  if (full === q) return 100;
  if (full.endsWith("." + q)) return 90;          // "nn.Linear", "Linear"
  const last = full.slice(full.lastIndexOf(".") + 1);
  if (last.startsWith(q)) return 70 - Math.min(20, last.length - q.length);   // "CrossEntropy"
  if (full.includes("." + q)) return 50;
  if (full.includes(q)) return 30;
  return 0;
}

function apiMatches(query) {
  const entries = window.MAPPING_API_NAMES || [];
  const scored = [];
  for (const [title, url, names] of entries) {
    const score = Math.max(...names.map((name) => apiNameScore(name, query)));
    if (score > 0) scored.push({ title, url, score });
  }
  scored.sort((a, b) => b.score - a.score || a.title.localeCompare(b.title));
  return scored.slice(0, 20);
}

function showApiMatches() {
  const query = (new URLSearchParams(window.location.search).get("q") || "").trim();
  if (!query || /\s/.test(query)) return;
  const matches = apiMatches(query);
  if (!matches.length) return;
  const root = document.documentElement.dataset.content_root || "";
  const box = document.createElement("section");
  box.id = "api-name-results";
  const heading = document.createElement("h2");
  heading.textContent = "API names";
  const list = document.createElement("ul");
  list.className = "search";
  for (const match of matches) {
    const item = document.createElement("li");
    const link = document.createElement("a");
    link.href = root + match.url;
    link.textContent = match.title;
    item.appendChild(link);
    list.appendChild(item);
  }
  box.append(heading, list);
  const results = document.getElementById("search-results");
  const container = results ? results.parentNode : document.querySelector("article");
  container.insertBefore(box, results || container.firstChild);
}

document.addEventListener("DOMContentLoaded", showApiMatches);
