"""The benchmark's picture: latency percentiles per run, throughput over time per system,
and the service's memory over the run (matplotlib, from the `bench` extra)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

COLOURS = {"raw": "#888888", "faust": "#1f77b4", "switchyard": "#d62728"}


def draw(doc: dict[str, Any], path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")  # no display: files only
    import matplotlib.pyplot as plt

    fig, (lat_ax, tp_ax, cap_ax, mem_ax) = plt.subplots(4, 1, figsize=(11, 16))
    _latency(lat_ax, doc)
    _throughput(tp_ax, doc)
    _capacity(cap_ax, doc)
    _memory(mem_ax, doc)
    fig.suptitle(f"switchyard bench {doc['meta'].get('mode', '')} — {doc['meta'].get('cpus')} CPUs, "
                 f"load {doc['meta'].get('load_average')}", fontsize=11)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path


def _latency(ax: Any, doc: dict[str, Any]) -> None:
    """Grouped bars: p50 / p90 / p99 per Kafka run and per workflow mode (log scale)."""
    labels, rows = [], []
    for r in doc["runs"]:
        labels.append(f"{r['system']}\n{r['scenario']}\nk={r['keys']} p={r['partitions']}")
        lat = r["latency_ms"]
        rows.append((lat["p50"], lat.get("p90", lat["p50"]), lat["p99"]))
    for mode, w in doc["workflow_3step"].items():
        labels.append("no-step call\nsequential" if mode == "baseline" else f"workflow\n{mode}")
        rows.append((w["p50_ms"], w.get("p90_ms", w["p50_ms"]), w["p99_ms"]))
    width = 0.27
    for i, name in enumerate(("p50", "p90", "p99")):
        xs = [n + (i - 1) * width for n in range(len(rows))]
        ax.bar(xs, [max(row[i], 0.1) for row in rows], width, label=name)
    ax.set_xticks(range(len(labels)), labels, fontsize=6)
    ax.set_yscale("log")
    ax.set_ylabel("latency, ms (log)")
    ax.set_title("End-to-end latency per run (Kafka: produce -> result record; workflow: HTTP call)", fontsize=10)
    ax.legend(fontsize=8)


def _throughput(ax: Any, doc: dict[str, Any]) -> None:
    for r in doc["runs"]:
        if r["scenario"] != "throughput" and not r["scenario"].startswith("latency"):
            continue
        style = "-" if r["scenario"] == "throughput" else ":"
        ax.plot(range(len(r["per_second"])), r["per_second"], style, color=COLOURS.get(r["system"]),
                label=f"{r['system']} {r['scenario']}")
    ax.set_xlabel("seconds since the first record was produced")
    ax.set_ylabel("results / s")
    ax.set_title("Throughput over time", fontsize=10)
    ax.legend(fontsize=8)


def _capacity(ax: Any, doc: dict[str, Any]) -> None:
    """p99 per offered rate on the capacity ladder, the SLO line, and each system's capacity."""
    if not doc.get("capacity"):
        ax.set_axis_off()
        ax.set_title("Capacity at the SLO: not run (scenario `capacity`)", fontsize=10)
        return
    slo = None
    for system, cap in doc.get("capacity", {}).items():
        slo = cap["slo_p99_ms"]
        steps = cap["steps"]
        ax.plot([st["offered_rps"] for st in steps], [max(st["latency_ms"]["p99"], 0.1) for st in steps], "o-",
                color=COLOURS.get(system), label=f"{system}: {cap['capacity_rps']:g} rec/s at the SLO")
        if cap["capacity_rps"]:
            ax.axvline(cap["capacity_rps"], color=COLOURS.get(system), linestyle=":")
    if slo is not None:
        ax.axhline(slo, color="black", linestyle="--", linewidth=0.8, label=f"SLO p99 {slo:g} ms")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("offered records/s")
    ax.set_ylabel("end-to-end p99, ms (log)")
    ax.set_title("Capacity at the SLO: p99 as the offered rate climbs", fontsize=10)
    ax.legend(fontsize=8)


def _memory(ax: Any, doc: dict[str, Any]) -> None:
    for name in ("service_memory", "soak"):
        mem = doc.get(name)
        if mem and mem.get("samples"):
            ax.plot([t for t, _ in mem["samples"]], [mb for _, mb in mem["samples"]],
                    label=f"{name.replace('_', ' ')} ({mem['growth_pct']:+.1f}%)")
    ax.set_xlabel("seconds")
    ax.set_ylabel("service RSS, MiB")
    ax.set_title("Service process memory (all service processes)", fontsize=10)
    ax.legend(fontsize=8)
