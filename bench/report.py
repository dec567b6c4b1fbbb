"""Turn benchmark results into markdown tables and one PNG figure.

Ratios are what the tables are for: the same machine may be busy or idle on another
day, but pipelines measured side by side in one run share its mood.
"""

from __future__ import annotations

from pathlib import Path

from bench.measure import Result

MODES = ("lexical", "semantic", "hybrid", "similar")


def _fmt(value: float | None, digits: int = 1) -> str:
    return "-" if value is None else f"{value:,.{digits}f}"


def _ratio(a: float | None, b: float | None) -> str:
    return "-" if not a or not b else f"{a / b:.2f}x"


def _load(row: Result) -> str:
    load = row.get("load")
    return f"{load[0]:.1f} to {load[1]:.1f}" if load else "-"


def _label(run: Result) -> str:
    size = f"{run['size']:,}"
    if run.get("synthetic"):
        return f"{size} (synthetic vectors)"
    return f"{size} (quick, short articles)" if run.get("quick") else size


def build_table(run: Result) -> str:
    """Rebuild throughput, peak memory and size on disk per pipeline."""
    rows = [
        ("**ours: rebuild** (lexical + semantic together)", run.get("rebuild")),
        ("ours: lexical side alone (Whoosh, 1 process)", run.get("lexical_1")),
        ("ours: lexical side alone (Whoosh, procs=2)", run.get("lexical_2")),
        ("embedding only, one model per core (ceiling)", run.get("ceiling")),
        ("naive pipeline (serial, one process)", run.get("naive")),
        ("tantivy (lexical only)", run.get("tantivy")),
    ]
    naive = run.get("naive")
    if naive:
        rows.insert(
            4,
            (
                "embedding only, one model in one process (2 BLAS threads)",
                {
                    "articles_per_s": naive["embed_articles_per_s"],
                    "mb_per_s": naive["embed_mb_per_s"],
                    "seconds": naive["embed_seconds"],
                },
            ),
        )
    ours = (run.get("rebuild") or {}).get("mb_per_s")
    lines = [
        f"#### Rebuild, {_label(run)} articles",
        "",
        "| pipeline | articles/s | MB/s | seconds | ours / this (MB/s) | peak RSS MB "
        "| on disk MB | load |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name, row in rows:
        if not row:
            continue
        lines.append(
            f"| {name} | {_fmt(row['articles_per_s'])} | {_fmt(row['mb_per_s'], 3)} "
            f"| {_fmt(row['seconds'])} | {_ratio(ours, row['mb_per_s'])} "
            f"| {_fmt(row.get('peak_mb'), 0)} | {_fmt(row.get('index_mb'))} "
            f"| {_load(row)} |"
        )
    rebuild = run.get("rebuild")
    notes = []
    if rebuild:
        notes.append(
            f"Rebuild articles: {rebuild['articles']:,} ({rebuild['mb']} MB of text, "
            f"{rebuild['passages']:,} passages); vector index: {rebuild['vector_index']}."
        )
    ceiling = run.get("ceiling")
    if ceiling and rebuild and ceiling.get("articles", rebuild["articles"]) < rebuild["articles"]:
        notes.append(f"The ceiling was timed on the first {ceiling['articles']:,} articles.")
    if naive and naive.get("embedded", naive["articles"]) < naive["articles"]:
        notes.append(
            f"The naive pipeline embedded and timed the first {naive['embedded']:,} "
            "articles; its embedding seconds extrapolate that rate to all of them. It "
            "copied the other vectors from our index, which embeds the same passages "
            "with the same model (largest difference on the timed articles: "
            f"{naive['copied_difference']:.1e})."
        )
    if notes:
        lines += ["", " ".join(notes)]
    return "\n".join(lines)


def _latency_row(name: str, stats: Result | None, base: Result | None = None) -> str:
    if not stats:
        return ""
    ratio = _ratio(stats["p95"], base["p95"]) if base else ""
    return (
        f"| {name} | {_fmt(stats['p50'], 2)} | {_fmt(stats['p95'], 2)} "
        f"| {_fmt(stats['p99'], 2)} | {ratio} |"
    )


def query_table(run: Result) -> str:
    """In-process and HTTP latency per mode, beside the peers."""
    ours = run.get("query_ours") or {}
    naive = run.get("query_naive") or {}
    peer = run.get("query_tantivy") or {}
    http = run.get("http") or {}
    lines = [
        f"#### Query latency, {_label(run)} articles (ms)",
        "",
        "| what | p50 | p95 | p99 | p95 / ours |",
        "|---|---:|---:|---:|---:|",
    ]
    for mode in MODES:
        lines.append(_latency_row(f"**ours {mode}**, in-process", ours.get(mode)))
        lines.append(_latency_row(f"ours {mode}, over HTTP", http.get(mode), ours.get(mode)))
        lines.append(_latency_row(f"naive {mode}, in-process", naive.get(mode), ours.get(mode)))
        if mode == "lexical":
            lines.append(
                _latency_row("tantivy lexical, in-process", peer.get(mode), ours.get(mode))
            )
    lines = [line for line in lines if line]
    notes = []
    if ours.get("peak_mb"):
        notes.append(f"serving peak RSS in-process: {_fmt(ours['peak_mb'], 0)} MB")
    if http.get("peak_mb"):
        notes.append(f"HTTP server peak RSS: {_fmt(http['peak_mb'], 0)} MB")
    if naive.get("peak_mb"):
        notes.append(f"naive: {_fmt(naive['peak_mb'], 0)} MB")
    if peer.get("peak_mb"):
        notes.append(f"tantivy: {_fmt(peer['peak_mb'], 0)} MB")
    if run.get("recall"):
        recall = run["recall"]["recall_at_10"]
        notes.append(
            "vector index exact (recall 1.0)"
            if recall is None
            else f"HNSW recall@10 against exact search: {recall:.4f}"
        )
    if notes:
        lines += ["", "; ".join(notes) + "."]
    if http.get("concurrent"):
        lines += [
            "",
            "| hybrid over HTTP, concurrent clients | requests/s | p50 ms | p95 ms | p99 ms |",
            "|---:|---:|---:|---:|---:|",
        ]
        for row in http["concurrent"]:
            latency = row["latency"]
            lines.append(
                f"| {row['clients']} | {_fmt(row['requests_per_s'])} | "
                f"{_fmt(latency['p50'], 2)} | {_fmt(latency['p95'], 2)} | "
                f"{_fmt(latency['p99'], 2)} |"
            )
    return "\n".join(lines)


def markdown(runs: list[Result]) -> str:
    """All tables for all runs, ready to paste into docs/benchmarks.md."""
    parts = []
    for run in runs:
        if not run.get("synthetic"):
            parts.append(build_table(run))
        parts.append(query_table(run))
    return "\n\n".join(parts) + "\n"


def plot(runs: list[Result], path: Path) -> None:
    """Rebuild throughput, p95 latency per mode and HTTP throughput, one panel each."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, (build, latency, load) = plt.subplots(1, 3, figsize=(15, 4.5))
    builds = ["rebuild", "ceiling", "naive", "lexical_1", "tantivy"]
    names = ["ours", "embed ceiling", "naive", "Whoosh alone", "tantivy"]
    width = 0.8 / max(len(runs), 1)
    for i, run in enumerate(runs):
        values = [(run.get(key) or {}).get("mb_per_s", 0) for key in builds]
        build.bar([x + i * width for x in range(len(builds))], values, width, label=_label(run))
    build.set_xticks([x + width * (len(runs) - 1) / 2 for x in range(len(builds))], names)
    build.set_yscale("log")
    build.set_ylabel("MB of text per second (log)")
    build.set_title("Rebuild throughput")
    build.legend(fontsize=8)

    series = [
        ("ours", "query_ours"),
        ("ours HTTP", "http"),
        ("naive", "query_naive"),
        ("tantivy", "query_tantivy"),
    ]
    width = 0.8 / (len(series) * max(len(runs), 1))
    slot = 0
    for run in runs:
        for name, key in series:
            values = [((run.get(key) or {}).get(m) or {}).get("p95", 0) for m in MODES]
            if any(values):
                latency.bar(
                    [x + slot * width for x in range(len(MODES))],
                    values,
                    width,
                    label=f"{name}, {_label(run)}",
                )
            slot += 1
    latency.set_xticks([x + 0.4 - width / 2 for x in range(len(MODES))], MODES)
    latency.set_yscale("log")
    latency.set_ylabel("p95 latency, ms (log)")
    latency.set_title("Query latency (p95)")
    latency.legend(fontsize=7)

    for run in runs:
        concurrent = (run.get("http") or {}).get("concurrent") or []
        if concurrent:
            load.plot(
                [row["clients"] for row in concurrent],
                [row["requests_per_s"] for row in concurrent],
                marker="o",
                label=_label(run),
            )
    load.set_xlabel("concurrent HTTP clients (hybrid queries)")
    load.set_ylabel("requests per second")
    load.set_title("Throughput under load")
    load.legend(fontsize=8)

    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=80)
    plt.close(figure)
