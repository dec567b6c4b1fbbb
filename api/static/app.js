// The search page: reads its state from the URL, asks the JSON API, draws the answer.
// Every text from the archive goes into the page as a text node; the only markup
// taken from the server is <mark> inside snippets, rebuilt element by element.
"use strict";

const PAGE_SIZE = 10;
const FILTERS = ["from", "to", "source", "language", "category"];
const SVG = "http://www.w3.org/2000/svg";

const view = () => document.getElementById("view");
const facetsPane = () => document.getElementById("facets");

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value !== undefined && value !== null) node.setAttribute(key, value);
  }
  for (const child of children) {
    if (child === null || child === undefined) continue;
    node.append(typeof child === "string" ? document.createTextNode(child) : child);
  }
  return node;
}

function svg(tag, attrs = {}) {
  const node = document.createElementNS(SVG, tag);
  for (const [key, value] of Object.entries(attrs)) node.setAttribute(key, value);
  return node;
}

function current() {
  return new URLSearchParams(window.location.search);
}

// A link to the page with some parameters changed (null removes one); paging resets.
function linkWith(changes, keepOffset = false) {
  const next = current();
  if (!keepOffset) next.delete("offset");
  for (const [key, value] of Object.entries(changes)) {
    if (value === null || value === "") next.delete(key);
    else next.set(key, value);
  }
  return "/?" + next.toString();
}

function searchParams(names) {
  const from = current();
  const out = new URLSearchParams();
  for (const name of names) for (const value of from.getAll(name)) if (value) out.append(name, value);
  return out;
}

async function api(path) {
  const response = await fetch(path, { headers: { Accept: "application/json" } });
  const body = await response.json().catch(() => null);
  if (!response.ok) {
    const message = body && body.error ? body.error.message : response.statusText;
    throw new Error(message);
  }
  return body;
}

// Snippets are HTML-escaped by the server with matches in <mark>; parse them inertly
// and keep only text and <mark>, so nothing else could ever become markup here.
function snippet(html) {
  const container = el("p", { class: "snippet" });
  const parsed = new DOMParser().parseFromString(html, "text/html");
  for (const node of parsed.body.childNodes) {
    if (node.nodeType === Node.ELEMENT_NODE && node.nodeName === "MARK") {
      container.append(el("mark", {}, node.textContent));
    } else {
      container.append(document.createTextNode(node.textContent));
    }
  }
  return container;
}

function meta(item) {
  const parts = [item.date, item.source, item.category, item.language].filter(Boolean);
  return el("div", { class: "meta" }, parts.join(" · "));
}

function hitList(hits, offset) {
  const list = el("ol", { class: "hits", start: String(offset + 1) });
  for (const hit of hits) {
    const title = el("a", { class: "title", href: "/?article=" + encodeURIComponent(hit.id) },
      hit.title || hit.id);
    const similar = el("a", { class: "similar", href: "/?similar=" + encodeURIComponent(hit.id) },
      "Similar articles");
    list.append(el("li", { class: "hit", "data-id": hit.id },
      el("h3", {}, title), meta(hit), snippet(hit.snippet),
      el("div", { class: "actions" }, similar,
        el("span", { class: "score", title: scoreTitle(hit.scores) }, "score " + hit.score.toFixed(3)))));
  }
  return list;
}

function scoreTitle(scores) {
  const sides = [];
  if (scores.lexical_rank) sides.push(`keywords #${scores.lexical_rank}`);
  if (scores.semantic_rank) sides.push(`meaning #${scores.semantic_rank}`);
  return sides.join(", ") || "";
}

function pager(total, offset) {
  const pages = Math.max(1, Math.ceil(total / PAGE_SIZE));
  const page = Math.floor(offset / PAGE_SIZE) + 1;
  const nav = el("nav", { class: "pager", "aria-label": "Pages" });
  if (page > 1) nav.append(el("a", { href: linkWith({ offset: String(offset - PAGE_SIZE) }, true), rel: "prev" }, "← Previous"));
  nav.append(el("span", {}, `Page ${page} of ${pages}`));
  if (page < pages && offset + PAGE_SIZE <= 10000) {
    nav.append(el("a", { href: linkWith({ offset: String(offset + PAGE_SIZE) }, true), rel: "next" }, "Next →"));
  }
  return nav;
}

function monthsBetween(first, last) {
  const months = [];
  let [year, month] = first.split("-").map(Number);
  const [endYear, endMonth] = last.split("-").map(Number);
  while (year < endYear || (year === endYear && month <= endMonth)) {
    months.push(`${year}-${String(month).padStart(2, "0")}`);
    month += 1;
    if (month > 12) { month = 1; year += 1; }
  }
  return months;
}

// The month facet as bars, gaps included, so quiet months show as quiet.
function timeline(monthCounts) {
  const box = el("figure", { class: "timeline" });
  if (!monthCounts.length) return box;
  const counts = new Map(monthCounts.map((c) => [c.value, c.count]));
  const byYear = monthsBetween(monthCounts[0].value, monthCounts[monthCounts.length - 1].value).length > 120;
  let buckets = monthsBetween(monthCounts[0].value, monthCounts[monthCounts.length - 1].value)
    .map((m) => ({ key: m, count: counts.get(m) || 0 }));
  if (byYear) {
    const years = new Map();
    for (const b of buckets) years.set(b.key.slice(0, 4), (years.get(b.key.slice(0, 4)) || 0) + b.count);
    buckets = [...years].map(([key, count]) => ({ key, count }));
  }
  const width = 640, height = 120, axis = 18;
  const max = Math.max(...buckets.map((b) => b.count));
  const step = width / buckets.length;
  const chart = svg("svg", { viewBox: `0 0 ${width} ${height + axis}`, role: "img",
    "aria-label": "Matches per " + (byYear ? "year" : "month"), class: "chart" });
  buckets.forEach((b, i) => {
    const h = b.count ? Math.max(2, (b.count / max) * height) : 0;
    const link = svg("a", { href: linkWith({ from: b.key, to: b.key }) });
    const barWidth = Math.max(1, Math.min(step * 0.8, 28));
    const bar = svg("rect", { x: (i * step + (step - barWidth) / 2).toFixed(1), y: (height - h).toFixed(1),
      width: barWidth.toFixed(1), height: h.toFixed(1), class: "bar", "data-month": b.key });
    const tip = svg("title");
    tip.textContent = `${b.key}: ${b.count}`;
    bar.append(tip);
    link.append(bar);
    chart.append(link);
  });
  const labelEvery = Math.ceil(buckets.length / 8);
  buckets.forEach((b, i) => {
    const last = i === buckets.length - 1;
    if (!last && (i % labelEvery !== 0 || buckets.length - 1 - i < labelEvery / 2)) return;
    // The outermost labels hang inwards, so the chart's edges do not clip them.
    const anchor = i === 0 ? "start" : last ? "end" : "middle";
    const x = i === 0 ? 0 : last ? width : i * step + step / 2;
    const label = svg("text", { x: x.toFixed(1), y: height + 14, class: "axis", "text-anchor": anchor });
    label.textContent = b.key;
    chart.append(label);
  });
  box.append(el("figcaption", {}, `Matches per ${byYear ? "year" : "month"} (highest: ${max})`), chart);
  return box;
}

function facetList(name, title, counts) {
  if (!counts.length) return null;
  const active = current().getAll(name);
  const list = el("ul", {});
  for (const c of counts.slice(0, 12)) {
    const isActive = active.includes(c.value);
    list.append(el("li", { class: isActive ? "active" : null },
      el("a", { href: linkWith({ [name]: isActive ? null : c.value }) }, c.value),
      el("span", { class: "count" }, String(c.count))));
  }
  return el("section", { class: "facet", "data-facet": name }, el("h2", {}, title), list);
}

function activeFilters() {
  const chips = el("div", { class: "chips" });
  for (const name of FILTERS) {
    for (const value of current().getAll(name)) {
      if (!value) continue;
      chips.append(el("a", { class: "chip", href: linkWith({ [name]: null }), title: "Remove filter" },
        `${name}: ${value} ×`));
    }
  }
  return chips.childNodes.length ? chips : null;
}

function showError(message) {
  view().replaceChildren(el("p", { class: "error", role: "alert" }, message));
}

async function runSearch() {
  const url = current();
  const offset = Number(url.get("offset") || 0);
  const query = searchParams(["q", "mode", "sort", ...FILTERS]);
  query.set("limit", String(PAGE_SIZE));
  query.set("offset", String(offset));
  const results = await api("/search?" + query.toString());
  const summary = el("p", { class: "summary" },
    `${results.total.toLocaleString()} match${results.total === 1 ? "" : "es"} for `,
    el("strong", {}, results.corrected_query || results.query), ` (${results.mode})`,
    results.corrected_query ? el("span", { class: "corrected" }, ` · searched instead of “${results.query}”`) : null);
  view().replaceChildren(summary, activeFilters() || "", timeline(results.facets.month),
    results.hits.length ? hitList(results.hits, offset) : el("p", { class: "empty" }, "No matches."),
    pager(results.total, offset));
  facetsPane().replaceChildren(...[
    facetList("source", "Source", results.facets.source),
    facetList("category", "Category", results.facets.category),
    facetList("language", "Language", results.facets.language),
  ].filter(Boolean));
}

function articleBody(article) {
  const body = el("div", { class: "body" });
  if (article.lead) body.append(el("p", { class: "lead" }, article.lead));
  for (const paragraph of article.body.split(/\n\s*\n|\n/)) {
    if (paragraph.trim()) body.append(el("p", {}, paragraph.trim()));
  }
  return body;
}

function safeUrl(url) {
  try {
    const parsed = new URL(url);
    return parsed.protocol === "http:" || parsed.protocol === "https:" ? parsed.href : null;
  } catch {
    return null;
  }
}

async function showArticle(id) {
  const article = await api("/articles/" + encodeURIComponent(id));
  const source = article.url && safeUrl(article.url);
  const similar = el("section", { class: "related" }, el("h2", {}, "Similar articles"));
  view().replaceChildren(el("article", { class: "article" },
    el("a", { class: "back", href: "#", id: "back" }, "← Back"),
    el("h1", {}, article.title || article.id), meta(article), articleBody(article),
    source ? el("p", {}, el("a", { href: source, rel: "noopener noreferrer" }, "Original article")) : null,
    el("p", {}, el("a", { class: "more-similar", href: "/?similar=" + encodeURIComponent(id) },
      "More similar articles →"))),
    similar);
  document.getElementById("back").addEventListener("click", (event) => {
    event.preventDefault();
    if (window.history.length > 1) window.history.back(); else window.location.href = "/";
  });
  facetsPane().replaceChildren();
  const found = await api(`/articles/${encodeURIComponent(id)}/similar?limit=5`);
  similar.append(hitList(found.hits, 0));
}

async function showSimilar(id) {
  const offset = Number(current().get("offset") || 0);
  const query = searchParams(FILTERS);
  query.set("limit", String(PAGE_SIZE));
  query.set("offset", String(offset));
  const [article, found] = await Promise.all([
    api("/articles/" + encodeURIComponent(id)),
    api(`/articles/${encodeURIComponent(id)}/similar?` + query.toString()),
  ]);
  view().replaceChildren(
    el("p", { class: "summary" }, "Articles similar to ",
      el("a", { href: "/?article=" + encodeURIComponent(id) }, article.title || id)),
    activeFilters() || "",
    hitList(found.hits, offset), pager(found.total, offset));
  facetsPane().replaceChildren();
}

function fillForm() {
  const url = current();
  document.getElementById("q").value = url.get("q") || "";
  document.getElementById("sort").value = url.get("sort") || "relevance";
  document.getElementById("from").value = url.get("from") || "";
  document.getElementById("to").value = url.get("to") || "";
  const mode = url.get("mode") || "hybrid";
  for (const radio of document.querySelectorAll("input[name=mode]")) radio.checked = radio.value === mode;
}

function submit(event) {
  event.preventDefault();
  const form = new FormData(event.target);
  const next = new URLSearchParams();
  for (const name of ["q", "mode", "sort", "from", "to"]) {
    const value = String(form.get(name) || "").trim();
    if (value && !(name === "mode" && value === "hybrid") && !(name === "sort" && value === "relevance")) {
      next.set(name, value);
    }
  }
  // Facet choices stay while the query changes; they show as removable chips.
  for (const name of ["source", "language", "category"]) for (const v of current().getAll(name)) next.append(name, v);
  if (next.get("q")) window.location.href = "/?" + next.toString();
}

async function render() {
  const url = current();
  fillForm();
  try {
    if (url.get("article")) await showArticle(url.get("article"));
    else if (url.get("similar")) await showSimilar(url.get("similar"));
    else if (url.get("q")) await runSearch();
    document.body.dataset.ready = "true";
  } catch (error) {
    showError(error.message);
    document.body.dataset.ready = "error";
  }
}

document.addEventListener("DOMContentLoaded", () => {
  const form = document.getElementById("search");
  form.addEventListener("submit", submit);
  // Switching mode or order re-runs the current query at once.
  for (const control of form.querySelectorAll("input[name=mode], #sort")) {
    control.addEventListener("change", () => form.requestSubmit());
  }
  render();
});
