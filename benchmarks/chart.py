#!/usr/bin/env python3
"""Render the benchmark chart (PNG) from a results JSON written by harness.py.

    python benchmarks/chart.py benchmarks/results/latest.json benchmarks/results/latest.png

matplotlib is a benchmark-only dependency (the ``bench`` extra).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
from harness import MB, MiB, contender_stats, find, load_results, ratio_stats, transport_of

COLORS = {
    "ours": "#1f77b4",
    "curl": "#7f7f7f",
    "aria2c": "#ff7f0e",
    "naive": "#2ca02c",
    "curl-null": "#bcbcbc",
    "curl-disk": "#7f7f7f",
}
ORDER = ("ours", "curl", "naive", "aria2c")
HATCH = {"http": None, "https": "//"}
"""https bars are hatched; the x labels name the transport too."""


def tput_groups(groups: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [g for g in groups if g["kind"] == "throughput"]


def xlabel(g: dict[str, Any]) -> str:
    return f"{g['title']}\n{transport_of(g)}"


def _err(t: tuple[float, float, float]) -> list[list[float]]:
    return [[t[0] - t[1]], [t[2] - t[0]]]


def panel_throughput(ax: Any, groups: list[dict[str, Any]]) -> None:
    tput = tput_groups(groups)
    width = 0.8 / len(ORDER)
    for gi, g in enumerate(tput):
        by = {c["name"]: c for c in g["contenders"]}
        for ci, name in enumerate(ORDER):
            x = gi + (ci - (len(ORDER) - 1) / 2) * width
            c = by.get(name)
            if c is None:
                continue
            st = contender_stats(g, c)
            if "mbps" not in st:
                ax.text(x, 0, "FAILED", rotation=90, ha="center", va="bottom", fontsize=7, color="red")
                continue
            ax.bar(
                x,
                st["mbps"][0],
                width,
                yerr=_err(st["mbps"]),
                color=COLORS[name],
                hatch=HATCH.get(transport_of(g)),
                capsize=2,
                label=name if gi == 0 else None,
            )
    for ceiling in (g for g in groups if g["kind"] == "ceiling"):
        color = "black" if transport_of(ceiling) == "http" else "purple"
        for c, style in zip(ceiling["contenders"], (":", "--"), strict=False):
            st = contender_stats(ceiling, c)
            if "mbps" in st:
                ax.axhline(
                    st["mbps"][0],
                    color=color,
                    linestyle=style,
                    linewidth=0.8,
                    label=f"{transport_of(ceiling)} {c['label']} ({st['mbps'][0]:.0f})",
                )
    ax.set_xticks(range(len(tput)), [xlabel(g) for g in tput], fontsize=8)
    ax.set_ylabel("MB/s (median, min–max)")
    ax.set_title("Throughput, same URL list, concurrency 16")
    ax.legend(fontsize=7, loc="upper left")


def panel_ratio(ax: Any, groups: list[dict[str, Any]]) -> None:
    tput = tput_groups(groups)
    names = [n for n in ORDER if n != "curl"]
    width = 0.8 / len(names)
    for gi, g in enumerate(tput):
        for ci, name in enumerate(names):
            r = ratio_stats(g, "curl", name)
            x = gi + (ci - (len(names) - 1) / 2) * width
            if r:
                ax.bar(
                    x,
                    r[0],
                    width,
                    yerr=_err(r),
                    color=COLORS[name],
                    hatch=HATCH.get(transport_of(g)),
                    capsize=2,
                    label=name if gi == 0 else None,
                )
                ax.text(x, r[2], f"{r[0]:.2f}", ha="center", va="bottom", fontsize=7)
    top = max([b.get_height() for b in ax.patches] + [1.0])
    ax.set_ylim(0, top * 1.45)
    ax.axhline(1.0, color="black", linewidth=0.8)
    ax.axhline(0.9, color="red", linestyle="--", linewidth=0.8, label="target 0.9× (256 KiB)")
    ax.set_xticks(range(len(tput)), [xlabel(g) for g in tput], fontsize=8)
    ax.set_ylabel("throughput ÷ curl's, same round")
    ax.set_title("Ratio to curl (> 1 = faster than curl)")
    ax.legend(fontsize=7, loc="upper left", ncols=2)


def panel_cpu(ax: Any, groups: list[dict[str, Any]]) -> None:
    tput = tput_groups(groups)
    width = 0.8 / len(ORDER)
    for gi, g in enumerate(tput):
        by = {c["name"]: c for c in g["contenders"]}
        for ci, name in enumerate(ORDER):
            c = by.get(name)
            st = contender_stats(g, c) if c else {}
            if st.get("cpu_per_gb"):
                per_gb = st["cpu_per_gb"]
                x = gi + (ci - (len(ORDER) - 1) / 2) * width
                ax.bar(
                    x,
                    per_gb[0],
                    width,
                    yerr=_err((per_gb[0], per_gb[1], per_gb[2])),
                    color=COLORS[name],
                    hatch=HATCH.get(transport_of(g)),
                    capsize=2,
                    label=name if gi == 0 else None,
                )
    ax.set_xticks(range(len(tput)), [xlabel(g) for g in tput], fontsize=8)
    ax.set_ylabel("CPU s (user+sys) per GB")
    ax.set_title("Client CPU cost (lower is better)")
    if tput:
        ax.legend(fontsize=7)


def panel_sweep(ax: Any, groups: list[dict[str, Any]]) -> None:
    g = find(groups, "sweep")
    ax.set_title(
        f"Concurrency sweep ({g['title']}, {transport_of(g)})" if g else "Concurrency sweep (not run)"
    )
    if not g:
        return
    series: dict[str, list[tuple[int, tuple[float, float, float]]]] = {}
    for c in g["contenders"]:
        base, _, level = c["name"].partition("@")
        st = contender_stats(g, c)
        if "mbps" in st:
            series.setdefault(base, []).append((int(level), st["mbps"]))
    for base, pts in series.items():
        xs = [p[0] for p in pts]
        ys = [p[1][0] for p in pts]
        err = [[p[1][0] - p[1][1] for p in pts], [p[1][2] - p[1][0] for p in pts]]
        ax.errorbar(xs, ys, yerr=err, marker="o", capsize=3, color=COLORS.get(base), label=base)
    ax.set_xscale("log", base=2)
    ax.set_xticks([1, 4, 16, 64], ["1", "4", "16", "64"])
    ax.set_xlabel("concurrency")
    ax.set_ylabel("MB/s")
    ax.set_ylim(bottom=0)
    ax.legend(fontsize=7)


def panel_memory(ax: Any, res: dict[str, Any]) -> None:
    mem = [m for m in res.get("memory", []) if m["ok"]]
    ax.set_title("Peak RSS of download_originals vs event size")
    ax.axhline(100 * MB / MiB, color="red", linestyle="--", linewidth=0.8, label="target: 100 MB")
    if mem:
        xs = [m["photos"] for m in mem]
        ax.plot(xs, [m["maxrss_kib"] / 1024 for m in mem], marker="o", color=COLORS["ours"], label="peak RSS")
        base = [m.get("baseline_rss_kib") or 0 for m in mem]
        if any(base):
            ax.plot(
                xs, [b / 1024 for b in base], marker=".", linestyle=":", color="gray", label="after imports"
            )
        ax.set_xscale("log")
        ax.set_xticks(xs, [f"{x:,}" for x in xs])
        ax.minorticks_off()
    ax.set_xlabel("photos in the event (small photos)")
    ax.set_ylabel("MiB")
    ax.set_ylim(0, 110)
    ax.legend(fontsize=7, loc="lower right")


E2E_LABELS = {
    "list": "pre-resolved list",
    "api": "download_originals\n(whole event)",
    "cli": "ninepic download\n--all",
}


def panel_e2e(ax: Any, groups: list[dict[str, Any]]) -> None:
    e2e = [g for g in groups if g["kind"] == "e2e"]
    ax.set_title("End to end (20 ms API latency) vs pre-resolved list" if e2e else "End to end (not run)")
    if not e2e:
        return
    labels, colors = [], {"list": "#9ecae1", "api": COLORS["ours"], "cli": "#08519c"}
    notes = []
    i = 0
    for g in e2e:
        tr = transport_of(g)
        for c in g["contenders"]:
            st = contender_stats(g, c)
            labels.append(E2E_LABELS.get(c["name"], c["name"]) + (f"\n{tr}" if len(e2e) > 1 else ""))
            if "wall" in st:
                ax.bar(
                    i,
                    st["wall"][0],
                    0.6,
                    yerr=_err(st["wall"]),
                    color=colors.get(c["name"], COLORS["ours"]),
                    hatch=HATCH.get(tr),
                    capsize=3,
                )
                ax.text(i, st["wall"][2], f"{st['wall'][0]:.2f} s", ha="center", va="bottom", fontsize=8)
            else:
                ax.text(i, 0, "FAILED", ha="center", va="bottom", color="red")
            i += 1
        r = ratio_stats(g, "list", "api")
        if r:
            notes.append(f"{tr}: time ratio {1 / r[0]:.2f}×")
    if notes:
        ax.text(
            0.5,
            0.92,
            "; ".join(notes) + " (target ≤ 1.1×)",
            transform=ax.transAxes,
            ha="center",
            fontsize=9,
        )
    ax.set_xticks(range(len(labels)), labels, fontsize=7 if len(e2e) > 1 else 10)
    ax.set_ylabel("wall s (median, min–max)")
    ax.set_ylim(top=ax.get_ylim()[1] * 1.15)


def render(res: dict[str, Any], png: Path) -> None:
    groups = res["groups"]
    wide = len(tput_groups(groups)) > 3
    fig, axes = plt.subplots(2, 3, figsize=(24 if wide else 18, 10))
    panel_throughput(axes[0][0], groups)
    panel_ratio(axes[0][1], groups)
    panel_cpu(axes[0][2], groups)
    panel_sweep(axes[1][0], groups)
    panel_memory(axes[1][1], res)
    panel_e2e(axes[1][2], groups)
    mc = res["meta"]["machine"]
    fig.suptitle(
        f"ninepic_async benchmark{' (quick)' if res['meta']['quick'] else ''} — {res['meta']['started']}, "
        f"{mc['cpu']} × {mc['cores']} cores, Python {mc['python']}",
        fontsize=13,
    )
    fig.tight_layout(rect=(0, 0, 1, 0.96))
    fig.savefig(png, dpi=90)


def main() -> int:
    if len(sys.argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    render(load_results(Path(sys.argv[1])), Path(sys.argv[2]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
