# Copyright (c) 2026 Renogram parenchyma bundle contributors.
# Licensed under the Apache License, Version 2.0 (http://www.apache.org/licenses/LICENSE-2.0).
"""Which image the network sees under each protocol: the paper's frame-count rule against fixed time windows.

Usage::

    python -m scripts.compare_fusion_rules                        # 24 clinical-mix patients x 5 protocols
    python -m scripts.compare_fusion_rules --patients 8 --json rules.json

Simulates the same patients (clinical mix, 128x128, no motion) under every clinical protocol and prints, per rule,
the time window of the selected fused image under each protocol, how much the network input of one patient changes
between protocols, and the parenchyma-to-background and parenchyma-to-pelvis contrast of that image (see
:mod:`scripts.comparison.fusion_rules`). The bundle's rule (``window_s`` 120, ``fused_index`` 0: minutes 1-3) was
chosen from this measurement; the README gives the table. Not timed: the figures do not depend on the machine.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from custom_transforms.safe_files import atomic_write_json
from scripts.comparison.fusion_rules import RULES, measure_rules, rules_table
from scripts.simulation.batch import SimulationOptions, study_config
from scripts.simulation.mixes import get_mix


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point (see the module docstring)."""
    p = argparse.ArgumentParser(prog="python -m scripts.compare_fusion_rules", description=__doc__.split("\n")[0])
    p.add_argument("--patients", type=int, default=24, help="simulated patients (default 24)")
    p.add_argument("--seed", type=int, default=7, help="simulation seed (default 7)")
    p.add_argument("--json", type=Path, help="also write the figures to this JSON file")
    args = p.parse_args(argv)
    if args.patients < 1:
        p.exit(2, "compare_fusion_rules: error: --patients must be >= 1\n")
    protocols = list(get_mix("clinical").protocols)
    opts = SimulationOptions(out="", seed=args.seed, study_mix="clinical", matrices=(128,))
    result = measure_rules((study_config(i, opts) for i in range(args.patients)), protocols, RULES)
    print(f"{result['patients']} patients (clinical mix, seed {args.seed}, 128x128) x {len(protocols)} protocols")
    print(rules_table(result))
    if args.json is not None:
        try:
            atomic_write_json(args.json, result)
        except OSError as exc:
            print(f"compare_fusion_rules: error: {args.json}: cannot be written ({exc.strerror or exc})",
                  file=sys.stderr)
            return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
