"""Training throughput of gan_lab's trainers vs plain PyTorch loops, peak memory, widget redraw, notebook times.

For each model, after a warm-up, three variants run the same number of steps,
in rotating order, ``--repeats`` times:

* ``plain``: ``for step: step()`` with the hand-written step of ``benchmarks/plain.py``;
* ``fit``: ``gan_lab.train.loop.fit`` around that same step (history, NaN guard,
  progress bar if ``--progress``): the loop's own cost;
* ``gan_lab``: the public trainer (``train_gan`` …) continuing its run: loop + library step functions.

Reported: images/s per variant (median over repeats), the ratios fit/plain and
gan_lab/plain (median of the per-repeat ratios; the issue's target is
≥ 0.95, i.e. ≤ 5 % overhead), and each variant's peak memory. Then the
latent explorer's redraw time and, with ``--notebooks [fast|full]``, each
notebook's run time. Output: a Markdown table on stdout and JSON (``--out``).

Usage:
    python benchmarks/bench.py                       # all models, default device
    python benchmarks/bench.py --quick --models dcgan_28
    python benchmarks/bench.py --threads 1 --out /tmp/t1.json
    python benchmarks/bench.py --precision bf16             # every variant under bf16 autocast
    python benchmarks/bench.py --models '' --notebooks full  # only the notebooks' full-mode times
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import torch

if __package__ in (None, ""):  # run as a script: make the repository root importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks import cases  # noqa: E402
from gan_lab.device import get_device  # noqa: E402
from gan_lab.precision import PRECISIONS, autocast, native_bf16, use_precision  # noqa: E402
from gan_lab.train.loop import fit  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
VARIANTS = ("plain", "fit", "gan_lab")


# ------------------------------------------------------------------------------------------------ memory
class PeakMemory:
    """Peak memory of a block above what was in use when it started, in MiB.

    CUDA: ``torch.cuda.max_memory_allocated`` (reset at the start). CPU: the
    process's peak resident set (VmHWM, reset through /proc/self/clear_refs)
    minus its resident set at the start; freed memory the allocator keeps
    is reused without showing up, so read it as "at least this much more".
    """

    def __init__(self, device: torch.device):
        self.device, self.mib = device, float("nan")

    def __enter__(self):
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
            torch.cuda.reset_peak_memory_stats(self.device)
            self.start = torch.cuda.memory_allocated(self.device)
        else:
            _release_free_memory()
            _reset_peak_rss()
            self.start = _proc_status("VmRSS")
        return self

    def __exit__(self, *exc):
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
            self.mib = (torch.cuda.max_memory_allocated(self.device) - self.start) / 2**20
        elif self.start is not None:
            self.mib = (_proc_status("VmHWM") - self.start) / 2**20


def _release_free_memory() -> None:
    """Hand freed heap pages back to the OS (glibc), so a block's growth shows up in its resident set."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):  # not glibc
        pass


def _reset_peak_rss() -> None:
    try:
        Path("/proc/self/clear_refs").write_text("5")  # Linux ≥ 4.0: VmHWM ← VmRSS
    except OSError:
        pass


def _proc_status(key: str) -> int | None:
    """A /proc/self/status field in bytes (Linux), else the process's lifetime peak from ``resource``."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        import resource
    except ImportError:  # Windows: no peak to read
        return None
    scale = 1 if sys.platform == "darwin" else 1024  # bytes on macOS, KiB on Linux
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale


# ------------------------------------------------------------------------------------------------ timing
def time_variant(case: cases.Case, variant: str, n: int, device, progress: bool, history: dict):
    """(wall, CPU) seconds for n training steps of one variant (device work included)."""
    if variant == "gan_lab":
        return case.gan_lab(n)
    if variant == "gan_lab_bf16":  # the same trainer and run, its steps in bf16 (--precision both)
        with use_precision("bf16", device):
            return case.gan_lab(n)
    start = cases.clock(device)
    if variant == "plain":
        with autocast(device):  # as a hand-written loop would use --precision: the whole block under autocast
            for _ in range(n):
                case.plain()
    else:  # the plain step inside gan_lab's loop; the history continues across repeats
        done = history["step"][-1] if history["step"] else 0
        fit(lambda step: case.plain(), done + n, models=case.plain_models, progress=progress, history=history)
    return cases.elapsed(device, start)


def bench_model(name: str, device, *, quick: bool, steps: int | None, repeats: int, warmup: int,
                seconds: float, progress: bool, variants: tuple[str, ...] = VARIANTS) -> dict:
    """Images/s of every variant (wall and CPU time), their ratios to plain and peak memory, for one model."""
    load = os.getloadavg()[0]
    case = cases.build(name, device, quick=quick, progress=progress, warmup=warmup)
    with autocast(device):
        for _ in range(warmup):
            case.plain()
    probe = max(1, warmup)
    per_step = time_variant(case, "plain", probe, device, progress, {"step": []})[0] / probe
    n = steps or max(3, min(200, round(seconds / max(per_step, 1e-6))))
    times = {v: [] for v in variants}
    memory = {v: 0.0 for v in variants}
    history = {"step": []}
    for r in range(repeats):
        k = r % len(variants)
        for variant in variants[k:] + variants[:k]:  # rotate the order: load drift hits each alike
            with PeakMemory(device) as peak:
                times[variant].append(time_variant(case, variant, n, device, progress, history))
            memory[variant] = max(memory[variant], peak.mib)
    images = n * case.images_per_step
    result = {"model": name, "label": case.label, "steps": n, "repeats": repeats,
              "images_per_step": case.images_per_step, "peak_memory_mib": memory, "loadavg_1min_at_start": load}
    for clock, i in (("", 0), ("_cpu", 1)):  # "_cpu": per second of this process's CPU time
        ips = {v: [images / max(t[i], 1e-9) for t in ts] for v, ts in times.items()}
        result[f"images_per{clock}_s"] = {v: statistics.median(x) for v, x in ips.items()}
        result[f"images_per{clock}_s_all"] = ips
        result[f"ratio{clock}_to_plain"] = {v: statistics.median(a / b for a, b in zip(ips[v], ips["plain"]))
                                            for v in ("fit", "gan_lab")}
        if "gan_lab_bf16" in ips:  # measured alternately in one process: the machine's drift cancels
            result[f"ratio{clock}_bf16_to_fp32"] = statistics.median(
                a / b for a, b in zip(ips["gan_lab_bf16"], ips["gan_lab"]))
    return result


def bench_loop(device, steps: int, keys: int = 4) -> dict:
    """fit's own cost per step, in µs: a step that only returns ``keys`` scalars on the device, in fit vs a bare loop.

    This is what the loop adds to every step of every trainer (accumulating the
    losses on the device, one host sync per ``log_every`` steps, the progress bar).
    """
    out = {f"loss_{i}": torch.tensor(float(i), device=device) for i in range(keys)}
    step = lambda s: out
    result = {"steps": steps, "keys": keys}
    for name in ("bare", "fit", "fit_progress"):
        best = float("inf")
        for _ in range(15):  # the minimum of 15: the loop's cost without the other processes' noise
            start = cases.clock(device)
            if name == "bare":
                for s in range(steps):
                    step(s)
            else:
                fit(step, steps, models={}, progress=name == "fit_progress")
            best = min(best, cases.elapsed(device, start)[0])
        result[f"{name}_us_per_step"] = 1e6 * best / steps
    return result


def bench_widget(device, redraws: int, quick: bool = False) -> dict:
    """The latent explorer on a DCGAN G (28 px): build time and the slider → new PNG callback, median of N."""
    from gan_lab.models.dcgan import DCGANGenerator
    from gan_lab.widgets.latent import LatentExplorer

    z_dim, width, n_real, n_pca = (16, 8, 200, 64) if quick else (64, 32, 2000, 512)
    torch.manual_seed(0)
    G = DCGANGenerator(z_dim, 1, 28, width).to(device).eval()
    data = torch.rand(n_real, 1, 28, 28) * 2 - 1
    start = time.perf_counter()
    explorer = LatentExplorer(G, data, n_pca=n_pca)
    build_s = time.perf_counter() - start
    times = []
    for i in range(redraws + 2):
        start = time.perf_counter()
        explorer.sliders[0].value = (-2.0, 2.0)[i % 2]  # what a drag does: observe → redraw → new PNG
        if i >= 2:  # two warm-up redraws
            times.append(time.perf_counter() - start)
    return {"model": f"DCGAN G 28 px (width {width}, z {z_dim}), {n_real} training images for the neighbour "
                     f"panel, {n_pca} codes for the principal directions",
            "build_s": build_s, "redraw_ms_median": 1000 * statistics.median(times),
            "redraw_ms_all": [1000 * t for t in times]}


def bench_notebooks(mode: str = "fast", pattern: str = "*.ipynb", timeout: int = 3600) -> list[dict]:
    """Each notebook matching ``pattern`` executed with nbclient in FAST (GAN_LAB_FAST=1) or full mode.

    Returns one ``{"notebook", "mode", "seconds", "error"}`` per notebook: wall time, and why it failed (None: ran).
    Full mode trains what the checkpoint cache lacks, so on an empty cache it measures a first run.
    """
    import nbformat
    from nbclient import NotebookClient

    results, saved = [], os.environ.get("GAN_LAB_FAST")
    os.environ["GAN_LAB_FAST"] = "1" if mode == "fast" else "0"  # the kernel inherits this process's environment
    try:
        for path in sorted((ROOT / "notebooks").glob(pattern)):
            nb = nbformat.read(path, as_version=4)
            start, error = time.perf_counter(), None
            try:
                NotebookClient(nb, timeout=timeout, kernel_name="python3",
                               resources={"metadata": {"path": str(path.parent)}}).execute()
            except Exception as e:  # a failing notebook is a result, not the end of the benchmark
                error = f"{type(e).__name__}: {str(e).strip().splitlines()[-1] if str(e).strip() else ''}"
            results.append({"notebook": path.name, "mode": mode, "seconds": time.perf_counter() - start,
                            "error": error})
            print(f"{path.name} ({mode}): {results[-1]['seconds']:.0f} s, {error or 'ok'}", file=sys.stderr,
                  flush=True)
    finally:
        if saved is None:
            os.environ.pop("GAN_LAB_FAST")
        else:
            os.environ["GAN_LAB_FAST"] = saved
    return results


# ------------------------------------------------------------------------------------------------ report
def machine(device: torch.device) -> dict:
    """What the numbers were measured on."""
    cpu = platform.processor() or platform.machine()
    try:
        cpu = next(line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                   if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    info = {"cpu": cpu, "cpu_count": os.cpu_count(),
            "cpus_usable": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
            "python": platform.python_version(), "torch": torch.__version__, "torch_threads": torch.get_num_threads(),
            "torch_interop_threads": torch.get_num_interop_threads(), "device": str(device),
            "platform": platform.platform(), "cpu_capability": torch.backends.cpu.get_cpu_capability(),
            "bf16_in_hardware": native_bf16(device),
            # set to measure a CPU without bf16 instructions on one that has them
            "isa_limits": {k: os.environ[k] for k in ("ATEN_CPU_CAPABILITY", "ONEDNN_MAX_CPU_ISA") if k in os.environ}}
    if device.type == "cuda":
        info["gpu"] = torch.cuda.get_device_name(device)
    return info


def markdown(results: dict) -> str:
    """The results as Markdown tables."""
    m = results["machine"]
    lines = [f"Machine: {m['cpu']}, {m['cpus_usable']} usable cores, torch {m['torch']} ({m['torch_threads']} "
             f"threads), device {m['device']}{', ' + m['gpu'] if 'gpu' in m else ''}, precision "
             f"{results['settings'].get('precision', 'fp32')}; load average "
             f"{results['loadavg_start'][0]:.2f} → {results['loadavg_end'][0]:.2f}.", "",
             "| model | steps × repeats | plain img/s | fit img/s | gan_lab img/s | fit / plain | gan_lab / plain "
             "| gan_lab / plain (CPU time) | peak MiB plain / gan_lab | load |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for r in results["models"]:
        ips, ratio, mem = r["images_per_s"], r["ratio_to_plain"], r["peak_memory_mib"]
        lines.append(f"| {r['label']} | {r['steps']} × {r['repeats']} | {ips['plain']:.0f} | {ips['fit']:.0f} | "
                     f"{ips['gan_lab']:.0f} | {ratio['fit']:.3f} | {ratio['gan_lab']:.3f} | "
                     f"{r['ratio_cpu_to_plain']['gan_lab']:.3f} | {mem['plain']:.0f} / {mem['gan_lab']:.0f} | "
                     f"{r['loadavg_1min_at_start']:.1f} |")
    bf16 = [r for r in results["models"] if "ratio_cpu_bf16_to_fp32" in r]
    if bf16:
        lines += ["", "| model | gan_lab img/s fp32 | gan_lab img/s bf16 | bf16 / fp32 | bf16 / fp32 (CPU time) |",
                  "|---|---|---|---|---|"]
        lines += [f"| {r['label']} | {r['images_per_s']['gan_lab']:.0f} | {r['images_per_s']['gan_lab_bf16']:.0f} | "
                  f"{r['ratio_bf16_to_fp32']:.2f} | {r['ratio_cpu_bf16_to_fp32']:.2f} |" for r in bf16]
    loop = results["loop"]
    lines += ["", f"fit's own cost per step ({loop['keys']} logged scalars): {loop['fit_us_per_step']:.1f} µs "
                  f"({loop['fit_progress_us_per_step']:.1f} µs with the progress bar; bare loop "
                  f"{loop['bare_us_per_step']:.2f} µs)."]
    if results.get("widget"):
        w = results["widget"]
        lines += ["", f"Latent explorer: build {w['build_s']:.2f} s, redraw (slider → PNG) median "
                      f"{w['redraw_ms_median']:.1f} ms over {len(w['redraw_ms_all'])}."]
    if results.get("notebooks"):
        lines += ["", "| notebook | mode | seconds | result |", "|---|---|---|---|"]
        lines += [f"| {n['notebook']} | {n.get('mode', 'fast')} | {n['seconds']:.1f} | {n['error'] or 'ok'} |"
                  for n in results["notebooks"]]
    return "\n".join(lines)


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--device", default=None, help="cpu, cuda, mps (default: what gan_lab.get_device picks)")
    p.add_argument("--models", default=",".join(cases.MODELS), help=f"comma-separated subset of {list(cases.MODELS)}")
    p.add_argument("--quick", action="store_true", help="tiny networks, 2 steps, 1 repeat: checks that it runs")
    p.add_argument("--steps", type=int, default=None, help="steps per measurement (default: about --seconds worth)")
    p.add_argument("--seconds", type=float, default=2.0, help="target length of one measurement")
    p.add_argument("--repeats", type=int, default=None, help="measurements per variant (default 5; --quick 1)")
    p.add_argument("--warmup", type=int, default=3, help="warm-up steps per variant")
    p.add_argument("--progress", action="store_true", help="show fit's progress bar, as a notebook user sees it")
    p.add_argument("--precision", choices=(*PRECISIONS, "both"), default="fp32", help="train every variant in "
                   "fp32 or in bf16; both: the variants in fp32 plus gan_lab's trainer in bf16, alternately, for "
                   "the bf16 / fp32 ratio (default: %(default)s)")
    p.add_argument("--threads", type=int, default=None, help="torch.set_num_threads before measuring")
    p.add_argument("--redraws", type=int, default=None, help="latent explorer redraws timed (default 50; --quick 3)")
    p.add_argument("--no-widget", action="store_true", help="skip the latent explorer")
    p.add_argument("--notebooks", nargs="?", const="fast", choices=("fast", "full"), default=None,
                   help="also run the notebooks, in FAST mode (the default) or full mode (slow)")
    p.add_argument("--notebook-pattern", default="*.ipynb", help="which notebooks (a glob in notebooks/, e.g. "
                   "'0[2-4]*'; default: all)")
    p.add_argument("--out", default=str(ROOT / "benchmarks" / "results.json"), help="where to write the JSON")
    return p.parse_args(argv)


def main(argv=None) -> dict:
    """Run the benchmark; print the Markdown table, write the JSON, return the results."""
    args = parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    device = get_device(args.device)
    names = [n.strip() for n in args.models.split(",") if n.strip()]
    unknown = sorted(set(names) - set(cases.MODELS))
    if unknown:
        raise SystemExit(f"Unknown models {unknown}; choose from {list(cases.MODELS)}.")
    repeats = args.repeats or (1 if args.quick else 5)
    steps = args.steps or (2 if args.quick else None)
    results = {"machine": machine(device), "loadavg_start": os.getloadavg(),
               "settings": {"quick": args.quick, "progress": args.progress, "warmup": args.warmup,
                            "repeats": repeats, "steps": steps, "seconds": args.seconds,
                            "precision": args.precision},
               "models": []}
    both = args.precision == "both"
    variants = (*VARIANTS, "gan_lab_bf16") if both else VARIANTS
    with use_precision("fp32" if both else args.precision, device):  # fit's steps; plain enters autocast itself
        for name in names:
            results["models"].append(bench_model(name, device, quick=args.quick, steps=steps, repeats=repeats,
                                                 warmup=1 if args.quick else args.warmup, seconds=args.seconds,
                                                 progress=args.progress, variants=variants))
            print(f"{name}: done", file=sys.stderr, flush=True)
    results["loop"] = bench_loop(device, 100 if args.quick else 500)
    if not args.no_widget:
        results["widget"] = bench_widget(device, args.redraws or (3 if args.quick else 50), args.quick)
    if args.notebooks:
        results["notebooks"] = bench_notebooks(args.notebooks, args.notebook_pattern)
    results["loadavg_end"] = os.getloadavg()
    print(markdown(results))
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=1))
    return results


if __name__ == "__main__":
    main()
