"""Distributed training: `torchrun -m gan_lab train` on 2 CPU processes (gloo) against one process."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch

import gan_lab.train.gan as gan
from gan_lab import cli, distributed
from gan_lab.train.gan import load_gan

TINY = ["train", "dcgan", "--data", "phantoms", "--steps", "6", "--width", "4", "--z-dim", "8", "--batch-size", "8",
        "--device", "cpu", "--quiet", "--fid-n", "0"]
# Runs cli.main in each torchrun process with the recorders installed; writes rank<RANK>.json next to itself.
LAUNCHER = """\
import json, os, sys
from pathlib import Path
sys.path.insert(0, {tests!r})
from test_distributed import Recorder
from gan_lab import cli
recorder = Recorder(setattr)
code = cli.main(sys.argv[1:])
(Path(__file__).parent / f"rank{{os.environ['RANK']}}.json").write_text(json.dumps(recorder.record))
sys.exit(code)
"""


class Recorder:
    """Counts the real images a process draws, hashes its first batch and its final weights."""

    def __init__(self, patch):
        self.record = {"drawn": 0, "first_batch": None, "weights": None}
        self._sample_batch, self._train_gan = gan.sample_batch, cli.commands.train_gan
        patch(gan, "sample_batch", self.sample_batch)
        patch(cli.commands, "train_gan", self.train_gan)

    def sample_batch(self, x, batch_size, *others):
        batch = self._sample_batch(x, batch_size, *others)
        self.record["drawn"] += batch.shape[0]
        self.record["first_batch"] = self.record["first_batch"] or _digest([batch])
        return batch

    def train_gan(self, *args, **kwargs):
        run = self._train_gan(*args, **kwargs)
        self.record["weights"] = _digest([p for m in (run.G, run.D) for p in m.parameters()])
        return run


def _digest(tensors) -> str:
    return hashlib.sha256(b"".join(t.detach().cpu().contiguous().numpy().tobytes() for t in tensors)).hexdigest()


def _torchrun(cwd: Path, *args: str, check: bool = True) -> str:
    """``torchrun --nproc_per_node=2 --standalone ARGS`` on the CPU; returns its stdout (``check``: fails on exit
    code ≠ 0), else stdout and stderr together after the exit code."""
    env = {k: v for k, v in os.environ.items() if k not in ("WORLD_SIZE", "RANK", "LOCAL_RANK")}
    env["OMP_NUM_THREADS"] = "1"
    command = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2", "--standalone", *args]
    proc = subprocess.Popen(command, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)  # its own process group: a hang is killed with its workers
    try:
        out, err = proc.communicate(timeout=240)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, err = proc.communicate()
    if not check:
        return f"exit {proc.returncode}\n{out}{err}"
    assert proc.returncode == 0, err[-3000:]
    return out


def _recorded_torchrun(cwd: Path, *argv: str) -> tuple[str, list[dict]]:
    """Run ``cli.main(argv)`` in 2 torchrun processes with recorders; (stdout, record of each rank)."""
    (cwd / "launch.py").write_text(LAUNCHER.format(tests=str(Path(__file__).parent)))
    out = _torchrun(cwd, "launch.py", *argv)
    return out, [json.loads((cwd / f"rank{r}.json").read_text()) for r in (0, 1)]


def _metrics(run: Path) -> dict:
    return json.loads((run / "metrics.json").read_text())


def test_two_processes_train_like_one(tmp_path, monkeypatch):
    single = Recorder(monkeypatch.setattr)
    assert cli.main([*TINY, "--out", str(tmp_path / "one")]) == 0
    out, ranks = _recorded_torchrun(tmp_path, *TINY, "--out", "ddp")
    assert out.count("Wrote ddp/") == 1  # rank 0 alone writes the run folder

    # --batch-size is global: 4 + 4 images per step on 2 processes, as many in all as 8 on one
    assert [r["drawn"] for r in ranks] == [6 * 4, 6 * 4]
    assert sum(r["drawn"] for r in ranks) == single.record["drawn"] == 6 * 8
    assert ranks[0]["first_batch"] != ranks[1]["first_batch"]  # each process its own images
    assert ranks[0]["weights"] == ranks[1]["weights"]  # DDP kept the replicas identical, bit for bit
    ddp_metrics, one_metrics = _metrics(tmp_path / "ddp"), _metrics(tmp_path / "one")
    assert ddp_metrics["samples_seen"] == one_metrics["samples_seen"] == 6 * 8
    assert ddp_metrics["steps"] == one_metrics["steps"] == 6
    checksums = ddp_metrics["distributed"]["parameter_checksums"]
    assert len(checksums) == 2 and checksums[0] == checksums[1]
    assert "distributed" not in one_metrics

    run = load_gan(tmp_path / "ddp", device="cpu")  # a DDP checkpoint holds plain modules: loads in one process
    assert run.history["step"] == load_gan(tmp_path / "one", device="cpu").history["step"]
    assert _digest(list(run.G.parameters()) + list(run.D.parameters())) == ranks[0]["weights"]
    assert run.sample(3).shape == (3, 1, 28, 28)


def test_checkpoints_resume_across_process_counts(tmp_path):
    assert cli.main([*TINY, "--out", str(tmp_path / "run")]) == 0
    out = _torchrun(tmp_path, "-m", "gan_lab", *TINY, "--out", "run", "--resume", "--steps", "8")
    assert out.count("Wrote run/") == 1
    metrics = _metrics(tmp_path / "run")
    assert metrics["steps"] == 8 and metrics["samples_seen"] == 8 * 8 and metrics["distributed"]["processes"] == 2
    assert load_gan(tmp_path / "run").history["step"][-1] == 8
    # ... and a checkpoint written by 2 processes continues in one
    assert cli.main([*TINY, "--out", str(tmp_path / "run"), "--resume", "--steps", "10"]) == 0
    assert _metrics(tmp_path / "run")["samples_seen"] == 10 * 8 and "distributed" not in _metrics(tmp_path / "run")


# Rank 0 finishes a second after rank 1; rank 1 must not leave the group before it (exit 3 if it does).
LEAVE_TOGETHER = """\
import sys, time
from pathlib import Path
from gan_lab import distributed
parallel = distributed.start("cpu")
done = Path("rank0_done")
if parallel.is_main:
    time.sleep(1.0)
    done.write_text("written")
distributed.stop()
sys.exit(0 if done.exists() else 3)
"""


def test_processes_leave_the_group_together(tmp_path):
    (tmp_path / "leave.py").write_text(LEAVE_TOGETHER)
    _torchrun(tmp_path, "leave.py")  # fails on any exit code but 0


# G's update reuses D's last fakes (k = 2): one forward of G_sync with a graph a step, whose backward DDP reduces.
REUSE_FAKES = """\
import hashlib, sys, torch
from pathlib import Path
from gan_lab import distributed
from gan_lab.data import load
from gan_lab.train.gan import GANConfig, train_gan
parallel = distributed.start("cpu")
config = GANConfig(width=4, z_dim=8, batch_size=8, num_steps=4, k=2, reuse_fakes=True)
run = train_gan(load("phantoms", n=64), config, device="cpu", progress=False, parallel=parallel)
weights = b"".join(p.detach().numpy().tobytes() for m in (run.G, run.D) for p in m.parameters())
Path(f"rank{parallel.rank}.sha").write_text(hashlib.sha256(weights).hexdigest())
distributed.stop()
"""


def test_reused_fakes_train_in_two_processes_with_identical_replicas(tmp_path):
    (tmp_path / "reuse.py").write_text(REUSE_FAKES)
    _torchrun(tmp_path, "reuse.py")
    assert (tmp_path / "rank0.sha").read_text() == (tmp_path / "rank1.sha").read_text()


# Rank 0 fails while writing the run folder, after training; the job must end with the error, not wait.
FAILING_WRITE = """\
import os, sys
from gan_lab import cli

def broken(*args, **kwargs):
    raise OSError("no space left on the test's device")

if os.environ["RANK"] == "0":
    cli.commands.write_run_outputs = broken
sys.exit(cli.main(sys.argv[1:]))
"""


def test_a_failure_after_training_ends_the_job_with_its_error(tmp_path):
    (tmp_path / "fail.py").write_text(FAILING_WRITE)
    result = _torchrun(tmp_path, "fail.py", *TINY, "--out", "r", check=False)
    assert result.startswith("exit 1\n") and "no space left on the test's device" in result  # not a kill (-9)


@pytest.fixture
def as_rank_0_of(monkeypatch):
    """Pretend to be rank 0 of a torchrun job of ``n`` processes (the checks fail before any rendezvous)."""
    def enter(n: int, local: int | None = None) -> None:
        monkeypatch.setenv("WORLD_SIZE", str(n))
        monkeypatch.setenv("RANK", "0")
        monkeypatch.setenv("LOCAL_RANK", "0")
        monkeypatch.setenv("LOCAL_WORLD_SIZE", str(local or n))
    return enter


@pytest.mark.parametrize("processes, extra, message", [
    (2, ["--batch-size", "7"], "batch size 7 does not split evenly over 2 processes; use a multiple of 2 "
                               "(e.g. --batch-size 8 or 6)"),
    (3, ["--batch-size", "2"], "use a multiple of 3 (e.g. --batch-size 3)"),
    (2, ["--backend", "nccl"], "backend nccl needs CUDA GPUs"),
    (2, ["--device", "mps"], "runs on cpu (gloo) or cuda"),
])
def test_bad_distributed_setup_is_one_line_and_exit_code_2(tmp_path, capsys, as_rank_0_of, processes, extra,
                                                             message):
    as_rank_0_of(processes)
    assert cli.main([*TINY, "--out", str(tmp_path / "r"), *extra]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1
    assert not (tmp_path / "r").exists()


def test_more_processes_than_gpus_is_refused(as_rank_0_of, tmp_path, capsys):
    gpus = torch.cuda.device_count()
    as_rank_0_of(gpus + 2)
    assert cli.main([*TINY, "--device", "cuda", "--out", str(tmp_path / "r")]) == 2
    assert f"{gpus + 2} processes on this machine need one GPU each, but torch sees {gpus}" in capsys.readouterr().err


def test_backend_outside_torchrun_is_refused(tmp_path, capsys):
    assert cli.main([*TINY, "--backend", "gloo", "--out", str(tmp_path / "r")]) == 2
    assert "started by torchrun" in capsys.readouterr().err


def test_each_rank_and_step_has_its_own_repeatable_stream():
    def draw(rank: int, step: int) -> torch.Tensor:
        distributed.Distributed(rank, 2, rank, torch.device("cpu"), "gloo").seed(0, step)
        return torch.rand(4)

    assert torch.equal(draw(1, 5), draw(1, 5))  # a resumed run redraws what step 5 drew
    assert not torch.equal(draw(0, 5), draw(1, 5)) and not torch.equal(draw(1, 5), draw(1, 6))


def test_is_main_outside_and_inside_torchrun(monkeypatch):
    assert distributed.is_main() and not distributed.launched() and distributed.world_size() == 1
    monkeypatch.setenv("RANK", "1")
    assert not distributed.is_main()
