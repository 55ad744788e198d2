import dataclasses
import json

import pytest
import torch
from torch import nn

from gan_lab.models import DCGANDiscriminator, DCGANGenerator
from gan_lab.train.classifier import ClassifierConfig
from gan_lab.train.rejection import acceptance, rejection_sample


class FirstCode(nn.Module):
    """G(z) = z₁ as a 1×1 image: p_g = N(0, 1)."""

    def __init__(self):
        super().__init__()
        self.unused = nn.Parameter(torch.zeros(()))

    def forward(self, z):
        return z[:, :1].view(-1, 1, 1, 1)


class LogRatio(nn.Module):
    """The optimal D's logit for p_data = N(1, 1) against p_g = N(0, 1): log p_data(x) / p_g(x) = x − ½."""

    def __init__(self):
        super().__init__()
        self.unused = nn.Parameter(torch.zeros(()))

    def forward(self, x):
        return x.flatten() - 0.5


def test_with_the_optimal_discriminator_rejection_turns_the_generators_distribution_into_the_datas():
    kept, fraction = rejection_sample(FirstCode(), LogRatio(), 2, n=4000, seed=0, percentile=None)  # γ = 0: exact
    kept = kept.flatten()
    assert kept.mean() == pytest.approx(1.0, abs=0.06) and kept.std() == pytest.approx(1.0, abs=0.05)
    # the share kept is E[exp(x − ½ − D̃_M)] = exp(−D̃_M), D̃_M ≈ 3.5: the largest of 40,000 draws, less ½
    assert 0.01 < fraction < 0.06, "an exact rejection sampler keeps few proposals"


def test_a_lower_percentile_keeps_more_and_moves_the_samples_less():
    strict, kept_strict = rejection_sample(FirstCode(), LogRatio(), 2, n=2000, seed=1, percentile=99.9)
    loose, kept_loose = rejection_sample(FirstCode(), LogRatio(), 2, n=2000, seed=1, percentile=50)
    assert kept_strict < 0.1 < 0.4 < kept_loose
    assert 0.2 < loose.mean() < 0.6 < 0.85 < strict.mean()


def test_acceptance_rises_with_the_logit_and_its_percentile_sets_how_many_pass_one_half():
    logits = torch.linspace(-3, 2, 1000)
    p = acceptance(logits, logit_max=2.0, percentile=80)
    assert torch.all(p[1:] >= p[:-1]) and 0 < p.min() and p.max() <= 1
    assert (p >= 0.5).float().mean().item() == pytest.approx(0.2, abs=0.01)
    assert p[-1] > 0.999, "the largest logit seen is (nearly) always kept"


@pytest.mark.parametrize("training", [False, True])
def test_the_runs_networks_are_left_as_they_were_and_a_seed_fixes_the_draw(training):
    torch.manual_seed(0)
    G, D = DCGANGenerator(z_dim=8, width=8).train(training), DCGANDiscriminator(width=8).train(training)
    before = {k: v.clone() for k, v in [*D.state_dict().items(), *G.state_dict().items()]}
    a, kept = rejection_sample(G, D, 8, n=50, seed=3)
    b, _ = rejection_sample(G, D, 8, n=50, seed=3)
    c, _ = rejection_sample(G, D, 8, n=50, seed=4)
    assert a.shape == (50, 1, 28, 28) and 0 < kept <= 1
    assert torch.equal(a, b) and not torch.equal(a, c)
    assert D.training == training and G.training == training
    after = [*D.state_dict().items(), *G.state_dict().items()]
    assert all(torch.equal(v, before[k]) for k, v in after), "sampling must not touch the networks' statistics"


class BatchStatistics(nn.Module):
    """A D whose logit is its input through batch norm: in training mode, each batch is standardised by itself."""

    seen: list = []  # a class attribute, so the copy that scores records here too

    def __init__(self):
        super().__init__()
        self.norm = nn.BatchNorm1d(1)  # weight 1, bias 0 at the start
        self.norm.running_mean.fill_(10.0)  # in eval mode every logit would be about −10

    def forward(self, x):
        BatchStatistics.seen.append((self.training, len(x)))
        return self.norm(x.view(len(x), 1)).flatten()


def test_d_scores_whole_batches_of_fakes_with_their_own_statistics():
    BatchStatistics.seen.clear()
    D = BatchStatistics().eval()
    x, kept = rejection_sample(FirstCode(), D, 2, n=50, pool=1, batch_size=16, max_pools=50)
    assert BatchStatistics.seen and all(mode and size == 16 for mode, size in BatchStatistics.seen), \
        "D scores in training mode, every batch batch_size fakes (the pool is rounded up to whole batches)"
    assert not D.training and D.norm.running_mean.item() == 10.0
    assert x.mean() > 0.3, "standardised per batch, the logit still rises with x, so larger x are kept"


@pytest.mark.parametrize("kwargs, message", [
    ({"n": 0}, "n, pool, max_pools"), ({"batch_size": 1}, "batch_size"), ({"percentile": 100}, r"\(0, 100\)"),
    ({"n": 64, "pool": 1, "max_pools": 1, "percentile": 99.0}, "fewer than the 64 asked for")])
def test_bad_arguments_and_too_few_kept_samples_are_refused(kwargs, message):
    with pytest.raises(ValueError, match=message):
        rejection_sample(FirstCode(), LogRatio(), 2, **{"n": 10, **kwargs})


@pytest.fixture(scope="module")
def rs(load_script):
    module = load_script("benchmarks/rejection_sampling.py")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield module
    torch.set_num_threads(threads)


def test_the_benchmark_judges_plain_and_rejection_sampled_fakes_of_the_same_run(rs, monkeypatch, tmp_path, capsys):
    from gan_lab.data import load
    from gan_lab.metrics import two_sample
    from gan_lab.metrics.features import train_feature_net

    tiny = ClassifierConfig(width=8, feature_dim=16, num_steps=20, batch_size=32)
    monkeypatch.setattr(rs.ttq, "two_sample_test", lambda real, fake, cfg, **kw: two_sample.two_sample_test(
        real, fake, cfg=dataclasses.replace(tiny, seed=cfg.seed), **kw))
    train, test = (load("phantoms", split, fallback=False, n=600) for split in ("train", "test"))
    phi = train_feature_net(train, test, ClassifierConfig(width=8, feature_dim=16, num_steps=30, batch_size=64),
                            device="cpu", progress=False)[0]
    monkeypatch.setattr(rs, "feature_net", lambda *args, **kwargs: phi)
    out = tmp_path / "a.json"
    assert rs.main(["--data", "phantoms", "--budget", "0.5", "--n", "64", "--judges", "2", "--seeds", "0",
                    "--configs", "w16_b64", "--out", str(out)]) == 0
    (run,) = json.loads(out.read_text())["configs"]["w16_b64"]["runs"]
    assert run["step"] > 0
    assert run["plain"]["kept"] == [1.0, 1.0] and all(0 < k < 1 for k in run["drs"]["kept"])
    for sampler in ("plain", "drs"):
        assert len(run[sampler]["two_sample_accuracies"]) == 2 and run[sampler]["fid"] >= 0
    assert "w16_b64 (drs) − w16_b64 (plain): accuracy" in capsys.readouterr().out

    other = json.loads(out.read_text())
    other["configs"]["w16_b64"]["runs"][0]["seed"] = 1
    (tmp_path / "b.json").write_text(json.dumps(other))
    assert rs.main(["--merge", str(out), str(tmp_path / "b.json"), "--out", str(tmp_path / "c.json")]) == 0
    assert json.loads((tmp_path / "c.json").read_text())["settings"]["seeds"] == [0, 1]
    other["settings"]["judges"] = 4
    (tmp_path / "d.json").write_text(json.dumps(other))
    with pytest.raises(ValueError, match=r"other settings \(\['judges'\]\)"):
        rs.merge([out, tmp_path / "d.json"])
