"""Every candidate for the default measured beside it, at a glance: what each did to FID and to the two-sample test.

Reads the stored two-core files (``time_to_quality_two_sample_pneumoniamnist_2cores_*.json``) whose budget is the
aim's 180 s and that hold the default (``notebook_02``) and at least one other configuration of the same invocation.
Each other configuration is paired with that default seed by seed (``time_to_quality.paired``: the same seeds, the
same judges), so the machine's pace on the day cancels as far as it can. Left out: files made across sessions (the
first two-core file, one of whose candidates ran in a later session than its default), other budgets
(``_equal_steps``, ``_longer``) and files of the default alone. ``earlier_default*`` rows are defaults of the past,
not candidates.

Writes ``candidates.json`` (each candidate's by-seed differences, means and steps) and ``candidates.png``: the mean
difference in FID against the mean difference in two-sample accuracy, each seed faint, the aim's direction (both
lower) shaded. Run from the repository root after storing a new file::

    python benchmarks/candidates.py

``--check`` recomputes the table and fails if ``candidates.json`` no longer matches the stored files.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
if __package__ in (None, ""):  # run as a script: the repository root on the path, for benchmarks.*
    sys.path.insert(0, str(HERE.parent))

from benchmarks.time_to_quality import paired  # noqa: E402

PATTERN = "time_to_quality_two_sample_pneumoniamnist_2cores_*.json"
BUDGET = 180.0
BASELINE = "notebook_02"
X_MAX = 3.5  # FID differences beyond this are drawn at the edge (one candidate's +8.5 would squeeze the others)


def candidates(directory: Path = HERE) -> list[dict]:
    """One entry per (file, candidate): the candidate minus the default of its invocation, seed by seed."""
    rows = []
    for path in sorted(directory.glob(PATTERN)):
        result = json.loads(path.read_text())
        configs = result["configs"]
        if result["settings"]["budget"] != BUDGET or BASELINE not in configs:
            continue
        for name, entry in configs.items():
            if name == BASELINE or name.startswith("earlier_default"):
                continue
            against = paired(entry["runs"], configs[BASELINE]["runs"])
            steps = {run["seed"]: run["curve"][-1]["step"] for run in entry["runs"]}
            base_steps = {run["seed"]: run["curve"][-1]["step"] for run in configs[BASELINE]["runs"]}
            rows.append({"file": path.name, "config": name, "seeds": against["seeds"],
                         "judges": result["settings"].get("judges") or 1,
                         "fid": against["fid"], "two_sample_accuracy": against["two_sample_accuracy"],
                         "steps_ratio": round(statistics.mean(steps[s] / base_steps[s] for s in against["seeds"]), 3)})
    return rows


def table(rows: list[dict]) -> str:
    """The rows as text, lowest mean accuracy difference first."""
    lines = [f"{'candidate (file)':62s} {'seeds':>5s} {'steps':>6s} {'Δ FID':>7s} {'Δ two-sample':>13s}"]
    for row in sorted(rows, key=lambda r: r["two_sample_accuracy"]["mean"]):
        name = f"{row['config']} ({row['file'].removeprefix(PATTERN.split('*')[0]).removesuffix('.json')})"
        lines.append(f"{name:62s} {len(row['seeds']):5d} {row['steps_ratio']:6.2f} {row['fid']['mean']:+7.2f} "
                     f"{row['two_sample_accuracy']['mean']:+13.3f}")
    return "\n".join(lines)


def plot(rows: list[dict], path: Path) -> None:
    """Mean Δ FID against mean Δ two-sample accuracy per candidate, its seeds faint, the aim's quadrant shaded."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(10, 7))
    ax.axhline(0, color="grey", lw=0.8)
    ax.axvline(0, color="grey", lw=0.8)
    for row in rows:
        fid, acc = row["fid"], row["two_sample_accuracy"]
        seeds = [(x, y) for x, y in zip(fid["per_seed"], acc["per_seed"]) if x <= X_MAX]
        ax.scatter([x for x, _ in seeds], [y for _, y in seeds], s=10, color="tab:blue", alpha=0.25, lw=0)
        eight, beyond = len(row["seeds"]) >= 8, fid["mean"] > X_MAX  # beyond: drawn at the edge, its value named
        ax.scatter(min(fid["mean"], X_MAX), acc["mean"], s=40 if eight else 25,
                   marker=">" if beyond else "s" if eight else "o",
                   color="tab:red" if row["steps_ratio"] < 0.9 else "tab:blue", zorder=3)
        label = row["config"].removeprefix(f"{BASELINE}_") + (f" (Δ FID {fid['mean']:+.1f})" if beyond else "")
        ax.annotate(label, (min(fid["mean"], X_MAX), acc["mean"]), fontsize=7, xytext=(-4 if beyond else 4, 2),
                    textcoords="offset points", ha="right" if beyond else "left")
    left, right = ax.get_xlim()
    bottom, top = ax.get_ylim()
    ax.fill_between([min(left, -0.05), 0], min(bottom, -0.05), 0, color="tab:green", alpha=0.08, zorder=0)
    ax.set(xlim=(left, min(right, X_MAX + 0.2)), ylim=(bottom, top),
           xlabel="FID, candidate minus the default of the same invocation (lower: closer to real)",
           ylabel="two-sample accuracy, candidate minus default (lower: harder to tell from real)",
           title=f"every candidate for the default at {BUDGET:.0f} s on 2 cores (faint: single seeds)")
    ax.text(0.01, 0.01, "shaded: both lower, the aim's direction\nred: under 0.9 of the default's steps\n"
            f"square: eight seeds; ▶: mean beyond Δ FID {X_MAX} (its seeds there not drawn)", transform=ax.transAxes,
            fontsize=8, va="bottom")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


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
