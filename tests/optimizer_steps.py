"""Driving an optimiser in tests: suggest a batch, ingest its outcomes, repeat."""

from __future__ import annotations


def run_batches(opt, func, steps: int, size: int = 2) -> list[list[dict]]:
    """``steps`` batches of ``size`` suggestions, each ingested as ``{"_id": …, "y": func(s)}``; returns the batches."""
    out = []
    for _ in range(steps):
        batch = opt.suggest(size)
        opt.ingest([{"_id": s["_id"], "y": func(s)} for s in batch])
        out.append(batch)
    return out
