"""benchmarks/bench.py: a --quick run produces a complete, finite JSON report and a Markdown table."""

import json
import math

import pytest
import torch

from benchmarks import bench, cases


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
