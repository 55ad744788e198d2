"""Training on several processes with PyTorch DistributedDataParallel (DDP).

``torchrun --nproc_per_node=N -m gan_lab train ...`` starts N copies of the
command line and tells each one who it is through environment variables
(``WORLD_SIZE``, ``RANK``, ``LOCAL_RANK``, ``MASTER_ADDR``/``MASTER_PORT``).
:func:`start` turns them into a :class:`Distributed` context that
``train_gan(..., parallel=...)`` uses. What stays as in one process:

* ``batch_size`` is the global batch: each of the N processes draws
  ``batch_size / N`` images per step, so S steps see S · batch_size real
  images (per D update) in all, exactly as one process does.
* DDP averages the gradients over the processes before every optimiser step,
  so the N copies of G and D keep identical weights (:meth:`Distributed.checksums`
  verifies it at the end).
* Each process draws from its own random stream, seeded from (seed, rank, step):
  the processes see different images and noise, and a resumed run repeats
  an uninterrupted one.
* The first process (rank 0) alone prints, writes checkpoints and the run
  folder; checkpoints hold the plain modules, so they load, and resume, in one
  process as well as in N.

Batch norm: each process normalises over its own ``batch_size / N`` images and
keeps its own running statistics (the checkpoint holds rank 0's). SyncBatchNorm
would pool the statistics, but only on GPUs with NCCL, not with gloo on the
CPU, so it is not used: keep ``batch_size / N`` at 16 or more for DCGAN.

Example (two CPU processes)::

    torchrun --nproc_per_node=2 -m gan_lab train dcgan --data phantoms --steps 500 --out runs/ddp --device cpu
"""

from __future__ import annotations

import gc
import inspect
import os
from dataclasses import dataclass

import numpy as np
import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel

BACKENDS = ("gloo", "nccl")
# Buffers (batch-norm running statistics) stay per process: syncing them before every forward pass would cost a
# broadcast per call and still not pool the batch statistics. torch ≥ 2.14 renamed the switch.
_NO_BUFFER_SYNC = ({"forward_sync_buffers": False}
                   if "forward_sync_buffers" in inspect.signature(DistributedDataParallel).parameters
                   else {"broadcast_buffers": False})


class DistributedError(RuntimeError):
    """A distributed run was set up wrongly (devices, backend, batch size); the message says how to fix it."""


def launched() -> bool:
    """True in a process started by ``torchrun`` (it sets ``WORLD_SIZE``, ``RANK`` and ``LOCAL_RANK``)."""
    return all(key in os.environ for key in ("WORLD_SIZE", "RANK", "LOCAL_RANK"))


def world_size() -> int:
    """The number of processes of this ``torchrun`` job (1 when not launched by torchrun)."""
    return int(os.environ["WORLD_SIZE"]) if launched() else 1


def is_main() -> bool:
    """True in the process that prints and writes files: rank 0, or the only process."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank() == 0
    return int(os.environ.get("RANK", 0)) == 0


def local_batch_size(batch_size: int, processes: int) -> int:
    """The images each of ``processes`` processes draws per step so that together they draw ``batch_size``.

    Raises:
        DistributedError: ``batch_size`` is not a multiple of ``processes``.
    """
    if batch_size % processes:
        lower, upper = batch_size // processes * processes, (batch_size // processes + 1) * processes
        raise DistributedError(
            f"batch size {batch_size} does not split evenly over {processes} processes; use a multiple of "
            f"{processes} (e.g. --batch-size {upper}" + (f" or {lower}" if lower else "") + ") or a number of "
            "processes (--nproc_per_node) that divides it.")
    return batch_size // processes


@dataclass(frozen=True)
class Distributed:
    """This process's place in a distributed run; made by :func:`start`.

    Attributes:
        rank: 0 … world_size − 1 over all machines; rank 0 writes the files.
        world_size: number of processes.
        local_rank: index on this machine (picks the GPU).
        device: this process's device (``cuda:<local_rank>`` or ``cpu``).
        backend: "nccl" (GPUs) or "gloo" (CPU).
    """

    rank: int
    world_size: int
    local_rank: int
    device: torch.device
    backend: str

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def local_batch_size(self, batch_size: int) -> int:
        """Images this process draws per step: ``batch_size / world_size`` (see :func:`local_batch_size`)."""
        return local_batch_size(batch_size, self.world_size)

    def wrap(self, module: nn.Module) -> nn.Module:
        """``module`` in DistributedDataParallel: its gradients are averaged over the processes in ``backward``.

        Wrapping broadcasts rank 0's weights, so every process starts from the same networks.
        Attributes of the module (e.g. ``G.z_dim``) stay readable through the wrapper.
        """
        device_ids = [self.device] if self.device.type == "cuda" else None
        return _DDP(module, device_ids=device_ids, **_NO_BUFFER_SYNC)

    def seed(self, seed: int, step: int) -> None:
        """Seed this process's random numbers for ``step`` from (seed, rank, step).

        Processes draw different batches and noise; and since the stream depends on the
        step alone, a resumed run draws what an uninterrupted one would have drawn.
        """
        state = np.random.SeedSequence([seed % 2**32, self.rank, step]).generate_state(1, np.uint64)[0]
        torch.manual_seed(int(state))

    def average(self, values: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """The mean over the processes of each scalar in ``values`` (one all-reduce).

        Logged losses then describe the global batch, and every process sees the same
        numbers, so the loop's NaN guard stops all of them together.
        """
        stacked = torch.stack([torch.as_tensor(v, dtype=torch.float32, device=self.device) for v in values.values()])
        dist.all_reduce(stacked)  # sum
        return dict(zip(values, (stacked / self.world_size).unbind()))

    def checksums(self, models: dict[str, nn.Module]) -> list[float]:
        """A checksum of the parameters of ``models`` from every process, in rank order (all take part).

        Equal numbers mean the replicas hold the same weights. The sum is weighted by position,
        so swapped or shifted values change it too.
        """
        flat = torch.cat([p.detach().flatten().double() for m in models.values() for p in m.parameters()])
        local = (flat * torch.linspace(1, 2, flat.numel(), dtype=torch.float64, device=flat.device)).sum()
        local = local.cpu() if self.backend == "gloo" else local  # gloo gathers CPU tensors only
        gathered = [torch.zeros_like(local) for _ in range(self.world_size)]
        dist.all_gather(gathered, local)
        return [float(c) for c in gathered]


class _DDP(DistributedDataParallel):
    """DistributedDataParallel that forwards unknown attributes (``z_dim``, ...) to the wrapped module."""

    def __getattr__(self, name: str):
        try:
            return super().__getattr__(name)
        except AttributeError:
            if name == "module":  # not set yet (inside __init__): nothing to forward to
                raise
            return getattr(self.module, name)


def start(device: str | torch.device | None = None, backend: str | None = None) -> Distributed:
    """Join the ``torchrun`` job this process belongs to and pick its device.

    Args:
        device: "cpu" or "cuda" (each process then takes GPU ``LOCAL_RANK``); None: ``$GAN_LAB_DEVICE``,
            else cuda when available, else cpu.
        backend: "nccl" or "gloo"; None: nccl on GPUs, gloo on the CPU.

    Raises:
        DistributedError: not started by torchrun, fewer GPUs than processes, nccl without GPUs, an MPS device.
    """
    if not launched():
        raise DistributedError("this process was not started by torchrun (WORLD_SIZE, RANK and LOCAL_RANK are "
                               "unset); run `torchrun --nproc_per_node=N -m gan_lab train ...`.")
    rank, size, local_rank = (int(os.environ[k]) for k in ("RANK", "WORLD_SIZE", "LOCAL_RANK"))
    device, backend = _pick(device, backend, local_rank, int(os.environ.get("LOCAL_WORLD_SIZE", size)))
    if device.type == "cuda":
        torch.cuda.set_device(device)  # NCCL and the CUDA caching allocator use the current device
    if not dist.is_initialized():
        dist.init_process_group(backend)  # rendezvous through torchrun's MASTER_ADDR / MASTER_PORT
    return Distributed(rank, size, local_rank, device, backend)


def stop(together: bool = True) -> None:
    """Leave the process group (a no-op when there is none).

    Args:
        together: first wait until every process has arrived here (a barrier), so that no process leaves
            while another still has collective work to do with it. Only where every process is sure to
            arrive (after a finished run); after an error or a signal pass False, or a process that stopped
            elsewhere would keep the others waiting until the group's timeout.
    """
    if not (dist.is_available() and dist.is_initialized()):
        return
    gc.collect()  # DDP wrappers left in reference cycles hold the group: free them while it is still whole
    if together:
        dist.barrier()
    dist.destroy_process_group()


def _pick(requested, backend: str | None, local_rank: int, local_size: int) -> tuple[torch.device, str]:
    """(device, backend) of the process with ``local_rank`` among ``local_size`` on this machine."""
    requested = requested or os.environ.get("GAN_LAB_DEVICE") or ("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(requested)
    if device.type == "cuda":
        gpus = torch.cuda.device_count()
        if gpus < local_size:
            raise DistributedError(
                f"device {device}: {local_size} processes on this machine need one GPU each, but torch sees "
                f"{gpus}; start at most {gpus} processes per machine (--nproc_per_node) or train on the CPU "
                "(--device cpu).")
        if device.index is not None and local_size > 1:
            raise DistributedError(
                f"device {device}: with several processes each one takes the GPU of its LOCAL_RANK; give "
                "--device cuda and choose the GPUs with CUDA_VISIBLE_DEVICES.")
        device = device if device.index is not None else torch.device("cuda", local_rank)
    elif device.type != "cpu":
        raise DistributedError(f"device {device}: distributed training runs on cpu (gloo) or cuda (nccl, gloo).")
    backend = backend or ("nccl" if device.type == "cuda" else "gloo")
    if backend not in BACKENDS:
        raise DistributedError(f"backend {backend!r}: choose one of {', '.join(BACKENDS)}.")
    if backend == "nccl" and device.type != "cuda":
        raise DistributedError("backend nccl needs CUDA GPUs; on the CPU use gloo (the default there).")
    if not (dist.is_nccl_available() if backend == "nccl" else dist.is_gloo_available()):
        raise DistributedError(f"this PyTorch build has no {backend} backend; use the other one.")
    return device, backend
