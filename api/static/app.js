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

const MATCHED = { keywords: "keywords", meaning: "meaning", both: "keywords + meaning" };

// The article view of a hit keeps the search it was opened from (query, mode,
// filters, page), so it can show the query and lead back to the same page.
function articleLink(id) {
  return linkWith({ article: id }, true);
}

function hitList(hits, offset) {
  const list = el("ol", { class: "hits", start: String(offset + 1) });
  for (const hit of hits) {
    const title = el("a", { class: "title", href: articleLink(hit.id) }, hit.title || hit.id);
    const similar = el("a", { class: "similar", href: "/?similar=" + encodeURIComponent(hit.id) },
      "Similar articles");
    const how = MATCHED[hit.matched] || hit.matched;
    list.append(el("li", { class: "hit", "data-id": hit.id },
      el("h3", {}, title), meta(hit), snippet(hit.snippet),
      el("div", { class: "actions" }, similar,
        el("span", { class: "matched", title: scoreTitle(hit.scores) }, "matched by " + how))));
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

function facetList(name, title, counts) {
  if (!counts.length) return null;
  const active = current().getAll(name).map((v) => v.toLowerCase());
  const list = el("ul", {});
  for (const c of counts) {
    const isActive = active.includes(c.value.toLowerCase());
    list.append(el("li", { class: isActive ? "active" : null },
      el("a", { href: linkWith({ [name]: isActive ? null : c.value }),
        "aria-current": isActive ? "true" : null }, c.value),
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

function facetsToggle() {
  const open = document.body.classList.contains("show-facets");
  const button = el("button", { type: "button", class: "toggle", "aria-controls": "facets",
    "aria-expanded": String(open) }, "Filters");
  button.addEventListener("click", () => {
    const now = document.body.classList.toggle("show-facets");
    button.setAttribute("aria-expanded", String(now));
    if (now) facetsPane().focus();
  });
  return button;
}

// How the engine read the query, when that differs from what was typed.
function notices(results) {
  const lines = [...(results.notices || [])];
  if (results.interpreted_as && !lines.length) lines.push(`Searched as: ${results.interpreted_as}`);
  if (results.timed_out) lines.push("The search ran out of time; these are the matches found so far.");
  return lines.map((line) => el("p", { class: "notice", role: "status" }, line));
}

async function runSearch() {
  const url = current();
  const offset = Number(url.get("offset") || 0);
  const query = searchParams(["q", "mode", "sort", ...FILTERS]);
  query.set("limit", String(PAGE_SIZE));
  query.set("offset", String(offset));
  query.set("facet_size", "12");
  const results = await api("/search?" + query.toString());
  const summary = el("h2", { class: "summary", tabindex: "-1" },
    `${results.total.toLocaleString()} match${results.total === 1 ? "" : "es"} for `,
    el("strong", {}, results.corrected_query || results.query), ` (${results.mode})`,
    results.corrected_query ? el("span", { class: "corrected" }, ` · searched instead of “${results.query}”`) : null);
  view().replaceChildren(el("div", { class: "summary-row" }, summary, facetsToggle()),
    ...notices(results), activeFilters() || "", timeline(results.facets.timeline) || "",
    results.hits.length ? hitList(results.hits, offset) : el("p", { class: "empty" }, "No matches."),
    pager(results.total, offset));
  facetsPane().replaceChildren(...[
    facetList("source", "Source", results.facets.source),
    facetList("category", "Category", results.facets.category),
    facetList("language", "Language", results.facets.language),
  ].filter(Boolean));
  return summary;
}

function articleBody(article, words) {
  const body = el("div", { class: "body" });
  if (article.lead) body.append(el("p", { class: "lead" }, highlighted(article.lead, words)));
  for (const paragraph of article.body.split(/\n\s*\n|\n/)) {
    if (paragraph.trim()) body.append(el("p", {}, highlighted(paragraph.trim(), words)));
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

// The words of a query worth marking in an article: no operators, field names or
// wildcards; German endings cut from long words, so "Verhandlungen" marks "Verhandlung".
function queryWords(q) {
  const words = [];
  for (let word of (q || "").split(/[\s"()]+/)) {
    if (["AND", "OR", "NOT"].includes(word)) continue;
    word = word.replace(/^[a-z_]+:/, "").replace(/[*?]/g, "").replace(/^[^\p{L}\p{N}]+|[^\p{L}\p{N}]+$/gu, "");
    if (word.length < 3) continue;
    word = word.toLowerCase();
    if (word.length > 5) word = word.replace(/(en|er|es|e|n|s)$/, "");
    words.push(word);
  }
  return words;
}

// ``text`` as text nodes, with the words that match a query word in <mark>.
function highlighted(text, words) {
  const out = document.createDocumentFragment();
  if (!words.length) { out.append(text); return out; }
  let last = 0;
  for (const match of text.matchAll(/[\p{L}\p{N}][\p{L}\p{N}-]*/gu)) {
    const token = match[0].toLowerCase();
    // Short words ("die", "USA") mark only themselves, longer ones their inflections too.
    if (!words.some((w) => token === w || (w.length >= 4 && token.startsWith(w)))) continue;
    out.append(text.slice(last, match.index), el("mark", {}, match[0]));
    last = match.index + match[0].length;
  }
  out.append(text.slice(last));
  return out;
}

async function showArticle(id) {
  const article = await api("/articles/" + encodeURIComponent(id));
  const source = article.url && safeUrl(article.url);
  const similar = el("section", { class: "related" }, el("h2", {}, "Similar articles"));
  const words = queryWords(current().get("q"));
  const fromSearch = current().get("q") || current().get("similar");
  const back = fromSearch ? linkWith({ article: null }, true) : "/";
  view().replaceChildren(el("article", { class: "article" },
    el("a", { class: "back", href: back }, fromSearch ? "← Back to the results" : "← New search"),
    el("h1", {}, highlighted(article.title || article.id, words)), meta(article),
    articleBody(article, words),
    source ? el("p", {}, el("a", { href: source, rel: "noopener noreferrer" }, "Original article")) : null,
    el("p", {}, el("a", { class: "more-similar", href: "/?similar=" + encodeURIComponent(id) },
      "More similar articles →"))),
    similar);
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
    let landing = null;
    if (url.get("article")) await showArticle(url.get("article"));
    else if (url.get("similar")) await showSimilar(url.get("similar"));
    else if (url.get("q")) landing = await runSearch();
    else document.getElementById("q").focus();
    // After a search the keyboard starts at the results, not at the top of the form.
    if (landing && (!document.activeElement || document.activeElement === document.body)) {
      landing.focus({ preventScroll: true });
    }
    document.body.dataset.ready = "true";
  } catch (error) {
    showError(error.message);
    document.body.dataset.ready = "error";
  }
}

document.addEventListener("DOMContentLoaded", () => {
  const form = document.getElementById("search");
  form.addEventListener("submit", submit);
  const options = document.getElementById("options-toggle");
  options.addEventListener("click", () => {
    const open = form.classList.toggle("open");
    options.setAttribute("aria-expanded", String(open));
  });
  // Switching mode or order re-runs the current query at once.
  for (const control of form.querySelectorAll("input[name=mode], #sort")) {
    control.addEventListener("change", () => form.requestSubmit());
  }
  render();
});
