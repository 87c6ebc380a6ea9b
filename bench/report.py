#!/usr/bin/env python3
"""Turn bench/run.sh's results.tsv + meta.txt into a markdown report."""
import statistics
import sys

STEPS = [
    ("A", "stream backup #1"),
    ("B", "stream backup #2, unchanged"),
    ("C", "stream backup #3, changed rows"),
    ("D", "tree backup #1"),
    ("E", "tree backup #2, unchanged"),
    ("F", "stream dump to /dev/null"),
]
ALL_TOOLS = ["coffer", "restic", "borg"]
MIB = 1024 * 1024


def load(tsv_path, meta_path):
    rows = {}
    with open(tsv_path) as f:
        header = f.readline().rstrip("\n").split("\t")
        for line in f:
            r = dict(zip(header, line.rstrip("\n").split("\t")))
            rows.setdefault((r["tool"], r["step"]), {})[int(r["run"])] = {
                "wall": float(r["wall"]),
                "cpu": float(r["user"]) + float(r["sys"]),
                "rss": int(r["rss_kb"]) * 1024,
                "repo": int(r["repo_bytes"]),
                "rc": int(r["rc"]),
            }
    meta = {}
    with open(meta_path) as f:
        for line in f:
            if "=" in line:
                k, v = line.rstrip("\n").split("=", 1)
                meta[k] = v
    return rows, meta


def main():
    rows, meta = load(sys.argv[1], sys.argv[2])
    tools = [t for t in ALL_TOOLS if t in meta.get("tools", "").split()]
    have_coffer = "coffer" in tools
    refs = [t for t in ("restic", "borg") if t in tools and have_coffer]
    pct = meta.get("change_pct", "1")
    mode = meta.get("change_mode", "uniform")

    def failed(tool, step):
        """exit code of the first failed run of this step, or 0"""
        return next((r["rc"] for r in rows.get((tool, step), {}).values() if r["rc"]), 0)

    def prev_step(step):
        order = ["init"] + [s for s, _ in STEPS]
        return order[order.index(step) - 1]

    def one(tool, step, metric, run, r):
        if metric == "growth":
            p = rows.get((tool, prev_step(step)), {}).get(run)
            return None if p is None else r["repo"] - p["repo"]
        if metric == "par":
            return r["cpu"] / r["wall"] if r["wall"] > 0 else None
        return r[metric]

    def value(tool, step, metric):
        """median over runs; None if missing or any run failed"""
        runs = rows.get((tool, step))
        if not runs or failed(tool, step):
            return None
        vals = [one(tool, step, metric, n, r) for n, r in runs.items()]
        if any(v is None for v in vals):
            return None
        return statistics.median(vals)

    def fmt(metric, v):
        if v is None:
            return "-"
        if metric in ("wall", "cpu"):
            return f"{v:.2f}"
        if metric == "par":
            return f"{v:.2f}"
        if metric == "rss":
            return f"{v / MIB:.0f}"
        return f"{round(v):,}"

    def cell(tool, step, metric):
        rc = failed(tool, step)
        if rc:
            return f"FAILED (exit {rc})"
        return fmt(metric, value(tool, step, metric))

    def ratio(a, b):
        if a is None or b is None or b == 0:
            return None
        return a / b

    out = []
    w = out.append
    w("# coffer vs restic vs borg")
    w("")
    w(f"- date: {meta.get('date', '?')}; commit: {meta.get('commit', '?')}")
    w(f"- host: {meta.get('host', '?')}; cpu: {meta.get('cpu', '?')}")
    w(f"- {meta.get('coffer') or 'coffer: not built'}")
    w(f"- {meta.get('restic', 'restic: ?')}")
    w(f"- {meta.get('borg', 'borg: ?')}")
    w(f"- stream: {meta.get('dump', '?')}")
    w(f"- changed stream ({pct}% of rows, {mode}): {meta.get('dump2', '?')}")
    w(f"- tree: {meta.get('tree', '?')}")
    nruns = int(meta.get("runs", "1"))
    if nruns > 1:
        w(f"- every number is the median of {nruns} runs")
    if not have_coffer:
        w("")
        w("**coffer: not built** - coffer column, ratios and targets skipped.")
    w("")

    metrics = [
        ("wall", "wall s"),
        ("cpu", "CPU s (user+sys)"),
        ("par", "CPU/wall"),
        ("rss", "peak RSS MiB"),
        ("repo", "repo bytes after"),
        ("growth", "repo growth bytes"),
    ]
    head = ["step", "metric"] + tools + [f"coffer/{t}" for t in refs]
    w("| " + " | ".join(head) + " |")
    w("|" + "|".join(["---", "---"] + ["---:"] * (len(head) - 2)) + "|")
    for step, desc in STEPS:
        first = True
        for metric, label in metrics:
            if metric == "par" and step != "A":
                continue
            if metric in ("repo", "growth") and step == "F":
                continue
            name = f"{step} {desc}" if first else ""
            if step == "C" and first:
                name = f"C stream backup #3, {pct}% rows changed ({mode})"
            first = False
            cells = [cell(t, step, metric) for t in tools]
            for ref in refs:
                q = ratio(value("coffer", step, metric), value(ref, step, metric))
                cells.append("-" if q is None else f"{q:.2f}x")
            w("| " + " | ".join([name, label] + cells) + " |")
    w("")

    restored = []
    for t in tools:
        g, a = value(t, "C", "growth"), value(t, "A", "repo")
        if g is not None and a:
            restored.append(f"{t} {100 * g / a:.1f}%")
    if restored:
        w("Re-stored in C (repo growth in C / repo size after A): " + ", ".join(restored))
        w("")

    checks = [(k[len("verify_"):], v) for k, v in meta.items() if k.startswith("verify_")]
    if checks:
        w("Restore check (stream of step F, sha256 against the input): "
          + ", ".join(f"{t} {v}" for t, v in checks))
        w("")

    w("## coffer targets")
    w("")
    if not have_coffer:
        w("skipped: coffer not built")
        w("")
        sys.stdout.write("\n".join(out) + "\n")
        return

    w("| target | measured | limit | result |")
    w("|---|---:|---:|---|")

    def verdict(ok):
        return "n/a" if ok is None else ("PASS" if ok else "FAIL")

    def rel_target(step, metric, ref, limit, label):
        c, r = value("coffer", step, metric), value(ref, step, metric)
        q = ratio(c, r)
        if failed("coffer", step):
            w(f"| {label} | coffer failed | <= {limit}x | FAIL |")
            return
        if q is None:
            w(f"| {label} | n/a | <= {limit}x | n/a |")
            return
        w(f"| {label} | {q:.2f}x ({fmt(metric, c)} vs {fmt(metric, r)}) | <= {limit}x | {verdict(q <= limit)} |")

    rel_target("A", "wall", "restic", 0.6, "A wall vs restic")
    rel_target("A", "wall", "borg", 0.8, "A wall vs borg")
    rel_target("B", "wall", "restic", 0.6, "B wall vs restic")
    rel_target("E", "wall", "restic", 0.5, "E wall vs restic")
    rel_target("F", "wall", "restic", 0.7, "F wall vs restic")

    rss = [(value("coffer", s, "rss"), s) for s, _ in STEPS]
    if any(v is None for v, _ in rss):
        w("| peak RSS, every step | some steps failed | <= 150 MiB | FAIL |")
    else:
        peak, at = max(rss)
        w(f"| peak RSS, every step | {peak / MIB:.0f} MiB (max, step {at}) | <= 150 MiB | {verdict(peak <= 150 * MIB)} |")

    rel_target("A", "repo", "restic", 1.1, "repo size after A vs restic")

    par = value("coffer", "A", "par")
    if par is None:
        w("| A CPU/wall | coffer failed | >= 1.6 | FAIL |")
    else:
        w(f"| A CPU/wall | {par:.2f} | >= 1.6 | {verdict(par >= 1.6)} |")
    sys.stdout.write("\n".join(out) + "\n")


if __name__ == "__main__":
    main()
