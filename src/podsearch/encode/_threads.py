"""How many CPU threads an encoder should use on this machine."""

from __future__ import annotations

import math
import os
from pathlib import Path


def available_cpus() -> int:
    """CPUs this process may use: $PODSEARCH_THREADS, else affinity capped by the cgroup quota."""
    env = os.environ.get("PODSEARCH_THREADS", "").strip()
    if env.isdigit() and int(env) > 0:
        return int(env)
    try:
        n = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        n = os.cpu_count() or 1
    quota = _cgroup_cpu_quota()
    if quota is not None:
        n = min(n, quota)
    return max(1, n)


def _cgroup_cpu_quota() -> int | None:
    try:
        quota, period = Path("/sys/fs/cgroup/cpu.max").read_text().split()[:2]
        return None if quota == "max" else max(1, math.ceil(int(quota) / int(period)))
    except (OSError, ValueError, ZeroDivisionError):
        return None


def configure_torch_threads() -> int:
    """Size torch's intra-op pool to the machine unless the user chose (OMP/MKL env vars)."""
    import torch

    user_chose = os.environ.get("OMP_NUM_THREADS") or os.environ.get("MKL_NUM_THREADS")
    n = available_cpus()
    if ("PODSEARCH_THREADS" in os.environ or not user_chose) and torch.get_num_threads() != n:
        torch.set_num_threads(n)
    return torch.get_num_threads()
