// The timeline: matches per day, month or year as SVG bars, one tab stop whose bars
// the arrow keys walk. Uses el, svg and linkWith from app.js.
"use strict";

// Every bucket key from first to last (inclusive), so quiet periods show as quiet.
function bucketsBetween(unit, first, last) {
  const keys = [];
  if (unit === "year") {
    for (let y = Number(first); y <= Number(last); y += 1) keys.push(String(y));
    return keys;
  }
  if (unit === "month") {
    let [year, month] = first.split("-").map(Number);
    const [endYear, endMonth] = last.split("-").map(Number);
    while (year < endYear || (year === endYear && month <= endMonth)) {
      keys.push(`${year}-${String(month).padStart(2, "0")}`);
      month += 1;
      if (month > 12) { month = 1; year += 1; }
    }
    return keys;
  }
  const day = new Date(first + "T00:00:00Z");
  const end = new Date(last + "T00:00:00Z");
  while (day <= end) {
    keys.push(day.toISOString().slice(0, 10));
    day.setUTCDate(day.getUTCDate() + 1);
  }
  return keys;
}

// Arrow keys move between the bars; the chart is one stop for Tab (a roving tabindex).
function rovingBars(chart) {
  const links = [...chart.querySelectorAll("a")];
  chart.addEventListener("keydown", (event) => {
    const at = links.indexOf(document.activeElement);
    if (at < 0) return;
    const moves = { ArrowRight: at + 1, ArrowDown: at + 1, ArrowLeft: at - 1, ArrowUp: at - 1,
      Home: 0, End: links.length - 1 };
    if (!(event.key in moves)) return;
    event.preventDefault();
    const next = links[Math.max(0, Math.min(links.length - 1, moves[event.key]))];
    links[at].setAttribute("tabindex", "-1");
    next.setAttribute("tabindex", "0");
    next.focus();
  });
}

// The timeline facet as bars (days, months or years, by the span of the matches).
function timeline(line) {
  const box = el("figure", { class: "timeline" });
  const counted = line.buckets;
  if (!counted.length) {
    if (line.undated) box.append(el("figcaption", {}, `${line.undated} undated`));
    return line.undated ? box : null;
  }
  const counts = new Map(counted.map((c) => [c.value, c.count]));
  const buckets = bucketsBetween(line.unit, counted[0].value, counted[counted.length - 1].value)
    .map((key) => ({ key, count: counts.get(key) || 0 }));
  const width = 640, height = 120, axis = 18;
  const max = Math.max(...buckets.map((b) => b.count));
  const step = width / buckets.length;
  const chart = svg("svg", { viewBox: `0 0 ${width} ${height + axis}`, role: "group",
    "aria-label": `Matches per ${line.unit}; arrow keys move between bars`, class: "chart" });
  let first = true;
  buckets.forEach((b, i) => {
    const h = b.count ? Math.max(2, (b.count / max) * height) : 0;
    const label = `${b.key}: ${b.count} match${b.count === 1 ? "" : "es"}`;
    const link = svg("a", { href: linkWith({ from: b.key, to: b.key }), "aria-label": label,
      tabindex: first ? "0" : "-1", "data-bucket": b.key });
    first = false;
    const barWidth = Math.max(1, Math.min(step * 0.8, 28));
    // An empty period still gets a (transparent) bar, so it can be focused and read.
    const bar = svg("rect", { x: (i * step + (step - barWidth) / 2).toFixed(1),
      y: (height - Math.max(h, 2)).toFixed(1), width: barWidth.toFixed(1),
      height: Math.max(h, 2).toFixed(1), class: b.count ? "bar" : "bar empty",
      "data-bucket": b.key });
    const tip = svg("title");
    tip.textContent = label;
    bar.append(tip);
    link.append(bar);
    chart.append(link);
  });
  rovingBars(chart);
  const labelEvery = Math.ceil(buckets.length / (line.unit === "day" ? 6 : 8));
  buckets.forEach((b, i) => {
    const last = i === buckets.length - 1;
    if (!last && (i % labelEvery !== 0 || buckets.length - 1 - i < labelEvery)) return;
    // The outermost labels hang inwards, so the chart's edges do not clip them.
    const anchor = i === 0 ? "start" : last ? "end" : "middle";
    const x = i === 0 ? 0 : last ? width : i * step + step / 2;
    const text = svg("text", { x: x.toFixed(1), y: height + 14, class: "axis", "text-anchor": anchor,
      "aria-hidden": "true" });
    text.textContent = b.key;
    chart.append(text);
  });
  const undated = line.undated ? `; ${line.undated} undated` : "";
  box.append(el("figcaption", {}, `Matches per ${line.unit} (highest: ${max})${undated}`), chart);
  return box;
}
