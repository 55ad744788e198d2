"""gan_lab.device.cpu_threads: an explicit request, then $GAN_LAB_THREADS, then one thread on a busy machine."""

import os

import torch

from gan_lab import device, session


def test_request_and_environment_win(monkeypatch):
    monkeypatch.setenv("GAN_LAB_THREADS", "3")
    assert device.cpu_threads(2) == 2
    assert device.cpu_threads() == 3


def test_one_thread_when_the_cores_are_busy_else_torchs_default(monkeypatch):
    monkeypatch.delenv("GAN_LAB_THREADS", raising=False)
    monkeypatch.setattr(os, "getloadavg", lambda: (64.0, 64.0, 64.0))
    assert device.cpu_threads() == 1
    monkeypatch.setattr(os, "getloadavg", lambda: (0.0, 0.0, 0.0))
    assert device.cpu_threads() == device._default_threads >= 1


def test_setup_applies_the_thread_count(monkeypatch):
    before = torch.get_num_threads()
    try:
        session.setup(seed=0, device="cpu", verbose=False, threads=1)
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)
