"""Regenerate ``gan_lab/course/reference_values.json``: the reference run the notebooks compare with.

Executes the notebooks top to bottom in full mode (each in a fresh kernel, as ``pretrain`` does) with
``GAN_LAB_RECORD_REFERENCE`` set, so every ``gan_lab.course.reference.compare`` call appends the run's
numbers to a scratch file; the numbers of each notebook then replace its entry in the JSON file, with
when, on what and how long. Notebooks not named keep their entries.

Run from the repository root, with the real data (the numbers are meant for the MedMNIST files)::

    GAN_LAB_DATA=../shared/data python scripts/reference_values.py            # every notebook
    GAN_LAB_DATA=../shared/data python scripts/reference_values.py 06_segan   # one notebook

With an empty checkpoint cache (``GAN_LAB_HOME`` → an empty folder) the seconds it reports are the
notebooks' first-run times in full mode, as the README's course map quotes them: each notebook trains
what it needs and finds what the notebooks before it cached (e.g. the feature networks of 03); each
run records how many checkpoints the cache held before it.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from gan_lab import config  # noqa: E402
from gan_lab.course.pretrained import run_notebook  # noqa: E402
from gan_lab.course.reference import FILE  # noqa: E402


def notebooks_with_compare() -> list[str]:
    """The notebooks (stems) whose code calls ``compare``: the ones with reference values."""
    return sorted(p.stem for p in (ROOT / "notebooks").glob("*.ipynb") if "compare(" in p.read_text())


def collect(records: list[dict]) -> dict[str, dict[str, float]]:
    """Scratch-file lines → {notebook: {quantity: value}}.

    Raises:
        ValueError: a line came from a FAST-mode run, or a notebook reports one quantity twice.
    """
    values: dict[str, dict[str, float]] = {}
    for record in records:
        if record["mode"] != "full":
            raise ValueError(f"{record['notebook']} ran in FAST mode; reference values come from full mode "
                             "(unset GAN_LAB_FAST).")
        entry = values.setdefault(record["notebook"], {})
        twice = set(entry) & set(record["values"])
        if twice:
            raise ValueError(f"{record['notebook']} reports {sorted(twice)} twice; give each quantity one name.")
        entry |= record["values"]
    return values


def data_description() -> str:
    from gan_lab.data import load

    source = load("pneumoniamnist", split="test").source
    return "the MedMNIST files" if source.startswith("real") else "phantoms (no MedMNIST files found)"


def merge(old: dict, new_values: dict, runs: dict) -> dict:
    """The file's new contents: the measured notebooks replaced, the others kept."""
    machine = f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__}"
    return {"measured": {"data": data_description(), "machine": machine, "date": datetime.date.today().isoformat()},
            "notebooks": dict(sorted((old.get("notebooks", {}) | new_values).items())),
            "runs": dict(sorted((old.get("runs", {}) | runs).items()))}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("notebooks", nargs="*", help="notebook stems (default: every notebook that calls compare)")
    parser.add_argument("--out", type=Path, default=FILE)
    args = parser.parse_args(argv)
    if config.fast_mode():
        parser.error("GAN_LAB_FAST is set: the reference run is the full-mode run; unset it.")
    known = notebooks_with_compare()
    unknown = sorted(set(args.notebooks) - set(known))
    if unknown:
        parser.error(f"no reference values in {unknown}; choose from {', '.join(known)}")
    runs = {}
    with tempfile.TemporaryDirectory() as scratch:
        record = Path(scratch) / "records.jsonl"
        record.touch()
        os.environ["GAN_LAB_RECORD_REFERENCE"] = str(record)  # the kernels inherit it
        for stem in args.notebooks or known:
            cached = [p for p in config.CHECKPOINT_DIR.glob("*") if p.name != "fast"]  # FAST runs' caches don't count
            start = time.perf_counter()
            run_notebook(ROOT / "notebooks" / f"{stem}.ipynb")
            runs[stem] = {"seconds": round(time.perf_counter() - start), "date": datetime.date.today().isoformat(),
                          "cache": f"{len(cached)} checkpoints before it" if cached else "empty"}
            print(f"{stem}: {runs[stem]['seconds']} s", flush=True)
        values = collect([json.loads(line) for line in record.read_text().splitlines() if line.strip()])
    missing = sorted(set(runs) - set(values))
    if missing:
        raise SystemExit(f"{missing} ran but recorded nothing; is compare() inside an `if` that was skipped?")
    old = json.loads(args.out.read_text()) if args.out.is_file() else {}
    args.out.write_text(json.dumps(merge(old, values, runs), indent=1, ensure_ascii=False) + "\n")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
