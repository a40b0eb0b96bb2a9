# Copyright (c) 2026 Renogram parenchyma bundle contributors.
# Licensed under the Apache License, Version 2.0 (http://www.apache.org/licenses/LICENSE-2.0).
"""Throughput of the renogram preprocessing on one CPU core: studies per second through
load -> drop the first minute -> fuse 7 frames -> pseudocolor -> resize to 384x384.

Usage::

    python -m scripts.benchmark_preprocessing                       # paper protocol: 60 x 1 s + 76 x 15 s at 128x128
    python -m scripts.benchmark_preprocessing --dicom study.dcm     # a real file instead of the synthetic ones
    python -m scripts.benchmark_preprocessing --json bench.json     # also write the record as JSON

By default it writes ``--n-files`` synthetic NM DICOM files of the paper's 136-frame protocol (Poisson counts, the
loader does not care about content), pins the process to one CPU, sets torch/OpenCV to one thread, warms up, then
times ``--repeats`` passes over the files, for every fused image ("all") and for the two labelled ones (1 2). The
files sit in the OS page cache after the warm-up, so disk speed is not measured. It prints studies per wall-clock second
and per CPU-second of the process (the two agree on an idle core; on a shared machine the CPU-second figure is what a
dedicated core would give), the load average, and a JSON record with host, CPU, versions and thread count (nnU-Net's
benchmark discipline).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from scripts.benchmarking.host import host_record

__all__ = ["PAPER_PROTOCOL", "write_protocol_dicom", "run_benchmark", "main"]

#: the paper's 136-frame protocol as phases of (frames, frame duration in ms): 60 x 1 s + 76 x 15 s (20 min).
PAPER_PROTOCOL = ((60, 1000), (76, 15000))


def write_protocol_dicom(path: Path, matrix: int, protocol=PAPER_PROTOCOL, seed: int = 0) -> Path:
    """Write a minimal NM multi-frame dynamic study (PhaseInformationSequence timing, uint16 Poisson counts).

    Own minimal writer (pydicom), so the benchmark needs neither the simulator nor the test fixtures. The file is a
    temporary input of the timing, deleted with it, never handed to a user or a PACS: it deliberately holds only what
    the reader needs (so it times the reader's minimal path) and is not a complete NM IOD (dciodvfy lists its missing
    Type 1/2 attributes); every DICOM object the project delivers (the simulator's NM, SEG, report) is validated.
    """
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.sequence import Sequence
    from pydicom.uid import ExplicitVRLittleEndian, generate_uid

    n = sum(f for f, _ in protocol)
    rng = np.random.default_rng(seed)
    durations_s = np.concatenate([[ms / 1000.0] * f for f, ms in protocol])
    frames = rng.poisson(2.0 * durations_s[:, None, None], size=(n, matrix, matrix)).astype(np.uint16)
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.20"
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID, ds.SOPInstanceUID = meta.MediaStorageSOPClassUID, meta.MediaStorageSOPInstanceUID
    ds.Modality = "NM"
    ds.ImageType = ["ORIGINAL", "PRIMARY", "DYNAMIC", "EMISSION"]
    ds.PatientID, ds.PatientAge = f"BENCH{seed}", "006Y"
    ds.NumberOfFrames, ds.Rows, ds.Columns = n, matrix, matrix
    ds.PixelSpacing = [3.0, 3.0]
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 0
    ds.NumberOfPhases = len(protocol)
    items = []
    for f, ms in protocol:
        it = Dataset()
        it.NumberOfFramesInPhase, it.ActualFrameDuration, it.PhaseDelay, it.PauseBetweenFrames = f, ms, 0, 0
        items.append(it)
    ds.PhaseInformationSequence = Sequence(items)
    ds.PixelData = frames.tobytes()
    ds.save_as(path, enforce_file_format=True)
    return path


def run_benchmark(files: list[Path], fused: list[int] | None, size: int, repeats: int) -> dict[str, float]:
    """Time the preprocessing over ``files`` ``repeats`` times; ``fused=None`` processes every fused image.

    Returns studies/s, fused images/s and the mean seconds per study of each stage.
    """
    from monai.transforms import Resize

    from custom_transforms import DropEarlyFrames, FrameFusion, LoadDynamicStudy, Pseudocolor, SelectFusedImages

    load, drop, fuse = LoadDynamicStudy(), DropEarlyFrames(60.0), FrameFusion(7)
    color, resize = Pseudocolor("jet"), Resize((size, size), mode="bilinear", anti_aliasing=False)
    stages = {"load": 0.0, "drop_fuse": 0.0, "pseudocolor": 0.0, "resize": 0.0}
    n_images = 0
    clock = time.perf_counter
    cpu_start = time.process_time()
    start = clock()
    for _ in range(repeats):
        for f in files:
            t0 = clock()
            study = load(f)
            t1 = clock()
            stack = fuse(drop(study))
            t2 = clock()
            indices = range(stack.shape[0]) if fused is None else fused
            for k in indices:
                t3 = clock()
                img = color(SelectFusedImages(k)(stack))
                t4 = clock()
                out = resize(img)
                t5 = clock()
                stages["pseudocolor"] += t4 - t3
                stages["resize"] += t5 - t4
                n_images += 1
            stages["load"] += t1 - t0
            stages["drop_fuse"] += t2 - t1
            assert out.shape == (3, size, size)
    total = clock() - start
    cpu_total = time.process_time() - cpu_start
    n_studies = repeats * len(files)
    return {
        "studies_per_s": n_studies / total,
        "studies_per_cpu_s": n_studies / cpu_total,
        "cpu_utilisation": cpu_total / total,
        "fused_images_per_s": n_images / total,
        "fused_images_per_study": n_images / n_studies,
        "seconds_total": total,
        "studies_timed": n_studies,
        **{f"s_per_study_{k}": v / n_studies for k, v in stages.items()},
    }


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point; prints the figures and a JSON record."""
    p = argparse.ArgumentParser(prog="python -m scripts.benchmark_preprocessing", description=__doc__.split("\n\n")[0])
    p.add_argument("--dicom", default=None, help="benchmark this study file instead of synthetic ones")
    p.add_argument("--matrix", type=int, default=128, help="synthetic matrix size (default 128)")
    p.add_argument("--n-files", type=int, default=4, help="synthetic files to cycle through (default 4)")
    p.add_argument("--repeats", type=int, default=10, help="timed passes over the files (default 10)")
    p.add_argument("--size", type=int, default=384, help="output size (default 384)")
    p.add_argument("--threads", type=int, default=1, help="torch/OpenCV threads and pinned CPUs (default 1)")
    p.add_argument("--json", default=None, help="also write the record to this JSON file")
    args = p.parse_args(argv)
    if args.threads < 1 or args.repeats < 1 or args.n_files < 1 or args.matrix < 8:
        p.error("--threads, --repeats, --n-files must be >= 1 and --matrix >= 8")

    if hasattr(os, "sched_setaffinity"):
        allowed = sorted(os.sched_getaffinity(0))
        os.sched_setaffinity(0, set(allowed[: args.threads]))
    import cv2
    import torch

    torch.set_num_threads(args.threads)
    cv2.setNumThreads(args.threads)

    with tempfile.TemporaryDirectory() as tmp:
        if args.dicom:
            files = [Path(args.dicom)]
            if not files[0].exists():
                print(f"benchmark_preprocessing: error: {files[0]}: no such file", file=sys.stderr)
                return 2
            source = str(files[0])
        else:
            files = [write_protocol_dicom(Path(tmp) / f"s{i}.dcm", args.matrix, seed=i) for i in range(args.n_files)]
            source = f"synthetic {sum(f for f, _ in PAPER_PROTOCOL)}-frame protocol 60x1s+76x15s at {args.matrix}^2"
        run_benchmark(files, None, args.size, 1)  # warm-up (imports, page cache, allocator)
        results = {
            "all_fused": run_benchmark(files, None, args.size, args.repeats),
            "fused_1_2": run_benchmark(files, [1, 2], args.size, args.repeats),
        }
    record = {
        "benchmark": "preprocessing",
        "source": source,
        "output_size": args.size,
        **host_record(args.threads),
        "load_average": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
        "results": results,
    }
    for name, r in results.items():
        print(
            f"{name}: {r['studies_per_s']:.1f} studies/s wall-clock, {r['studies_per_cpu_s']:.1f} per CPU-second "
            f"(CPU share {100 * r['cpu_utilisation']:.0f} %; {r['fused_images_per_study']:.0f} fused images per study, "
            f"{r['fused_images_per_s']:.0f} images/s) on {args.threads} thread(s); per study: "
            f"load {1e3 * r['s_per_study_load']:.1f} ms, drop+fuse {1e3 * r['s_per_study_drop_fuse']:.1f} ms, "
            f"pseudocolor {1e3 * r['s_per_study_pseudocolor']:.1f} ms, resize {1e3 * r['s_per_study_resize']:.1f} ms"
        )
    print(json.dumps(record, indent=2))
    if args.json:
        from custom_transforms.safe_files import atomic_write_text

        atomic_write_text(args.json, json.dumps(record, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
