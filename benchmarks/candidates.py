"""The candidates for the default measured beside it, at a glance: what each did to FID and to the two-sample test.

Reads the stored two-core files (``time_to_quality_two_sample_pneumoniamnist_2cores_*.json``) whose budget is the aim's
180 s and that hold the default (``notebook_02``) and at least one other configuration of the same invocation. Each
other configuration is paired with that default seed by seed (``time_to_quality.paired``: the same seeds, the same
judges), so the machine's pace on the day cancels as far as it can. Left out: the first two-core file, which the pattern
does not match (its name has no suffix; one of its candidates ran in a later session than its default), other budgets
(``_equal_steps``, ``_longer``) and files of the default alone. ``earlier_default*`` rows are defaults of the past, not
candidates.

Writes ``candidates.json`` (each candidate's by-seed differences, means and steps) and ``candidates.png``: the mean
difference in FID against the mean difference in two-sample accuracy, each seed faint, hollow where a run had one judge,
the aim's direction (both lower) shaded. Run from the repository root after storing a new file::

    python benchmarks/candidates.py

``--check`` recomputes the table and fails if ``candidates.json`` no longer matches the stored files.
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
from collections import Counter
from pathlib import Path

HERE = Path(__file__).resolve().parent
if __package__ in (None, ""):  # run as a script: the repository root on the path, for benchmarks.*
    sys.path.insert(0, str(HERE.parent))

from benchmarks.time_to_quality import paired  # noqa: E402

PATTERN = "time_to_quality_two_sample_pneumoniamnist_2cores_*.json"
BUDGET = 180.0
BASELINE = "notebook_02"
DPI = 110
X_MAX = 3.5  # FID differences beyond this are drawn at the edge (one candidate's +8.5 would squeeze the others)
Y_MAX = 0.15  # and two-sample differences beyond this (a pool of 500 fakes: +0.27)
LABEL_SIZE, LINE, GAP = 7, 14, 5  # labels' font size (points); a line's step, a label's gap from its point (pixels)


def candidates(directory: Path = HERE) -> list[dict]:
    """One entry per (file, candidate): the candidate minus the default of its invocation, seed by seed."""
    rows = []
    for path in sorted(directory.glob(PATTERN)):
        result = json.loads(path.read_text())
        configs = result["configs"]
        if result["settings"]["budget"] != BUDGET or BASELINE not in configs:
            continue
        base_steps = _final_steps(configs[BASELINE]["runs"])
        for name, entry in configs.items():
            if name == BASELINE or name.startswith("earlier_default"):
                continue
            against = paired(entry["runs"], configs[BASELINE]["runs"])
            if against is None:  # no seed in common with the default: nothing to pair
                continue
            steps = _final_steps(entry["runs"])
            rows.append({"file": path.name, "config": name, "seeds": against["seeds"],
                         "judges": result["settings"].get("judges") or 1,
                         "fid": against["fid"], "two_sample_accuracy": against["two_sample_accuracy"],
                         "steps_ratio": round(statistics.mean(steps[s] / base_steps[s] for s in against["seeds"]), 3)})
    return rows


def _final_steps(runs: list[dict]) -> dict[int, int]:
    """Each run's steps at the end of its budget, by seed."""
    return {run["seed"]: run["curve"][-1]["step"] for run in runs}


def _suffix(file: str) -> str:
    """What tells a stored file from the others: "topk" for ``..._2cores_topk.json``."""
    return file.removeprefix(PATTERN.split("*")[0]).removesuffix(".json")


def table(rows: list[dict]) -> str:
    """The rows as text, lowest mean accuracy difference first."""
    lines = [f"{'candidate (file)':62s} {'seeds':>5s} {'steps':>6s} {'Δ FID':>7s} {'Δ two-sample':>13s}"]
    for row in sorted(rows, key=lambda r: r["two_sample_accuracy"]["mean"]):
        name = f"{row['config']} ({_suffix(row['file'])})"
        lines.append(f"{name:62s} {len(row['seeds']):5d} {row['steps_ratio']:6.2f} {row['fid']['mean']:+7.2f} "
                     f"{row['two_sample_accuracy']['mean']:+13.3f}")
    return "\n".join(lines)


def plot(rows: list[dict], path: Path) -> None:
    """Mean Δ FID against mean Δ two-sample accuracy per candidate, its seeds faint, the aim's quadrant shaded."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(10, 7), dpi=DPI)
    ax.axhline(0, color="grey", lw=0.8)
    ax.axvline(0, color="grey", lw=0.8)
    repeated = {name for name, count in Counter(r["config"] for r in rows).items() if count > 1}
    labels = []
    for row in rows:
        fid, acc = row["fid"], row["two_sample_accuracy"]
        for x, y in zip(fid["per_seed"], acc["per_seed"]):  # beyond X_MAX or Y_MAX: at the edge, as a triangle
            ax.scatter(min(x, X_MAX), min(y, Y_MAX), s=10, marker=_beyond(x, y) or "o",
                       color="tab:blue", alpha=0.25, lw=0)
        x, y = min(fid["mean"], X_MAX), min(acc["mean"], Y_MAX)
        marker = _beyond(fid["mean"], acc["mean"]) or ("s" if len(row["seeds"]) >= 8 else "o")
        colour = "tab:red" if row["steps_ratio"] < 0.9 else "tab:blue"
        ax.scatter(x, y, s=40 if marker == "s" else 28, marker=marker, zorder=3, edgecolors=colour, linewidths=1.2,
                   facecolors=colour if row["judges"] > 1 else "white")  # hollow: one judge a run
        label = row["config"].removeprefix(f"{BASELINE}_")
        if row["config"] in repeated:  # which invocation: the file's suffix
            label += f" [{_suffix(row['file'])}]"
        beyond = []  # the mean drawn at an edge: its value in the label
        if fid["mean"] > X_MAX:
            beyond.append(f"Δ FID {fid['mean']:+.1f}")
        if acc["mean"] > Y_MAX:
            beyond.append(f"Δ two-sample {acc['mean']:+.2f}")
        if beyond:
            label += f" ({', '.join(beyond)})"
        labels.append((x, y, label, fid["mean"] > X_MAX))
    left, right = ax.get_xlim()
    bottom, top = ax.get_ylim()
    ax.fill_between([min(left, -0.05), 0], min(bottom, -0.05), 0, color="tab:green", alpha=0.08, zorder=0)
    ax.set(xlim=(left, min(right, X_MAX + 0.2)), ylim=(bottom, top),
           xlabel="FID, candidate minus the default of the same invocation (lower: closer to real)",
           ylabel="two-sample accuracy, candidate minus default (lower: harder to tell from real)",
           title=f"candidates measured beside the default at {BUDGET:.0f} s on 2 cores (faint: single seeds)")
    fig.tight_layout()  # before the labels are placed: it moves the axes, and with them the points' pixels
    key = ax.text(0.01, 0.01, "shaded: both lower, the aim's direction\nred: under 0.9 of the default's steps\n"
                  "square: eight seeds; hollow: one judge a run (else four)\n"
                  f"▶: beyond Δ FID {X_MAX}, ▲: beyond Δ two-sample {Y_MAX}, drawn at the edge",
                  transform=ax.transAxes, fontsize=8, va="bottom")
    _place_labels(ax, labels, keep_clear=key)
    fig.savefig(path, dpi=DPI)
    plt.close(fig)


def _beyond(x: float, y: float) -> str | None:
    """The marker of a point drawn at an edge: ">" beyond ``X_MAX`` (first), "^" beyond ``Y_MAX``; None inside."""
    return ">" if x > X_MAX else "^" if y > Y_MAX else None


def _place_labels(ax, labels: list[tuple[float, float, str, bool]], keep_clear) -> None:
    """Each label beside its point, measured as it will be drawn and placed by ``_layout`` clear of the other
    labels, of the mean points, of the artist ``keep_clear`` (the key) and of the axes' edges where the search finds
    room, with a grey leader line where it had to move away from its point."""
    from matplotlib.font_manager import FontProperties

    renderer, font = ax.figure.canvas.get_renderer(), FontProperties(size=LABEL_SIZE)
    anchors = []
    for x, y, text, at_edge in labels:
        width, height, _ = renderer.get_text_width_height_descent(text, font, ismath=False)
        anchors.append((*ax.transData.transform((x, y)), width, height, at_edge))
    key, frame = keep_clear.get_window_extent(renderer), ax.get_window_extent(renderer)
    layout = _layout(anchors, [(key.x0, key.y0, key.x1, key.y1)], (frame.x0, frame.y0, frame.x1, frame.y1))
    for (x, y, text, _), (dx, dy, left) in zip(labels, layout):
        ax.annotate(text, (x, y), xytext=(dx, dy), textcoords="offset pixels", fontsize=LABEL_SIZE, va="center",
                    ha="right" if left else "left", arrowprops=None if dy == 0 else
                    {"arrowstyle": "-", "color": "grey", "lw": 0.5})


def _layout(anchors: list[tuple[float, float, float, float, bool]], obstacles: list[tuple[float, ...]] = (),
            frame: tuple[float, float, float, float] | None = None, reach: int = 12) -> list[tuple[int, int, bool]]:
    """Offsets (dx, dy, on the left?) in pixels for labels of size (w, h) anchored at points (x, y).

    Each label takes the nearest free place: beside its point, on its own side (the right, or the left for a point
    drawn at the right edge) before the other, then one line lower, one line higher, two lines lower, ... up to
    ``reach`` lines away. A place is free if its box keeps ``GAP`` pixels across and ``GAP`` / 2 up and down from
    every label placed before, every box of ``obstacles`` (x0, y0, x1, y1) and every other label's point, and lies
    inside ``frame``; where none is free, the one that overlaps least (outside the frame only if every place is).
    Labels are placed from the top of the picture down."""
    def overlap(a, b):  # the area two boxes would share if each were widened by the air they must keep
        return (max(0.0, min(a[2], b[2]) - max(a[0], b[0]) + GAP)
                * max(0.0, min(a[3], b[3]) - max(a[1], b[1]) + GAP / 2))

    def outside(box):
        return frame is not None and (box[0] < frame[0] or box[1] < frame[1] or box[2] > frame[2] or box[3] > frame[3])

    markers = [(x - GAP, y - GAP, x + GAP, y + GAP) for x, y, *_ in anchors]  # the points the labels name
    placed, out = [], [None] * len(anchors)
    for i in sorted(range(len(anchors)), key=lambda i: -anchors[i][1]):
        x, y, w, h, at_edge = anchors[i]
        others = [*placed, *obstacles, *(marker for j, marker in enumerate(markers) if j != i)]
        best = None
        for k in range(2 * reach + 1):
            dy = (k + 1) // 2 * LINE * (-1 if k % 2 else 1)  # 0, -1, +1, -2, +2, ... lines
            for left in (at_edge, not at_edge):
                dx = -GAP if left else GAP
                box = (x + dx - w if left else x + dx, y + dy - h / 2, x + dx if left else x + dx + w, y + dy + h / 2)
                cost = math.inf if outside(box) else sum(overlap(box, b) for b in others)
                if best is None or cost < best[0]:
                    best = (cost, box, (dx, dy, left))
                if cost == 0:
                    break
            if best[0] == 0:
                break
        placed.append(best[1])
        out[i] = best[2]
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=HERE / "candidates.json")
    parser.add_argument("--plot", type=Path, default=HERE / "candidates.png")
    parser.add_argument("--check", action="store_true", help="fail if --out does not match the stored files")
    args = parser.parse_args(argv)
    rows = candidates()
    print(table(rows))
    if args.check:
        stored = json.loads(args.out.read_text())["candidates"]
        if stored != rows:
            print(f"{args.out} is out of date: run python benchmarks/candidates.py", file=sys.stderr)
            return 1
        return 0
    args.out.write_text(json.dumps({"pattern": PATTERN, "budget": BUDGET, "baseline": BASELINE,
                                    "candidates": rows}, indent=1) + "\n")
    plot(rows, args.plot)
    print(f"wrote {args.out} and {args.plot}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
