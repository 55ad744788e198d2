"""benchmarks/bench.py: a --quick run produces a complete, finite JSON report and a Markdown table."""

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from benchmarks import bench, cases

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("bench") / "results.json"
    threads = torch.get_num_threads()
    try:  # one thread: fast on a busy machine too
        results = bench.main(["--quick", "--device", "cpu", "--threads", "1", "--models", "mlp_gan,cgan_projection",
                              "--redraws", "2", "--out", str(out)])
    finally:
        torch.set_num_threads(threads)  # give the other tests theirs back
    return results, json.loads(out.read_text())


def test_json_holds_every_model_and_variant_with_positive_finite_numbers(quick_run):
    results, stored = quick_run
    assert [m["model"] for m in stored["models"]] == ["mlp_gan", "cgan_projection"]
    assert stored["models"] == json.loads(json.dumps(results["models"]))  # what main returns is what it wrote
    for m in stored["models"]:
        assert set(m["images_per_s"]) == set(m["images_per_cpu_s"]) == set(bench.VARIANTS) == set(m["peak_memory_mib"])
        speeds = [*m["images_per_s"].values(), *m["images_per_cpu_s"].values(), *m["ratio_to_plain"].values(),
                  *m["ratio_cpu_to_plain"].values()]
        assert all(math.isfinite(v) and v > 0 for v in speeds), m
        assert all(math.isfinite(v) and v >= 0 for v in m["peak_memory_mib"].values()), m
        assert all(len(v) == m["repeats"] for v in m["images_per_s_all"].values())


def test_machine_widget_and_settings_are_recorded(quick_run):
    _, stored = quick_run
    machine = stored["machine"]
    assert machine["device"] == "cpu" and machine["torch_threads"] == 1 and machine["torch"]
    assert stored["settings"]["quick"] is True and len(stored["loadavg_start"]) == 3
    widget = stored["widget"]
    assert len(widget["redraw_ms_all"]) == 2 and widget["redraw_ms_median"] > 0 and widget["build_s"] > 0
    assert "notebooks" not in stored  # off unless --notebooks
    loop = stored["loop"]
    assert all(math.isfinite(loop[k]) and loop[k] > 0 for k in ("bare_us_per_step", "fit_us_per_step"))


def test_markdown_table_has_one_row_per_model(quick_run):
    results, _ = quick_run
    table = bench.markdown(results)
    assert table.count("\n| ") == 2 + 1  # header row + two models (the separator starts with "|---")
    assert cases.MODELS["mlp_gan"][0] in table and "Latent explorer" in table


def test_unknown_model_is_refused(tmp_path):
    with pytest.raises(SystemExit, match="Unknown models"):
        bench.main(["--quick", "--models", "stylegan", "--out", str(tmp_path / "r.json")])


def test_bf16_runs_every_variant_under_autocast(tmp_path, monkeypatch):
    from gan_lab import precision

    monkeypatch.setattr(precision, "_current", None)
    convolutions = []  # (autocast on?, output dtype) of every convolution any variant ran

    def record(module, args, output):
        if isinstance(module, (torch.nn.Conv2d, torch.nn.ConvTranspose2d)):
            convolutions.append((torch.is_autocast_enabled("cpu"), output.dtype))

    handle = torch.nn.modules.module.register_module_forward_hook(record)
    try:
        stored = bench.main(["--quick", "--device", "cpu", "--models", "dcgan_28", "--no-widget",
                             "--precision", "bf16", "--out", str(tmp_path / "r.json")])
    finally:
        handle.remove()
    assert stored["settings"]["precision"] == "bf16" and "precision bf16" in bench.markdown(stored)
    # plain (block autocast), fit and gan_lab (the trainers' networks in autocast): all of them, in bf16
    assert len(convolutions) > 20 and set(convolutions) == {(True, torch.bfloat16)}
    assert precision.get_precision() == "fp32"  # bench.main gives the process its precision back


def test_both_precisions_alternate_in_one_run(tmp_path):
    stored = bench.main(["--quick", "--device", "cpu", "--models", "dcgan_28", "--no-widget", "--repeats", "2",
                         "--precision", "both", "--out", str(tmp_path / "r.json")])
    (model,) = stored["models"]
    assert set(model["images_per_s"]) == {*bench.VARIANTS, "gan_lab_bf16"}
    assert len(model["images_per_s_all"]["gan_lab_bf16"]) == 2
    assert all(math.isfinite(model[k]) and model[k] > 0 for k in ("ratio_bf16_to_fp32", "ratio_cpu_bf16_to_fp32"))
    assert "| gan_lab img/s fp32 | gan_lab img/s bf16 |" in bench.markdown(stored)


def test_notebooks_run_in_the_asked_mode_and_failures_are_results(tmp_path, monkeypatch):
    import nbformat

    (tmp_path / "notebooks").mkdir()
    cell = nbformat.v4.new_code_cell
    nbformat.write(nbformat.v4.new_notebook(cells=[cell("import os\nassert os.environ['GAN_LAB_FAST'] == '0'")]),
                   tmp_path / "notebooks" / "a.ipynb")
    nbformat.write(nbformat.v4.new_notebook(cells=[cell("raise ValueError('broken cell')")]),
                   tmp_path / "notebooks" / "b.ipynb")
    monkeypatch.setattr(bench, "ROOT", tmp_path)
    monkeypatch.setenv("GAN_LAB_FAST", "1")
    a, b = bench.bench_notebooks("full")
    assert (a["notebook"], a["mode"], a["error"]) == ("a.ipynb", "full", None) and a["seconds"] > 0
    assert b["notebook"] == "b.ipynb" and "broken cell" in b["error"]
    assert os.environ["GAN_LAB_FAST"] == "1"  # given back
    assert [r["notebook"] for r in bench.bench_notebooks("fast", "a*")] == ["a.ipynb"]


def test_the_gpu_check_script_runs_its_stages_on_any_device(tmp_path, shared_data):
    env = {**os.environ, "OUT": str(tmp_path / "out"), "QUICK": "1", "GAN_LAB_DEVICE": "cpu",
           "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}", "GAN_LAB_THREADS": "1"}
    done = subprocess.run(["bash", str(ROOT / "benchmarks" / "gpu_check.sh"), "bench", "ddp", "nonsense"], env=env,
                          cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert done.returncode == 1, done.stdout + done.stderr  # the unknown stage, and nothing else, failed
    for stage in ("bench", "ddp_fp32", "ddp_bf16"):
        assert f"{stage}: ok" in done.stdout, done.stdout
    out = tmp_path / "out"
    bench_result = json.loads((out / "bench.json").read_text())
    assert bench_result["settings"]["precision"] == "both"
    assert all("ratio_cpu_bf16_to_fp32" in m for m in bench_result["models"])
    for precision in ("fp32", "bf16"):
        metrics = json.loads((out / f"ddp_{precision}" / "metrics.json").read_text())
        assert metrics["steps"] == 4 and metrics["distributed"]["processes"] == 1
        assert metrics["precision"] == precision
    assert "precision" in (out / "doctor.txt").read_text()


def test_the_ema_benchmark_plots_every_generator_and_seed_it_finds(tmp_path):
    from benchmarks import ema

    assert ema.plot(tmp_path) is None  # nothing measured yet: no picture
    for seed in (0, 1):
        rows = [{"step": s, "train_cpu_s": 25.0 * s / 1000,
                 **{name: {"fid": 10.0 / s, "two_sample_accuracy": 0.9} for name in ("G", "ema_0.99")}}
                for s in (1000, 2000)]
        (tmp_path / f"ema_seed{seed}.json").write_text(json.dumps({"seed": seed, "rows": rows}))
    out = ema.plot(tmp_path)
    assert out == tmp_path / "ema.png" and out.read_bytes()[:4] == b"\x89PNG"


def test_classifier_case_trains_the_same_network_both_ways():
    case = cases.build("classifier", torch.device("cpu"), quick=True, warmup=1)
    wall, cpu = case.gan_lab(2)  # a fresh train_classifier run of 2 steps
    assert wall > 0 and cpu > 0
    losses = case.plain()
    assert set(losses) == {"loss_C"} and torch.isfinite(losses["loss_C"])
    assert case.images_per_step == cases.QUICK["batch_size"]
    assert type(case.plain_models["C"]).__name__ == "DomainClassifier"
