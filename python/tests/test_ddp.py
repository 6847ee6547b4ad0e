# SPDX-License-Identifier: MIT
"""examples/ddp_shards.py: torch.distributed (gloo, 2 processes on 127.0.0.1) splits a batch;
one all-reduce of (loss_sum, normalizer) gives the single-process MEAN to 1e-12 relative and
the same gradients (the example checks and exits non-zero otherwise)."""
import os
import subprocess
import sys

import pytest
import torch.distributed as dist

EXAMPLE = os.path.join(os.path.dirname(__file__), "..", "..", "examples", "ddp_shards.py")


@pytest.mark.skipif(not dist.is_available() or not dist.is_gloo_available(),
                    reason="this PyTorch has no gloo backend")
def test_ddp_two_processes_match_one():
    r = subprocess.run([sys.executable, EXAMPLE, "--world-size", "2"], capture_output=True,
                       text=True, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    lines = [line for line in r.stdout.splitlines() if ": 2 shards mean" in line]
    assert len(lines) == 2 and all(line.endswith(": ok") for line in lines), r.stdout
    assert r.stdout.rstrip().endswith("ddp_shards: ok")
