"""Evaluation: fidelity and diversity of generated images on domain features, and task metrics.

* :mod:`.features` — the domain feature network φ (a small CNN trained on the real labels).
* :mod:`.fidelity` — FID and KID (torchmetrics, with φ as the feature extractor).
* :mod:`.prdc` — precision, recall, density and coverage on φ.
* :mod:`.memorisation` — are fakes copies of training images?
* :mod:`.two_sample` — the classifier two-sample test: can a classifier tell the fakes from real images?
* :mod:`.spectrum` — radial power spectra and low/high frequency bands: at which scale do fakes differ?
* :mod:`.reader_study` — real-or-fake reader studies (visual Turing tests): accuracy, intervals, a class.
* :mod:`.tstr` — train on synthetic, test on real; GAN data augmentation, on top of classical augmentation.
* :mod:`.report` — all of it for a run folder (``python -m gan_lab evaluate``).
* :mod:`.image` — PSNR, SSIM, MAE, sharpness, Dice and IoU for image-to-image and segmentation models.
"""

from .features import FeatureNet, feature_net, train_feature_net
from .fidelity import fid, fid_kid, kid
from .image import (
    dice,
    dice_per_image,
    iou,
    iou_per_image,
    mae,
    mae_per_image,
    psnr,
    psnr_per_image,
    sharpness,
    sharpness_per_image,
    ssim,
    ssim_per_image,
)
from .memorisation import MemorisationReport, memorisation
from .prdc import prdc, prdc_images
from .reader_study import combine_readers, make_trial, score_answers, wilson_interval
from .report import evaluate_run, fid_kid_for_run
from .spectrum import frequency_bands, low_pass, radial_power_spectrum
from .tstr import (
    AugmentationConfig,
    ClassicalAugmentation,
    augmentation_experiment,
    classical_augment,
    per_class_sampler,
    stratified_subset,
)
from .two_sample import TwoSampleResult, two_sample_test

__all__ = [
    "TwoSampleResult",
    "two_sample_test",
    "frequency_bands",
    "low_pass",
    "radial_power_spectrum",
    "AugmentationConfig",
    "ClassicalAugmentation",
    "FeatureNet",
    "MemorisationReport",
    "augmentation_experiment",
    "classical_augment",
    "combine_readers",
    "dice",
    "dice_per_image",
    "evaluate_run",
    "feature_net",
    "fid",
    "fid_kid",
    "fid_kid_for_run",
    "iou",
    "iou_per_image",
    "kid",
    "mae",
    "mae_per_image",
    "make_trial",
    "memorisation",
    "per_class_sampler",
    "prdc",
    "prdc_images",
    "psnr",
    "psnr_per_image",
    "score_answers",
    "sharpness",
    "sharpness_per_image",
    "ssim",
    "ssim_per_image",
    "stratified_subset",
    "train_feature_net",
    "wilson_interval",
]
