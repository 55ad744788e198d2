"""SegAN: the multi-scale L1 loss, the S and C steps, clipping, metrics on known masks, the data split."""

import pytest
import torch

from gan_lab.losses.segmentation import multiscale_l1, soft_dice_loss
from gan_lab.metrics.image import dice_per_image, iou_per_image
from gan_lab.models.segan import SegANCritic
from gan_lab.models.unet import UNet
from gan_lab.train.segan import (
    SegANConfig,
    baseline_config,
    c_step,
    critic_features,
    s_step,
    train_segan,
)


def test_multiscale_l1_matches_hand_computation():
    a = [torch.tensor([[1.0, -2.0]]), torch.tensor([[0.0, 0.0, 0.0, 4.0]])]
    b = [torch.tensor([[0.0, 0.0]]), torch.tensor([[0.0, 1.0, 0.0, 0.0]])]
    # scale 0: (1 + 2) / 2 = 1.5;  scale 1: (0 + 1 + 0 + 4) / 4 = 1.25;  mean over 2 scales = 1.375
    assert multiscale_l1(a, b).item() == pytest.approx(1.375)
    # weights 2 and 4: (2·1.5 + 4·1.25) / 2 = 4.0
    assert multiscale_l1(a, b, weights=[2.0, 4.0]).item() == pytest.approx(4.0)
    assert multiscale_l1(a, a).item() == 0.0
    with pytest.raises(ValueError, match="scale weights"):
        multiscale_l1(a, b, weights=[1.0])


def test_critic_returns_input_and_one_map_per_layer():
    C = SegANCritic(3, width=4, size=16)
    x = torch.randn(2, 3, 16, 16)
    features = C(x)
    assert torch.equal(features[0], x)
    assert [tuple(f.shape) for f in features[1:]] == [(2, 4, 8, 8), (2, 8, 4, 4), (2, 16, 2, 2)]
    with pytest.raises(ValueError, match="divisible"):
        C(torch.randn(1, 3, 12, 12))


def test_loss_is_zero_only_when_prediction_equals_truth():
    torch.manual_seed(0)
    C = SegANCritic(1, width=4, size=16)
    x = torch.rand(2, 1, 16, 16) + 0.5  # no zero pixels, so masking changes x everywhere the masks differ
    y = (torch.rand(2, 1, 16, 16) > 0.5).float()
    assert multiscale_l1(*critic_features(C, x, y, y)).item() == pytest.approx(0.0, abs=1e-6)
    assert multiscale_l1(*critic_features(C, x, 1 - y, y)).item() > 0.01


def test_soft_dice_loss_on_known_masks():
    y = torch.zeros(1, 1, 4, 4)
    y[..., :2, :] = 1  # 8 pixels
    pred = torch.zeros(1, 1, 4, 4)
    pred[..., :1, :] = 1  # 4 pixels, all inside y: Dice = 2·4 / (4 + 8) = 2/3
    assert soft_dice_loss(pred, y, eps=0).item() == pytest.approx(1 / 3)
    assert soft_dice_loss(y, y).item() == pytest.approx(0.0)
    assert soft_dice_loss(torch.zeros_like(y), torch.zeros_like(y)).item() == pytest.approx(0.0)  # empty tile


def test_dice_and_iou_on_known_masks():
    y = torch.zeros(2, 1, 4, 4)
    y[:, :, :2, :] = 1
    pred = torch.zeros(2, 1, 4, 4)
    pred[0, :, :1, :] = 1  # |P| = 4, |T| = 8, |P∩T| = 4
    pred[1, :, 1:3, :] = 1  # |P| = 8, |T| = 8, |P∩T| = 4
    assert dice_per_image(pred, y).tolist() == pytest.approx([2 / 3, 0.5])
    assert iou_per_image(pred, y).tolist() == pytest.approx([0.5, 1 / 3])


def _tiny_pair(size=16):
    torch.manual_seed(0)
    S = UNet(1, 1, width=4, size=size, out_activation="none")
    C = SegANCritic(1, width=4, size=size)
    x = torch.rand(4, 1, size, size) * 2 - 1
    y = (torch.rand(4, 1, size, size) > 0.6).float()
    return S, C, x, y


def _state(model):
    return {k: v.clone() for k, v in model.state_dict().items()}


def _changed(before, model):
    return [k for k, v in model.state_dict().items() if not torch.equal(before[k], v)]


def test_c_step_changes_only_C_and_clipping_bounds_its_weights():
    S, C, x, y = _tiny_pair()
    with torch.no_grad():
        prob = torch.sigmoid(S(x))
    s_before, c_before = _state(S), _state(C)
    opt_C = torch.optim.Adam(C.parameters(), lr=0.1)  # large steps so clipping has work to do
    out = c_step(C, opt_C, x, prob, y, clip=0.01)
    assert out["loss_C"].item() < 0  # C maximises ℓ_mae, so it minimises −ℓ_mae
    assert _changed(s_before, S) == []
    assert _changed(c_before, C)
    params = torch.cat([p.flatten() for p in C.parameters()])
    assert params.abs().max().item() <= 0.01 + 1e-7
    assert (params.abs() == 0.01).any()  # the bound is active, not merely satisfied


def test_c_step_ascends_the_multiscale_distance():
    S, C, x, y = _tiny_pair()
    opt_C = torch.optim.Adam(C.parameters(), lr=1e-3)
    prob = torch.sigmoid(S(x)).detach()
    before = multiscale_l1(*critic_features(C, x, prob, y)).item()
    for _ in range(3):
        c_step(C, opt_C, x, prob, y, clip=None)
    assert multiscale_l1(*critic_features(C, x, prob, y)).item() > before


def test_s_step_changes_only_S():
    S, C, x, y = _tiny_pair()
    s_before, c_before = _state(S), _state(C)
    opt_S = torch.optim.Adam(S.parameters(), lr=1e-3)
    out = s_step(C, opt_S, x, S(x), y, lambda_adv=1.0, lambda_dice=1.0, lambda_bce=1.0)
    assert set(out) == {"loss_adv", "loss_dice", "loss_bce", "loss_S"}
    assert out["loss_S"].item() == pytest.approx(sum(out[k].item() for k in ("loss_adv", "loss_dice", "loss_bce")))
    assert _changed(s_before, S)
    assert _changed(c_before, C) == []


def test_baseline_needs_no_critic():
    S, _, x, y = _tiny_pair()
    opt_S = torch.optim.Adam(S.parameters(), lr=1e-3)
    out = s_step(None, opt_S, x, S(x), y, lambda_adv=0.0, lambda_dice=1.0)
    assert set(out) == {"loss_dice", "loss_S"}
    config = baseline_config(SegANConfig(lambda_bce=0.0), lambda_bce=1.0)
    assert (config.lambda_adv, config.lambda_dice, config.lambda_bce, config.adversarial) == (0.0, 1.0, 1.0, False)


def test_config_rejects_bad_values():
    with pytest.raises(ValueError, match="not all 0"):
        SegANConfig(lambda_adv=0, lambda_dice=0, lambda_bce=0)
    with pytest.raises(ValueError, match="clip"):
        SegANConfig(clip=-1.0)


def test_train_segan_runs_and_checkpoints(tmp_path, capsys):
    import dataclasses

    from gan_lab.data.base import ImageData
    from gan_lab.train.segan import load_or_train_segan

    images = torch.rand(8, 1, 16, 16) * 2 - 1
    masks = (images > 0.3).float()
    data = ImageData(images, torch.zeros(8, dtype=torch.long), ["all"], "toy", "test", masks)
    config = SegANConfig(width=4, critic_width=4, batch_size=4, num_steps=3, log_every=1)
    run = train_segan(data, config, device="cpu", progress=False, checkpoint_dir=tmp_path / "r")
    assert run.history["step"] == [1, 2, 3] and "loss_C" in run.history and "loss_adv" in run.history
    probs = run.predict(images, batch_size=3)
    assert probs.shape == masks.shape and 0 <= probs.min() and probs.max() <= 1
    again = load_or_train_segan(tmp_path / "r", data, config, device="cpu", progress=False)
    assert "Loaded" in capsys.readouterr().out
    assert torch.allclose(again.predict(images), probs, atol=1e-6)
    assert again.config == config and again.C is not None and again.data_name == "toy"
    changed = load_or_train_segan(tmp_path / "r", data, dataclasses.replace(config, lr_S=1e-3), device="cpu",
                                  progress=False)  # another config: trained again from step 0
    assert "Loaded" not in capsys.readouterr().out and changed.history["step"] == [1, 2, 3]
    with pytest.raises(ValueError, match="masks"):
        train_segan(ImageData(images, data.labels, ["all"], "toy", "test"), config, device="cpu")


def _adam_steps(optimizer):
    return {int(state["step"]) for state in optimizer.state.values()}


@pytest.mark.parametrize("lambda_adv", [1.0, 0.0])
def test_continuing_a_run_keeps_its_optimisers_and_their_moments(lambda_adv):
    import dataclasses

    from gan_lab.data.base import ImageData

    images = torch.rand(8, 1, 16, 16) * 2 - 1
    data = ImageData(images, torch.zeros(8, dtype=torch.long), ["all"], "toy", "test", (images > 0.3).float())
    config = SegANConfig(width=4, critic_width=4, batch_size=4, num_steps=2, log_every=1, lambda_adv=lambda_adv)
    run = train_segan(data, config, device="cpu", progress=False)
    optimizers = dict(run.optimizers)
    assert set(optimizers) == ({"S", "C"} if lambda_adv else {"S"})
    assert all(_adam_steps(opt) == {2} for opt in optimizers.values())
    continued = train_segan(data, dataclasses.replace(config, num_steps=5), device="cpu", progress=False, run=run)
    assert continued is run and run.history["step"] == [1, 2, 3, 4, 5] and run.config.num_steps == 5
    assert run.optimizers.keys() == optimizers.keys()
    assert all(run.optimizers[name] is opt for name, opt in optimizers.items())
    assert all(_adam_steps(opt) == {5} for opt in run.optimizers.values())  # Adam's count (and moments) went on


def test_training_data_never_splits_one_image_across_train_and_test(shared_data):
    from gan_lab.data import load_nuclei
    from gan_lab.train.segan import segmentation_data

    root = shared_data / "dsb2018_nuclei"
    train, test = segmentation_data(tile=64, root=root, fallback=False)
    ids_train, ids_test = set(train.info["image_ids"]), set(test.info["image_ids"])
    assert ids_train and ids_test and not ids_train & ids_test
    assert train.masks.shape == (len(train), 1, 64, 64) and test.images.shape[1:] == (1, 64, 64)
    every = load_nuclei(root=root, split="all", tile=64)  # together the two splits hold each tile exactly once
    assert len(train) + len(test) == len(every)


def test_training_data_falls_back_to_phantom_lesions(no_real_data, capsys):
    from gan_lab.train.segan import segmentation_data

    train, test = segmentation_data(tile=16, n=6)
    assert "REAL DATA NOT FOUND" in capsys.readouterr().out
    assert train.masks is not None and train.masks.shape == (6, 1, 16, 16)
    assert not torch.equal(train.images, test.images)  # drawn from different seeds


def test_stop_event_ends_training_and_the_cache_resumes_the_run(tmp_path):
    import threading

    from gan_lab.data.base import ImageData
    from gan_lab.train.segan import load_or_train_segan, load_segan

    images = torch.rand(8, 1, 16, 16) * 2 - 1
    data = ImageData(images, torch.zeros(8, dtype=torch.long), ["all"], "toy", "test", (images > 0.3).float())
    config = SegANConfig(width=4, critic_width=4, batch_size=4, num_steps=4, log_every=1, callback_every=2,
                         scale_weights=(1.0, 1.0, 1.0, 2.0))
    stop = threading.Event()
    first = load_or_train_segan(tmp_path, data, config, device="cpu", progress=False, stop_event=stop,
                                callbacks=[lambda step, history: stop.set()])
    assert first.history["step"] == [1, 2]
    resumed = load_or_train_segan(tmp_path, data, config, device="cpu", progress=False)
    assert resumed.history["step"] == [1, 2, 3, 4]
    assert load_segan(tmp_path).config == config  # scale_weights come back as a tuple
