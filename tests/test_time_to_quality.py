"""benchmarks/time_to_quality.py: one FID curve per config, on a training clock that evaluation does not advance."""

import dataclasses
import json
import math
import statistics
import time
from types import SimpleNamespace

import pytest
import torch

from gan_lab import config
from gan_lab.data import load
from gan_lab.metrics.features import train_feature_net
from gan_lab.train.classifier import ClassifierConfig


@pytest.fixture(scope="module")
def ttq(load_script):
    module = load_script("benchmarks/time_to_quality.py")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as main() does; also spares the tiny feature networks two threads' spin-waits
    yield module
    torch.set_num_threads(threads)  # give the other tests theirs back


def tiny_phi(name: str):
    """A small feature network trained in about a second (the cached one may not exist; this touches no cache)."""
    train, test = (load(name, split, fallback=False, n=600) for split in ("train", "test"))
    return train_feature_net(train, test, ClassifierConfig(width=8, feature_dim=16, num_steps=30, batch_size=64),
                             device="cpu", progress=False)[0]


def run_main(ttq, monkeypatch, tmp_path, data: str, budget: float, configs: list[str]) -> dict:
    phi = tiny_phi(data)
    monkeypatch.setattr(ttq, "feature_net", lambda *args, **kwargs: phi)
    out, png = tmp_path / "ttq.json", tmp_path / "ttq.png"
    argv = ["--data", data, "--budget", str(budget), "--every", str(budget / 3), "--n", "64",
            "--configs", *configs, "--out", str(out), "--plot", str(png)]
    assert ttq.main(argv) == 0
    assert png.stat().st_size > 1000
    return json.loads(out.read_text())


def check_curves(result: dict, configs: list[str], budget: float) -> None:
    assert list(result["configs"]) == configs
    for name in configs:
        (run,) = result["configs"][name]["runs"]
        curve = run["curve"]
        seconds, steps = [p["seconds"] for p in curve], [p["step"] for p in curve]
        assert len(curve) >= 3 and seconds[0] < 0.1 and steps[0] == 0, f"{name}: the curve starts untrained"
        assert all(b > a for a, b in zip(seconds, seconds[1:])), f"{name}: time stamps must increase: {seconds}"
        assert all(b > a for a, b in zip(steps, steps[1:])), f"{name}: steps must increase: {steps}"
        assert budget <= seconds[-1] < budget + 1.5, f"{name}: training must stop at the budget, not {seconds[-1]}"
        assert all(math.isfinite(p["fid"]) and p["fid"] >= 0 for p in curve)
    assert math.isfinite(result["real_floor"]["fid"]) and result["settings"]["threads"] == 1


def test_curves_on_real_data(ttq, monkeypatch, tmp_path, shared_data):
    configs = ["notebook_02", "reference"]
    result = run_main(ttq, monkeypatch, tmp_path, "pneumoniamnist", 2.0, configs)
    check_curves(result, configs, 2.0)
    assert result["settings"]["source"].startswith("real")
    # the reference network costs ~2.5x as much per step: fewer steps in the same CPU time
    steps = {name: result["configs"][name]["runs"][0]["curve"][-1]["step"] for name in configs}
    assert steps["reference"] < steps["notebook_02"]


def test_curves_on_phantoms(ttq, monkeypatch, tmp_path):
    configs = ["w16_b64", "w16_b64@bf16"]
    result = run_main(ttq, monkeypatch, tmp_path, "phantoms", 0.6, configs)
    check_curves(result, configs, 0.6)
    assert [result["configs"][name]["config"]["precision"] for name in configs] == ["fp32", "bf16"]
    assert result["real_floor"]["fid"] < result["configs"]["w16_b64"]["runs"][0]["curve"][0]["fid"], \
        "held-out real images must score better than an untrained generator"


def test_a_config_name_may_ask_for_bf16_and_nothing_else(ttq, capsys):
    assert ttq.split_name("reference@bf16") == ("reference", "bf16") and ttq.split_name("reference")[1] == "fp32"
    with pytest.raises(SystemExit):
        ttq.parse_args(["--configs", "reference@fp16"])
    assert "each may end in @fp32 or @bf16" in capsys.readouterr().err


def test_keep_chooses_among_merged_files_only(ttq, capsys):
    with pytest.raises(SystemExit):
        ttq.parse_args(["--keep", "notebook_02"])
    assert "--keep chooses configurations of the files given to --merge" in capsys.readouterr().err


def test_the_training_clock_stands_still_while_stopped(ttq):
    clock = ttq.TrainingClock("wall")
    clock.start()
    time.sleep(0.05)
    clock.stop()
    stopped = clock.read()
    time.sleep(0.05)  # e.g. an evaluation
    assert clock.read() == stopped and 0.04 < stopped["wall"] < 0.5
    clock.start()
    assert clock.seconds() >= stopped["wall"]
    with pytest.raises(ValueError, match="clock must be"):
        ttq.TrainingClock("gpu")


def test_the_budget_says_how_much_of_it_the_training_clock_has_spent(ttq, monkeypatch):
    now = [0.0]
    monkeypatch.setattr(ttq.TrainingClock, "_now", staticmethod(lambda: {"wall": now[0], "cpu": now[0]}))
    clock = ttq.TrainingClock("wall")
    budget = ttq.Budget(clock, 8.0)
    assert budget.fraction() == 0 and not budget.is_set()
    clock.start()
    now[0] = 2.0
    assert budget.fraction() == 0.25
    clock.stop()
    now[0] = 5.0  # an evaluation: the budget stands still
    assert budget.fraction() == 0.25


def test_training_reads_the_budget_it_is_stopped_by(ttq, monkeypatch):
    seen = {}

    def train(data, config, stop_event, **kwargs):  # what time_to_quality hands train_gan
        seen["fraction"] = stop_event.fraction()
    monkeypatch.setattr(ttq, "train_gan", train)
    monkeypatch.setattr(ttq.QualityCurve, "evaluate", lambda self, step: None)
    ttq.time_to_quality(torch.zeros(8, 1, 28, 28), ttq.GANConfig(), reference=None, budget=60, every=60, n=2)
    assert 0 <= seen["fraction"] < 0.5  # a stop event that says how much of the 60-s budget is spent


#: a GANConfig as the first result files stored it, before the optional features' fields existed
FIRST_CONFIG = {"arch": "dcgan", "loss": "nonsaturating", "z_dim": 64, "width": 32, "batch_size": 32, "num_steps": 3000,
                "k": 1, "lr_G": 2e-4, "lr_D": 2e-4, "beta1": 0.5, "beta2": 0.999, "log_every": 10,
                "checkpoint_every": 500, "callback_every": 100, "seed": 0}


def test_merge_joins_runs_of_separate_processes_and_refuses_unlike_ones(ttq, tmp_path):
    def result(name: str, seed: int, budget: float = 120.0) -> dict:
        settings = {"budget": budget, "every": 20.0, "clock": "cpu", "threads": 1, "n": 1000, "data": "x",
                    "size": 28, "seeds": [seed]}
        curve = [{"seconds": 0.0, "step": 0, "fid": 300.0 + seed}, {"seconds": 20.0, "step": 9, "fid": 50.0 + seed}]
        return {"settings": settings, "configs": {name: {"config": dict(FIRST_CONFIG), "runs": [{"seed": seed,
                                                                                                  "curve": curve}]}}}

    paths = []
    for i, (name, seed) in enumerate([("a", 0), ("a", 1), ("b", 0)]):
        paths.append(tmp_path / f"{i}.json")
        paths[-1].write_text(json.dumps(result(name, seed)))
    merged = ttq.merge(paths)
    assert [r["seed"] for r in merged["configs"]["a"]["runs"]] == [0, 1] and merged["settings"]["seeds"] == [0, 1]
    assert merged["merged_from"] == ["0.json", "1.json", "2.json"]
    (tmp_path / "merged.json").write_text(json.dumps(merged))  # merged again: it still names its sources
    (tmp_path / "3.json").write_text(json.dumps(result("b", 1)))
    assert ttq.merge([tmp_path / "merged.json", tmp_path / "3.json"])["merged_from"] == [
        "0.json", "1.json", "2.json", "3.json"]
    with pytest.raises(ValueError, match="merged once"):  # a source merged again would count its runs twice
        ttq.merge([tmp_path / "merged.json", paths[1]])
    # one configuration of a file, with its later seeds from another file: the default measured twice apart
    kept = ttq.merge([tmp_path / "merged.json", tmp_path / "3.json"], keep=["b"])
    assert list(kept["configs"]) == ["b"] and [r["seed"] for r in kept["configs"]["b"]["runs"]] == [0, 1]
    assert kept["kept"] == ["b"] and "kept" not in merged
    kept = ttq.merge([tmp_path / "merged.json", paths[1]], keep=["b"])  # "a"'s seed 1 twice, but "a" is left out
    assert [r["seed"] for r in kept["configs"]["b"]["runs"]] == [0] and kept["settings"]["seeds"] == [0]
    with pytest.raises(ValueError, match=r"--keep names \['z'\], which none of the files holds; choose from "
                                         r"\['a', 'b'\]"):
        ttq.merge(paths, keep=["a", "z"])
    assert ttq.summary(merged["configs"]["a"]["runs"])[-1] == pytest.approx(
        {"seconds": 20.0, "step": 9, "fid_mean": 50.5, "fid_min": 50.0, "fid_max": 51.0})
    (tmp_path / "other.json").write_text(json.dumps(result("a", 2, budget=60.0)))
    with pytest.raises(ValueError, match="other settings"):
        ttq.merge([paths[0], tmp_path / "other.json"])
    judged = result("a", 2)  # a file from before --judges was judged by judge 0 alone: it merges with --judges 1
    for judges in (1, 4):
        judged["settings"]["judges"] = judges
        (tmp_path / f"judges{judges}.json").write_text(json.dumps(judged))
    assert ttq.merge([paths[0], tmp_path / "judges1.json"])["settings"]["judges"] == 1
    with pytest.raises(ValueError, match=r"other settings \(\['judges'\]\)"):
        ttq.merge([paths[0], tmp_path / "judges4.json"])

    # a file from before a GANConfig field existed merges with one that records the field as off, whatever its
    # default is now: before the average of G's weights existed, samples came from G (ema_decay 0, not today's)
    assert merged["configs"]["a"]["config"]["ema_decay"] == 0 != ttq.GANConfig().ema_decay
    for seed, extra in [(2, {"spectral_norm": False, "ema_decay": 0.0}), (3, {"spectral_norm": True}),
                        (4, {"ema_decay": ttq.GANConfig().ema_decay})]:
        later = result("a", seed)
        later["configs"]["a"]["config"] |= extra
        (tmp_path / f"later{seed}.json").write_text(json.dumps(later))
    assert len(ttq.merge([paths[0], tmp_path / "later2.json"])["configs"]["a"]["runs"]) == 2
    for seed in (3, 4):
        with pytest.raises(ValueError, match="another config"):
            ttq.merge([paths[0], tmp_path / f"later{seed}.json"])
    stranger = result("c", 0)
    del stranger["configs"]["c"]["config"]["lr_G"]
    (tmp_path / "stranger.json").write_text(json.dumps(stranger))
    with pytest.raises(ValueError, match="lr_G"):
        ttq.merge([tmp_path / "stranger.json"])


def test_every_field_gan_config_gained_says_what_its_absence_meant(ttq):
    added = set(dataclasses.asdict(ttq.GANConfig())) - set(FIRST_CONFIG)
    assert added == set(ttq.GANConfig.FIELDS_ADDED_LATER), "declare a new GANConfig field's old meaning"
    assert ttq._complete(dict(FIRST_CONFIG))["ema_decay"] == 0


@pytest.mark.parametrize("path", sorted((config.REPO_ROOT / "benchmarks").glob("time_to_quality*.json")),
                         ids=lambda p: p.name)
def test_every_stored_entry_is_the_configuration_its_name_says(ttq, path):
    # the names are what the README and notebook 02 quote; a renamed default must not relabel old runs
    known, loop = ttq.candidates(), {"num_steps", "seed", "log_every", "checkpoint_every", "callback_every"}
    for name, entry in json.loads(path.read_text())["configs"].items():
        base, precision = ttq.split_name(name)
        stored = ttq._complete(entry["config"])
        expected = dataclasses.asdict(known[base]) | {"precision": precision}
        differ = {k: (stored[k], expected[k]) for k in expected if k not in loop and stored[k] != expected[k]}
        assert not differ, f"{path.name}: {name} ran another configuration: {differ}"


def test_two_sample_accuracy_is_measured_at_every_evaluation_when_asked(ttq, monkeypatch, tmp_path, capsys):
    from gan_lab.metrics import two_sample

    tiny = ClassifierConfig(width=8, feature_dim=16, num_steps=20, batch_size=32)
    monkeypatch.setattr(ttq, "two_sample_test", lambda real, fake, cfg, **kw: two_sample.two_sample_test(
        real, fake, cfg=dataclasses.replace(tiny, seed=cfg.seed), **kw))
    phi = tiny_phi("phantoms")
    monkeypatch.setattr(ttq, "feature_net", lambda *args, **kwargs: phi)
    out, png = tmp_path / "ttq.json", tmp_path / "ttq.png"
    assert ttq.main(["--data", "phantoms", "--budget", "0.6", "--every", "0.2", "--n", "64", "--two-sample",
                     "--judges", "2", "--seeds", "0", "1", "--configs", "w16_b64", "--out", str(out),
                     "--plot", str(png)]) == 0
    result = json.loads(out.read_text())
    entry = result["configs"]["w16_b64"]
    for run in entry["runs"]:
        curve = run["curve"]
        assert all(0 <= p["two_sample_accuracy"] <= 1 for p in curve) and len(curve) >= 3
        assert [len(p["two_sample_accuracies"]) for p in curve] == [1] + [2] * (len(curve) - 1)
        assert all(p["two_sample_accuracy"] == pytest.approx(sum(p["two_sample_accuracies"]) / 2, abs=6e-4)
                   for p in curve[1:])
    assert "two_sample_mean" in entry["summary"][-1] and png.stat().st_size > 1000
    assert result["settings"]["judges"] == 2 and entry["judges"]["runs"] == 2 and entry["judges"]["judges"] == 2
    assert "w16_b64: 2 judges per run" in capsys.readouterr().out


def test_the_judge_seed_sets_both_the_split_and_the_classifier(ttq, monkeypatch):
    seen = []
    monkeypatch.setattr(ttq, "two_sample_test", lambda real, fake, cfg, seed, device: seen.append((cfg.seed, seed))
                        or SimpleNamespace(accuracy=0.5))
    assert ttq.judge(torch.zeros(4, 1, 8, 8), torch.zeros(4, 1, 8, 8), seed=3) == 0.5 and seen == [(3, 3)]
    assert ttq.default_config().seed == 0  # judge 0 is two_sample_test's own default: the stored files' judge


def test_several_judges_each_draw_their_own_fakes_and_the_point_holds_their_mean(ttq, monkeypatch):
    held_out = torch.zeros(5, 1, 4, 4)
    drawn = []

    def sample(n, seed):  # fakes whose value says which codes drew them
        drawn.append((n, seed))
        return torch.full((n, 1, 4, 4), float(seed))

    seen = []

    def judge(real, fake, seed):
        seen.append((seed, fake.shape[0], fake.unique().tolist()))
        return 0.6 + 0.1 * seed

    monkeypatch.setattr(ttq, "judge", judge)
    curve = ttq.QualityCurve(SimpleNamespace(sample=sample), None, None, 10.0, 5.0, n=8, stop=None,
                             held_out=held_out, judges=3)
    point = curve.judged(torch.full((8, 1, 4, 4), -1.0), step=7)
    assert seen == [(0, 5, [-1.0]), (1, 5, [1.0]), (2, 5, [2.0])] and drawn == [(8, 1), (8, 2)]
    assert point == {"two_sample_accuracy": 0.7, "two_sample_accuracies": [0.6, 0.7, 0.8]}
    seen.clear()
    assert curve.judged(torch.full((8, 1, 4, 4), -1.0), step=0) == {  # the untrained G: judge 0 alone
        "two_sample_accuracy": 0.6, "two_sample_accuracies": [0.6]} and [s for s, *_ in seen] == [0]
    curve.judges = 1  # one judge: the point as every file before --judges held it
    assert curve.judged(torch.full((8, 1, 4, 4), -1.0), step=7) == {"two_sample_accuracy": 0.6}


@pytest.mark.parametrize("argv", [["--judges", "2"], ["--judges", "0", "--two-sample"]])
def test_judges_need_the_two_sample_test_and_at_least_one(ttq, argv, capsys):
    with pytest.raises(SystemExit):
        ttq.parse_args(argv)
    assert "--judges K needs K >= 1" in capsys.readouterr().err


def test_the_judges_spread_separates_their_leniency_their_noise_and_the_runs(ttq):
    from scipy.stats import t

    def run(seed, *accuracies):
        return {"seed": seed, "curve": [{"two_sample_accuracy": 1.0}, {"two_sample_accuracies": list(accuracies)}]}

    table = [[0.60, 0.70, 0.80], [0.72, 0.80, 0.91], [0.75, 0.80, 0.85], [0.70, 0.72, 0.71]]  # runs × judges
    spread = ttq.judge_spread([run(seed, *row) for seed, row in zip([3, 0, 1, 2], table)])
    # the two-way analysis of variance by hand: run means 0.70, 0.81, 0.80, 0.71, judge means 0.6925, 0.755, 0.8175,
    # squared residuals summing to 0.01215 over (4 - 1)(3 - 1) = 6 degrees of freedom
    residual_var = 0.01215 / 6
    judge_var = statistics.variance([0.6925, 0.755, 0.8175]) - residual_var / 4  # 0.0034
    run_var = statistics.variance([0.70, 0.81, 0.80, 0.71]) - residual_var / 3  # 0.00269
    assert spread["mean_by_judge"] == pytest.approx([0.6925, 0.755, 0.8175]) and spread["mean"] == 0.755
    assert spread["sd_residual"] == pytest.approx(math.sqrt(residual_var), abs=1e-4)
    assert spread["sd_judge_effect"] == pytest.approx(math.sqrt(judge_var), abs=1e-4) == pytest.approx(0.0583, abs=1e-4)
    assert spread["sd_runs_without_judges"] == pytest.approx(math.sqrt(run_var), abs=1e-4)
    assert spread["sd_runs_without_judges"] < spread["sd_runs_upper_95"]
    assert spread["sd_between_run_means"] == pytest.approx(statistics.stdev([0.70, 0.81, 0.80, 0.71]), abs=1e-4)
    # judge 0 against its run's mean: all four lower, no ties, so the exact one-sided p is 1 in 2⁴
    assert spread["judge_0_minus_mean"] == {"seeds": [3, 0, 1, 2], "per_run": [-0.1, -0.09, -0.05, -0.01],
                                            "mean": -0.0625, "lower": 4, "wilcoxon_p_lower": 0.0625}
    def asks(n: int, judges: int) -> float:  # seeds the t-test asks for at n - 1 degrees of freedom
        sd_pair = math.sqrt(2 * (run_var + residual_var / judges))  # a pair judged by the same seeds
        return ((t.ppf(0.95, n - 1) + t.ppf(0.8, n - 1)) * sd_pair / 0.02) ** 2

    for judges in (1, 3, 4):
        needed = spread["seeds_needed"][f"K={judges}, d=0.02"]
        assert needed > 2 and asks(needed, judges) <= needed < asks(needed - 1, judges) + 1  # the smallest n
    assert spread["seeds_needed"]["K=1, d=0.01"] > spread["seeds_needed"]["K=1, d=0.02"] > \
        spread["seeds_needed"]["K=4, d=0.02"]
    assert set(spread["seeds_needed"]) == {f"K={k}, d={d}" for k in (1, 3, 4) for d in (0.02, 0.01)}

    level = ttq.judge_spread([run(0, 0.6, 0.8), run(1, 0.8, 0.6)])  # equal run and judge means: clipped to 0
    assert level["sd_runs_without_judges"] == 0 == level["sd_judge_effect"] and level["sd_residual"] > 0
    same = ttq.judge_spread([run(0, 0.7, 0.7), run(1, 0.8, 0.8)])  # judge 0 exactly at each run's mean
    assert same["judge_0_minus_mean"]["wilcoxon_p_lower"] == 1.0 and same["judge_0_minus_mean"]["lower"] == 0
    assert ttq.judge_spread([run(0, 0.6), run(1, 0.7)]) is None  # one judge: nothing to separate
    assert ttq.judge_spread([run(0, *table[0])]) is None
    assert ttq.judge_spread([{"seed": 0, "curve": [{"two_sample_accuracy": 0.7}]}] * 2) is None  # before --judges


def test_each_configuration_is_compared_with_notebook_02_seed_by_seed(ttq, tmp_path, capsys):
    def run(seed, fid, accuracy=None):
        end = {"seconds": 180.0, "step": 100, "fid": fid} | ({"two_sample_accuracy": accuracy} if accuracy else {})
        return {"seed": seed, "curve": [{"seconds": 0.0, "step": 0, "fid": 300.0, "two_sample_accuracy": 1.0}, end]}

    base = [run(0, 2.0, 0.72), run(1, 1.5, 0.70), run(2, 1.8, 0.74), run(3, 1.9, 0.71)]
    candidate = [run(1, 1.6, 0.68), run(0, 1.8, 0.69), run(2, 2.1, 0.70), run(5, 1.0, 0.5)]  # seed 5: no partner
    against = ttq.paired(candidate, base)
    assert against["seeds"] == [1, 0, 2]
    # accuracy lower on all three seeds, no ties: the exact one-sided p is 1 in 2³
    assert against["two_sample_accuracy"] == {"per_seed": [-0.02, -0.03, -0.04], "mean": -0.03, "lower": 3,
                                              "wilcoxon_p_lower": 0.125}
    # FID +0.1, −0.2, +0.3: positive ranks 1 + 3 = 4, and 6 of the 8 sign patterns have a sum ≤ 4
    assert against["fid"] == {"per_seed": [0.1, -0.2, 0.3], "mean": 0.0667, "lower": 1, "wilcoxon_p_lower": 0.75}
    assert ttq.paired([run(7, 1.0, 0.6)], base) is None  # no shared seed
    assert "two_sample_accuracy" not in ttq.paired([run(0, 1.8)], base)  # measured without the judge: FID only
    assert "two_sample_median" not in against  # one judge a run: no median beside the mean

    def judged(seed, verdicts):  # a run scored by four judges
        return {"seed": seed, "curve": [{"fid": 2.0, "two_sample_accuracy": statistics.mean(verdicts),
                                         "two_sample_accuracies": verdicts}]}

    outlier = ttq.paired([judged(0, [0.70, 0.71, 0.72, 0.73]), judged(1, [0.70, 0.72, 0.74, 0.76])],
                         [judged(0, [0.70, 0.98, 0.72, 0.71]), judged(1, [0.72, 0.73, 0.74, 0.75])])
    assert outlier["two_sample_accuracy"]["per_seed"] == [-0.0625, -0.005]  # judge 1's 0.98 drags seed 0's mean
    assert outlier["two_sample_median"] == {"per_seed": [0.0, -0.005], "mean": -0.0025, "lower": 1,
                                            "wilcoxon_p_lower": 0.5}  # the medians 0.715 and 0.715: level

    def entry(name, runs):
        return {"config": dataclasses.asdict(ttq.candidates()[name]) | {"precision": "fp32"}, "runs": runs}

    settings = {"budget": 180.0, "every": 180.0, "clock": "wall", "threads": 2, "n": 64, "data": "phantoms",
                "size": 28, "judges": 1, "seeds": [0, 1, 2, 3, 5]}
    stored = {"settings": settings, "real_floor": {"fid": 0.5, "n": 64, "split": "val"},
              "configs": {"notebook_02": entry("notebook_02", base),
                          "notebook_02_fullres_G": entry("notebook_02_fullres_G", candidate)}}
    (tmp_path / "in.json").write_text(json.dumps(stored))
    out = tmp_path / "out.json"
    assert ttq.main(["--merge", str(tmp_path / "in.json"), "--out", str(out), "--plot", ""]) == 0
    configs = json.loads(out.read_text())["configs"]
    assert "against_notebook_02" not in configs["notebook_02"]
    assert configs["notebook_02_fullres_G"]["against_notebook_02"] == against
    printed = capsys.readouterr().out
    assert ("notebook_02_fullres_G minus notebook_02, seed by seed: two-sample accuracy -0.030 (lower on 3 of 3 "
            "seeds, Wilcoxon p = 0.125); FID +0.067 (lower on 1 of 3 seeds, Wilcoxon p = 0.750)") in printed


def test_each_judges_final_verdict_is_drawn_beside_its_configuration(ttq):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    def run(*verdicts):
        return {"curve": [{"seconds": 0.0, "two_sample_accuracy": 1.0},
                          {"seconds": 180.0, "two_sample_accuracies": list(verdicts)}]}

    fig, ax = plt.subplots()
    ttq.judge_verdicts(ax, [run(0.7, 0.8), run(0.6, 0.75)], "red", offset=1.0)
    drawn = ax.collections[0].get_offsets()
    assert sorted(drawn[:, 1]) == [0.6, 0.7, 0.75, 0.8]  # every judge of every run, at the last evaluation only
    assert list(drawn[:, 0]) == pytest.approx([180 + 0.03 * 180] * 4)  # shifted beside the configuration's mean
    ttq.judge_verdicts(ax, [{"curve": [{"seconds": 180.0, "two_sample_accuracy": 0.7}]}], "red", offset=0.0)
    assert len(ax.collections) == 1  # one judge a run: nothing more to show
    plt.close(fig)


def test_precision_recall_density_and_coverage_are_measured_when_asked(ttq, monkeypatch, tmp_path, capsys):
    phi = tiny_phi("phantoms")
    monkeypatch.setattr(ttq, "feature_net", lambda *args, **kwargs: phi)
    out = tmp_path / "ttq.json"
    assert ttq.main(["--data", "phantoms", "--budget", "0.4", "--every", "0.2", "--n", "64", "--prdc", "--seeds", "0",
                     "--configs", "notebook_02", "w16_b64", "--out", str(out), "--plot", ""]) == 0
    result = json.loads(out.read_text())
    assert result["settings"]["prdc_k"] == ttq.PRDC_K == 5
    for entry in result["configs"].values():
        curve = entry["runs"][0]["curve"]
        assert all(set(p["prdc"]) == set(ttq.PRDC) for p in curve) and len(curve) >= 2
        assert all(0 <= p["prdc"][m] <= 1 for p in curve for m in ("precision", "recall", "coverage"))
        row = entry["summary"][-1]
        assert row["coverage_mean"] == row["coverage_min"] == curve[-1]["prdc"]["coverage"]  # one seed
    against = result["configs"]["w16_b64"]["against_notebook_02"]
    last = {name: e["runs"][0]["curve"][-1]["prdc"] for name, e in result["configs"].items()}
    assert against["recall"]["per_seed"] == [pytest.approx(last["w16_b64"]["recall"] - last["notebook_02"]["recall"],
                                                           abs=1e-4)]
    printed = capsys.readouterr().out
    assert "notebook_02 at " in printed and "coverage" in printed and "w16_b64 minus notebook_02" in printed


def test_an_evaluation_scores_the_fids_fakes_against_the_real_features_it_was_given(ttq):
    from gan_lab.metrics.prdc import prdc

    fakes = torch.linspace(-1, 1, 12 * 16).reshape(12, 1, 4, 4)
    flatten = SimpleNamespace(features=lambda images: images.flatten(1))  # a stand-in for the feature network
    reference = SimpleNamespace(phi=flatten, fid=lambda fake: 1.0)
    clock = SimpleNamespace(stop=lambda: None, start=lambda: None, read=lambda: {"wall": 3.0, "cpu": 3.0}, kind="wall")
    real = torch.randn(12, 16, generator=torch.Generator().manual_seed(0))
    curve = ttq.QualityCurve(SimpleNamespace(sample=lambda n, seed: fakes[:n]), reference, clock, 10.0, 5.0, n=12,
                             stop=None, prdc_real=real)
    curve.evaluate(step=4)
    expected = prdc(real, fakes.flatten(1), k=5)
    assert curve.points[-1]["prdc"] == {name: round(value, 4) for name, value in expected.items()}
    curve.prdc_real = None  # not asked for: no entry
    curve.evaluate(step=5)
    assert "prdc" not in curve.points[-1]
