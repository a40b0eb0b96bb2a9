# Copyright (c) 2026 Renogram parenchyma bundle contributors.
# Licensed under the Apache License, Version 2.0 (http://www.apache.org/licenses/LICENSE-2.0).
"""The README's main job: simulate studies, build the dataset, train, evaluate, segment and report, end to end.

Each step runs the project's own command (printed before it runs), so the quick start doubles as a worked example:

1. ``scripts.simulate``: synthetic pediatric MAG3/DTPA studies of the clinical mix with exact truth (skipped when the
   folder has them);
2. ``scripts.prepare_dataset``: the bundle's preprocessing (minutes 1-3 fused, JET), PNGs + labels + patient-level
   split;
3. ``monai.bundle run`` with ``bundle/configs/train.json``: a demo training budget (by default it fine-tunes the shipped
   weights, so the outputs look like the real model's; ``--from-scratch`` trains from random weights);
4. ``train.json`` + ``evaluate.json``: metrics on the test split, on the 384² grid and on the native matrix;
5. ``inference.json`` on the test studies' DICOM files: native-grid masks and overlays;
6. ``scripts.renal_function`` on one test study: the clinical renogram report.

Usage::

    python -m scripts.quickstart                      # everything under outputs/quickstart/
    python -m scripts.quickstart --epochs 1 --studies 12 --out /tmp/qs

``--out`` holds only outputs (``dataset/``, ``models/`` and ``inference_inputs/`` are replaced on every run), so it
may not be, contain or lie inside ``--studies-dir`` or the repository's ``bundle/``: that is refused before anything
runs (exit code 2, one line on stderr). A failed step stops the quick start with its log's tail (exit code 1).
"""

from __future__ import annotations

import argparse
import json
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path

__all__ = ["main"]

REPO_ROOT = Path(__file__).resolve().parents[1]
BUNDLE = REPO_ROOT / "bundle"


def _run(cmd: list[str], log: Path, skip_list: Path | None = None) -> None:
    """Run one step, echo it, append its output to ``log``; stop the quick start if it fails.

    A step that processes a folder exits 2 when it skipped some inputs but wrote the others; with ``skip_list`` (the
    step's ``skipped.json``) present, the quick start goes on with the good ones and says how many were skipped.
    """
    print("$ " + " ".join(shlex.quote(c) for c in cmd), flush=True)
    start = time.monotonic()
    with open(log, "a", encoding="utf-8") as out:
        out.write("$ " + " ".join(shlex.quote(c) for c in cmd) + "\n")
        out.flush()
        proc = subprocess.run(cmd, cwd=REPO_ROOT, stdout=out, stderr=subprocess.STDOUT)
    if proc.returncode == 2 and skip_list is not None and skip_list.is_file():
        skipped = json.loads(skip_list.read_text(encoding="utf-8")).get("skipped", [])
        print(f"  warning: {len(skipped)} input(s) skipped, reasons in {skip_list}", flush=True)
    elif proc.returncode != 0:
        tail = log.read_text(encoding="utf-8", errors="replace").splitlines()[-25:]
        print("\n".join(tail), file=sys.stderr)
        raise SystemExit(f"error: step failed (exit {proc.returncode}); full log: {log}")
    print(f"  done in {time.monotonic() - start:.0f} s", flush=True)


def _mask_has_kidney(path: Path) -> bool:
    import numpy as np
    from PIL import Image

    return path.is_file() and bool(np.asarray(Image.open(path)).any())


def _bundle_cmd(configs: list[str], **overrides: object) -> list[str]:
    files = [str(BUNDLE / "configs" / c) for c in configs]
    config_arg = files[0] if len(files) == 1 else "[" + ",".join(repr(f) for f in files) + "]"
    cmd = [sys.executable, "-m", "monai.bundle", "run", "--config_file", config_arg,
           "--meta_file", str(BUNDLE / "configs" / "metadata.json"),
           "--logging_file", str(BUNDLE / "configs" / "logging.conf"), "--bundle_root", str(BUNDLE)]
    for key, value in overrides.items():
        cmd += [f"--{key}", str(value)]
    return cmd


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m scripts.quickstart", description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default="outputs/quickstart", help="output folder (default outputs/quickstart)")
    parser.add_argument("--studies-dir", default="data/sim", help="simulated studies; created when empty (default data/sim)")
    parser.add_argument("--studies", type=int, default=40, help="studies to simulate when none exist (default 40)")
    parser.add_argument("--seed", type=int, default=0, help="simulation and split seed (default 0)")
    parser.add_argument("--epochs", type=int, default=4, help="demo training epochs (default 4)")
    parser.add_argument("--from-scratch", action="store_true", help="train from random weights, not the shipped model")
    parser.add_argument("--infer-limit", type=int, default=4, help="test studies to segment (default 4)")
    args = parser.parse_args(argv)
    if args.studies <= 0 or args.epochs <= 0 or args.infer_limit <= 0:
        parser.error("--studies, --epochs and --infer-limit must be positive")

    from custom_transforms.safe_files import OutputOverlapError, check_output_separate

    out = (REPO_ROOT / args.out).resolve()
    studies = (REPO_ROOT / args.studies_dir).resolve()
    try:  # out/models, out/dataset and out/inference_inputs are replaced: never let that reach an input
        check_output_separate(out, [studies, BUNDLE], consequence="its dataset, models and inputs would be replaced")
        out.mkdir(parents=True, exist_ok=True)
        log = out / "quickstart.log"
        log.write_text("", encoding="utf-8")
    except OutputOverlapError as exc:
        print(f"quickstart: error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"quickstart: error: {args.out}: --out cannot be written ({exc.strerror or exc})", file=sys.stderr)
        return 2
    py = sys.executable
    t0 = time.monotonic()

    print(f"[1/6] studies in {studies}", flush=True)
    if (studies / "studies.csv").is_file() and any(studies.glob("*/study.dcm")):
        print("  found existing studies, not simulating", flush=True)
    else:
        _run([py, "-m", "scripts.simulate", "--out", str(studies), "--studies", str(args.studies),
              "--seed", str(args.seed), "--workers", "2", "--no-progress"], log)

    print("[2/6] preprocessing (minutes 1-3 fused, JET) -> PNG dataset", flush=True)
    dataset = out / "dataset"
    _run([py, "-m", "scripts.prepare_dataset", "--studies", str(studies), "--out", str(dataset),
          "--seed", str(args.seed), "--overwrite", "--quiet"], log, skip_list=dataset / "skipped.json")

    print(f"[3/6] training ({args.epochs} epochs, demo budget)", flush=True)
    models = out / "models"
    if models.exists():
        shutil.rmtree(models)
    models.mkdir(parents=True)
    shipped = BUNDLE / "models" / "model.pt"
    init = {}
    if not args.from_scratch and shipped.is_file():
        shutil.copy2(shipped, models / "model_init.pt")
        init = {"initial_weights": str(models / "model_init.pt")}
        print(f"  fine-tuning the shipped weights {shipped.relative_to(REPO_ROOT)}", flush=True)
    _run(_bundle_cmd(["train.json"], dataset_dir=dataset, ckpt_dir=models, output_dir=out / "train",
                     max_epochs=args.epochs, num_workers=0, resume=False, **init), log)

    print("[4/6] evaluation on the test split", flush=True)
    _run(_bundle_cmd(["train.json", "evaluate.json"], dataset_dir=dataset, ckpt_dir=models,
                     output_dir=out / "eval", num_workers=0), log)

    print("[5/6] inference on test-split DICOM studies", flush=True)
    splits = json.loads((dataset / "splits.json").read_text(encoding="utf-8"))
    test_ids = list(splits.get("test") or splits.get("validation") or [])[: args.infer_limit]
    if not test_ids:
        raise SystemExit(f"error: {dataset / 'splits.json'} has no test or validation study; simulate more (--studies)")
    inputs = out / "inference_inputs"
    if inputs.exists():
        shutil.rmtree(inputs)
    inputs.mkdir()
    for study_id in test_ids:
        (inputs / f"{study_id}.dcm").symlink_to(studies / study_id / "study.dcm")
    _run(_bundle_cmd(["inference.json"], dataset_dir=inputs, ckpt_dir=models, output_dir=out / "inference"), log)

    print("[6/6] clinical renogram report for one test study", flush=True)
    first = test_ids[0]
    mask = out / "inference" / f"{first}_mask.png"
    report_cmd = [py, "-m", "scripts.renal_function", str(studies / first / "study.dcm"), "--out",
                  str(out / "report" / first), "--mask", str(mask)]
    if init or _mask_has_kidney(mask):
        _run(report_cmd, log)
    else:
        # a few epochs from random weights may find no kidney yet; that is the demo budget, not a pipeline failure
        print(f"  skipped: the from-scratch demo model found no kidney in {mask.name}; train longer "
              "(--epochs) or fine-tune the shipped weights (drop --from-scratch)", flush=True)

    summary = json.loads((out / "eval" / "summary.json").read_text(encoding="utf-8"))
    print(f"\nfinished in {(time.monotonic() - t0) / 60:.1f} min. Outputs in {out}:")
    print(f"  dataset            {dataset}  (datalist.json, images/, labels/)")
    print(f"  trained model      {models / 'model.pt'}  (TensorBoard: tensorboard --logdir {out / 'train'})")
    print(f"  test metrics       {out / 'eval' / 'summary.json'}  (+ metrics_per_image.csv)")
    print(f"  masks + overlays   {out / 'inference'}")
    print(f"  renogram report    {out / 'report' / first}  (report.png, report.json, curves.csv)")
    print(f"  log                {log}")
    mean = summary.get("mean") or summary.get("network_grid", {}).get("mean") or {}
    if mean:
        print("  test-split means: " + ", ".join(f"{k} {v:.3f}" for k, v in mean.items() if isinstance(v, float)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
