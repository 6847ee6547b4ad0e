#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""ddp_shards.py - a batch split across processes with torch.distributed, combined exactly.

Two processes (gloo backend, 127.0.0.1 only) each take half of one batch and compute their
shard's section loss with reduction="sum" and return_stats=True: float64 [loss_sum,
normalizer, count] from the C library's sl_stats. ONE all-reduce of (loss_sum, normalizer)
gives every rank the batch MEAN, sum(loss_sum) / sum(normalizer), and backward of
loss_sum / total_normalizer gives each rank its shard's part of the single-process MEAN
gradient. Rank 0 then checks both against one process computing the whole batch: the MEAN to
1e-12 relative (double sums in another order) and the gradients to 2e-6 relative (float32
rounding of the one scale factor). Exits non-zero on a mismatch.

  python3 examples/ddp_shards.py [--world-size 2]
"""
import argparse
import os
import socket
import sys

import torch
import torch.distributed as dist
import torch.multiprocessing as mp

import sectionloss as sl

BATCH = 4


def make_batch():
    g = torch.Generator().manual_seed(7)
    logits = torch.randn((BATCH, 6, 20, 24), generator=g) * 2
    labels = torch.randint(0, 6, (BATCH, 20, 24), generator=g)
    mask = torch.rand((BATCH, 1, 20, 24), generator=g) < 0.7
    boxes = torch.tensor([[2, 1, 20, 18], [0, 0, 24, 20], [5, 5, 15, 15], [1, 3, 22, 19]])
    target = (torch.rand((BATCH, 6, 20, 24), generator=g) < 0.3).float()
    return logits, labels, mask, boxes, target


def losses(logits, labels, mask, boxes, target, reduction):
    """(name, loss, stats) for CE with class weights and BCE with logits with pos_weight."""
    ce = sl.cross_entropy(logits, labels, mask=mask, box=boxes, weight=torch.linspace(0.5, 2, 6),
                          label_smoothing=0.05, reduction=reduction, return_stats=True)
    bce = sl.binary_cross_entropy_with_logits(logits, target, mask=mask, box=boxes,
                                              pos_weight=torch.full((6,), 3.0),
                                              reduction=reduction, return_stats=True)
    return [("cross_entropy", *ce), ("binary_cross_entropy_with_logits", *bce)]


def worker(rank, world, port):
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), GLOO_SOCKET_IFNAME="lo")
    dist.init_process_group("gloo", rank=rank, world_size=world)
    torch.set_num_threads(1)
    full = make_batch()
    shard = [t.chunk(world)[rank] for t in full]
    failures = 0
    for i in range(2):
        x = shard[0].clone().requires_grad_(True)
        name, loss_sum, stats = losses(x, *shard[1:], reduction="sum")[i]
        total = stats[:2].clone()
        dist.all_reduce(total)  # the one all-reduce: (sum of loss_sum, sum of normalizer)
        mean = total[0] / total[1]
        (loss_sum / total[1]).backward()
        grads = [torch.empty_like(x.grad) for _ in range(world)]
        dist.all_gather(grads, x.grad)
        if rank == 0:
            xs = full[0].clone().requires_grad_(True)
            want_loss, want_stats = losses(xs, *full[1:], reduction="mean")[i][1:]
            want_loss.backward()
            want_mean = want_stats[0] / want_stats[1]
            rel = abs(mean.item() - want_mean.item()) / abs(want_mean.item())
            grad = torch.cat(grads)
            grad_ok = torch.allclose(grad, xs.grad, rtol=2e-6,
                                     atol=1e-6 * float(xs.grad.abs().max()))
            ok = rel <= 1e-12 and grad_ok and abs(mean.item() - want_loss.item()) <= 1e-6 * abs(
                want_loss.item())
            failures += not ok
            print(f"{name}: {world} shards mean {mean.item():.17g}, one process "
                  f"{want_mean.item():.17g} (relative {rel:.2e}), float32 MEAN "
                  f"{want_loss.item():.9g}, gradients "
                  f"{'equal' if grad_ok else 'DIFFER'} (max abs diff "
                  f"{(grad - xs.grad).abs().max().item():.3g}): {'ok' if ok else 'MISMATCH'}",
                  flush=True)
    # both ranks leave together: rank 1 tearing gloo down while rank 0 still computes its
    # single-process reference aborted it once in CI (PyTorch 2.15: "terminate called without
    # an active exception", after both checks had printed ok)
    dist.barrier()
    dist.destroy_process_group()
    if failures:
        sys.exit(1)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--world-size", type=int, default=2)
    args = ap.parse_args()
    if BATCH % args.world_size:
        ap.error(f"--world-size must divide the batch of {BATCH}")
    mp.spawn(worker, args=(args.world_size, free_port()), nprocs=args.world_size, join=True)
    print("ddp_shards: ok")


if __name__ == "__main__":
    main()
