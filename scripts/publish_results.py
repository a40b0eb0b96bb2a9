# Copyright (c) 2026 Renogram parenchyma bundle contributors.
# Licensed under the Apache License, Version 2.0 (http://www.apache.org/licenses/LICENSE-2.0).
"""Write the shipped model's test figures from one evaluation into the bundle's results, metadata and documents.

Usage::

    python -m monai.bundle run --config_file "['bundle/configs/train.json','bundle/configs/evaluate.json']" \\
        --bundle_root bundle --dataset_dir data/dataset --ckpt_dir bundle/models --output_dir runs/eval
    python -m scripts.publish_results --eval-dir runs/eval
    python -m scripts.publish_results --check          # exit 1 if a document's figures differ from the shipped summary

Copies ``summary.json``, ``metrics_per_image.csv`` and ``subgroups.md`` into ``bundle/docs/results/``, sets
``bundle/configs/metadata.json`` ``eval_metrics`` from the summary's means, and rewrites the
``<!-- results:segmentation -->`` and ``<!-- results:subgroups -->`` blocks of ``README.md`` and
``bundle/docs/README.md`` (:mod:`scripts.bundle_tools.results`), so the model card, the README and the metadata
always show the same numbers. Exit status: 0 done (or in step with ``--check``), 1 ``--check`` found stale blocks,
2 bad input (one line naming the file).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from scripts.bundle_tools.results import publish, stale_blocks

REPO = Path(__file__).resolve().parents[1]
DOCUMENTS = (REPO / "README.md", REPO / "bundle" / "docs" / "README.md")
RESULTS = REPO / "bundle" / "docs" / "results"
METADATA = REPO / "bundle" / "configs" / "metadata.json"


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point (see the module docstring)."""
    p = argparse.ArgumentParser(prog="python -m scripts.publish_results", description=__doc__.split("\n")[0])
    group = p.add_mutually_exclusive_group(required=True)
    group.add_argument("--eval-dir", type=Path, help="output folder of an evaluate.json run (holds summary.json)")
    group.add_argument("--check", action="store_true", help="only compare the documents with the shipped summary")
    args = p.parse_args(argv)
    if args.check:
        summary = json.loads((RESULTS / "summary.json").read_text(encoding="utf-8"))
        stale = {str(d.relative_to(REPO)): stale_blocks(d, summary) for d in DOCUMENTS}
        stale = {d: names for d, names in stale.items() if names}
        for doc, names in stale.items():
            print(f"publish_results: {doc}: block(s) {', '.join(names)} differ from {RESULTS / 'summary.json'}")
        return 1 if stale else 0
    if args.eval_dir.resolve() == RESULTS.resolve():
        p.exit(2, f"publish_results: error: {args.eval_dir}: is the shipped results folder itself\n")
    try:
        done = publish(args.eval_dir, RESULTS, METADATA, DOCUMENTS)
    except (ValueError, OSError) as exc:
        print(f"publish_results: error: {exc}", file=sys.stderr)
        return 2
    print(f"publish_results: copied {', '.join(done['copied']) or 'nothing'} into {RESULTS}; eval_metrics "
          f"{len(done['eval_metrics'])} values; blocks " + "; ".join(f"{Path(d).relative_to(REPO)}: {', '.join(n)}"
                                                                  for d, n in done["blocks"].items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
