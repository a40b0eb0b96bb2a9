# Copyright (c) 2026 Renogram parenchyma bundle contributors.
# Licensed under the Apache License, Version 2.0 (http://www.apache.org/licenses/LICENSE-2.0).
"""CPU cost of every registered network in one run: parameters, GFLOPs, latency, training-step time, peak memory.

Usage::

    python -m scripts.benchmark_networks --size 384 --json bench_networks.json
    python -m scripts.benchmark_networks --size 384 --networks transformer_unet,unet,unetr --threads 2
    python -m scripts.benchmark_networks --networks transformer_unet --threads 2 --autocast bfloat16 --channels-last

For every network of ``networks.available_networks()`` (or ``--networks``), plus the speed-target reference
``unet_target_ref`` = MONAI ``UNet(channels=(16, 32, 64, 128, 256), strides=(2, 2, 2, 2))`` (no residual units), it
measures, each network in two fresh subprocesses (one inference, one training) so that memory figures do not mix:

- parameters (millions) and forward GFLOPs per image at ``--size`` (``torch.utils.flop_counter.FlopCounterMode``;
  matmuls and convolutions; the CPU fused-attention op, which the counter does not know, is counted with torch's own
  ``sdpa_flop_count`` formula);
- median inference latency per image at batch 1 (eval mode, ``torch.no_grad``) over ``--repeats`` runs after 2
  warm-ups, with ``torch.set_num_threads(--threads)`` recorded;
- median training-step time at ``--train-batch`` (forward, BCE/CE loss, backward, Adam step) over ``--train-repeats``
  steps after 1 warm-up, also per image (``train_ms_per_image``); ``--autocast bfloat16 --channels-last`` times the
  step as ``train.json``'s default recipe runs it (bf16 autocast, ``channels_last``; fp32 without them);
- peak memory as the growth of the process's peak resident set size (``resource.getrusage(...).ru_maxrss``) from
  just before the first forward to the end of the timed runs, i.e. activations, workspace, gradients and optimizer
  state beyond the weights and the interpreter; the absolute peak RSS is recorded too.

Then it times ``transformer_unet``, ``unet_target_ref`` and ``unetr`` round-robin in one process (each round runs
each network once), the fairest basis for the latency ratios on a shared host.

It prints a markdown table and the target ratios for ``transformer_unet`` (<= 20 GFLOPs, <= 2x the latency of
``unet_target_ref``, <= 1/5 of ``unetr``), and writes JSON with host, CPU, Python, torch and MONAI versions. Times on
a shared machine are noisy: compare ratios from one run, not absolute times across runs.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from scripts.benchmarking.host import host_record
from scripts.benchmarking.network_costs import REFERENCE_NAME, interleaved_latency, measure

__all__ = ["TARGETS", "main"]

TARGETS = {"max_gflops": 20.0, "max_latency_vs_unet_ref": 2.0, "max_latency_vs_unetr": 0.2}


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line on stderr, exit 2 (house CLI rule)
        sys.stderr.write(f"benchmark_networks: error: {message}\n")
        raise SystemExit(2)


def _run_child(args: argparse.Namespace, name: str, mode: str) -> dict:
    cmd = [
        sys.executable,
        "-m",
        "scripts.benchmark_networks",
        "--child",
        name,
        "--child-mode",
        mode,
        "--size",
        str(args.size),
        "--threads",
        str(args.threads),
        "--out-channels",
        str(args.out_channels),
        "--repeats",
        str(args.repeats if mode == "infer" else args.train_repeats),
        "--train-batch",
        str(args.train_batch),
        "--autocast",
        args.autocast,
    ] + (["--channels-last"] if args.channels_last else [])
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=Path(__file__).resolve().parents[1])
    if proc.returncode != 0 or not proc.stdout.strip():
        tail = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        return {"network": name, "mode": mode, "error": tail}
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _table(rows: list[dict]) -> str:
    head = (
        "| network | params (M) | GFLOPs/img | infer b1 median (min) (ms) | train step b{b} median (s) "
        "| train ms/img | peak RSS growth infer (MB) | peak RSS growth train (MB) |\n|---|---|---|---|---|---|---|---|"
    )
    batch = next((r.get("train_batch") for r in rows if r.get("train_batch")), 8)
    lines = [head.format(b=batch)]

    def f(v: Any, fmt: str) -> str:
        return format(v, fmt) if isinstance(v, int | float) else "-"  # not measured or failed (see JSON)

    for r in rows:
        lines.append(
            f"| {r['network']} | {f(r.get('params_m'), '.2f')} | {f(r.get('gflops_per_image'), '.2f')} "
            f"| {f(r.get('latency_ms_b1'), '.1f')} ({f(r.get('latency_ms_b1_min'), '.1f')}) "
            f"| {f(r.get('train_step_s'), '.2f')} | {f(r.get('train_ms_per_image'), '.1f')} "
            f"| {f(r.get('peak_rss_delta_mb_infer'), '.0f')} | {f(r.get('peak_rss_delta_mb_train'), '.0f')} |"
        )
    return "\n".join(lines)


def _ratios(rows: list[dict]) -> dict:
    by = {r["network"]: r for r in rows}
    out: dict[str, Any] = {}
    tu = by.get("transformer_unet", {})
    if "gflops_per_image" in tu:
        out["transformer_unet_gflops"] = tu["gflops_per_image"]
        out["gflops_ok"] = tu["gflops_per_image"] <= TARGETS["max_gflops"]
    for ref, key, limit in (
        (REFERENCE_NAME, "latency_vs_unet_ref", TARGETS["max_latency_vs_unet_ref"]),
        ("unetr", "latency_vs_unetr", TARGETS["max_latency_vs_unetr"]),
    ):
        if "latency_ms_b1" in tu and "latency_ms_b1" in by.get(ref, {}):
            out[key] = tu["latency_ms_b1"] / by[ref]["latency_ms_b1"]
            out[key + "_ok"] = out[key] <= limit
            # minimum over the repeats: less sensitive to other jobs on a shared host
            out[key + "_from_min"] = tu["latency_ms_b1_min"] / by[ref]["latency_ms_b1_min"]
    return out


def main(argv: list[str] | None = None) -> int:
    parser = _Parser(prog="python -m scripts.benchmark_networks", description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=int, default=384, help="square input size in pixels (default 384)")
    parser.add_argument("--json", type=Path, default=None, help="write the record as JSON to this path")
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1, help="torch threads (default: all cores)")
    parser.add_argument("--repeats", type=int, default=7, help="timed inference runs per network (default 7)")
    parser.add_argument("--train-repeats", type=int, default=3, help="timed training steps per network (default 3)")
    parser.add_argument("--train-batch", type=int, default=8, help="training batch size (default 8)")
    parser.add_argument("--out-channels", type=int, default=1, help="output channels (default 1, the paper's BCE)")
    parser.add_argument("--networks", default=None, help="comma-separated subset (default: all registered + reference)")
    parser.add_argument("--no-train", action="store_true", help="skip the training-step measurement")
    parser.add_argument(
        "--autocast", default="none", choices=("none", "bfloat16", "float16"),
        help="training step under torch.autocast with this dtype, as train.json's autocast_dtype (default none: fp32)",
    )
    parser.add_argument(
        "--channels-last", action="store_true", help="training step in channels_last memory format (train.json id)"
    )
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    parser.add_argument(
        "--child-mode", default="infer", choices=("infer", "train", "interleaved"), help=argparse.SUPPRESS
    )
    args = parser.parse_args(argv)
    for opt in ("size", "threads", "repeats", "train_repeats", "train_batch", "out_channels"):
        if getattr(args, opt) < 1:
            parser.error(f"--{opt.replace('_', '-')} must be >= 1, got {getattr(args, opt)}")

    if args.child and args.child_mode == "interleaved":
        print(
            json.dumps(
                interleaved_latency(args.child.split(","), args.size, args.threads, args.repeats, args.out_channels)
            )
        )
        return 0
    if args.child:
        rec = measure(
            args.child, args.child_mode, args.size, args.threads, args.repeats, args.train_batch, args.out_channels,
            autocast=args.autocast, channels_last=args.channels_last,
        )
        print(json.dumps(rec))
        return 0

    import networks

    valid = [*networks.available_networks(), REFERENCE_NAME]
    # the target comparison first and back to back, so its ratios see the same machine load
    first = ["transformer_unet", REFERENCE_NAME, "unetr"]
    default = first + [n for n in valid if n not in first]
    names = default if args.networks is None else [n.strip() for n in args.networks.split(",") if n.strip()]
    unknown = [n for n in names if n not in valid]
    if unknown or not names:
        parser.error(f"unknown network(s) {unknown}; valid: {', '.join(valid)}")

    record = {
        **host_record(args.threads),
        "size": args.size,
        "out_channels": args.out_channels,
        "repeats": args.repeats,
        "train_repeats": args.train_repeats,
        "train_batch": args.train_batch,
        "train_autocast": None if args.autocast == "none" else args.autocast,
        "train_channels_last": args.channels_last,
        "memory": "growth of peak RSS (ru_maxrss) over the timed runs, per subprocess",
        "results": [],
    }
    rows = []
    for name in names:
        row: dict[str, Any] = {"network": name}
        for mode in ("infer",) + (() if args.no_train else ("train",)):
            print(f"[benchmark_networks] {name} {mode} ...", file=sys.stderr, flush=True)
            rec = _run_child(args, name, mode)
            if "error" in rec:
                row[f"error_{mode}"] = rec["error"]
                continue
            for key, val in rec.items():
                if key in ("network", "mode"):
                    continue
                if key.startswith("peak_rss"):
                    key = f"{key}_{mode}"
                row[key] = val
        rows.append(row)
    record["results"] = rows
    record["targets"] = TARGETS
    record["target_checks"] = _ratios(rows)
    trio = ["transformer_unet", REFERENCE_NAME, "unetr"]
    if all(n in names for n in trio):
        print("[benchmark_networks] interleaved latency of the target trio ...", file=sys.stderr, flush=True)
        inter = _run_child(args, ",".join(trio), "interleaved")
        record["interleaved_latency_ms"] = inter
        if "error" not in inter:
            tu = inter["transformer_unet"]["median_ms"]
            checks = record["target_checks"]
            checks["interleaved_latency_vs_unet_ref"] = tu / inter[REFERENCE_NAME]["median_ms"]
            checks["interleaved_latency_vs_unetr"] = tu / inter["unetr"]["median_ms"]
            checks["interleaved_latency_vs_unet_ref_ok"] = (
                checks["interleaved_latency_vs_unet_ref"] <= TARGETS["max_latency_vs_unet_ref"]
            )
            checks["interleaved_latency_vs_unetr_ok"] = (
                checks["interleaved_latency_vs_unetr"] <= TARGETS["max_latency_vs_unetr"]
            )

    print(
        f"Host {record['host']} ({record['cpu']}, {record['cpu_count']} CPUs), threads {args.threads}, "
        f"torch {record['torch']}, MONAI {record['monai']}, Python {record['python']}, input 3x{args.size}^2, "
        f"load average at start {tuple(round(v, 2) for v in record['load_average_at_start'])}"
    )
    print(_table(rows))
    if "interleaved_latency_ms" in record and "error" not in record["interleaved_latency_ms"]:
        print(
            "Interleaved b1 latency (ms, median / min):",
            ", ".join(
                f"{n} {v['median_ms']:.1f} / {v['min_ms']:.1f}" for n, v in record["interleaved_latency_ms"].items()
            ),
        )
    print("Target checks (transformer_unet):", json.dumps(record["target_checks"], indent=1))
    if args.json:
        from custom_transforms.safe_files import atomic_write_text

        args.json.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(args.json, json.dumps(record, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
