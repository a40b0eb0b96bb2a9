# Copyright (c) 2026 Renogram parenchyma bundle contributors.
# Licensed under the Apache License, Version 2.0 (http://www.apache.org/licenses/LICENSE-2.0).
"""MONAI's bundle checks (``verify_metadata``, ``verify_net_in_out``, ``ckpt_export``) on an exported bundle.

They run from outside the repository, so that they prove the export (:mod:`scripts.bundle_tools.export`) is
self-contained.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from scripts.bundle_tools.export import REPO_ROOT

__all__ = ["DEFAULT_SCHEMAS", "check_exported_training_rule", "verify_bundle"]

#: offline copies of the metadata schemas: the one ``metadata.json`` names (20220324) and the newer 20240725 one.
DEFAULT_SCHEMAS = tuple(
    REPO_ROOT.parent / "shared" / "monai_bundle_schema" / name
    for name in ("meta_schema_20220324.json", "meta_schema_20240725.json")
)


#: run in the exported bundle (its own code packages on ``sys.path``): its weights against its inference.json ids.
_RULE_CHECK = """
import sys
from monai.bundle import ConfigParser
from custom_transforms.checkpoints import TRAINING_RULE_IDS, check_training_rule
from custom_transforms.errors import RenogramInputError
parser = ConfigParser()
parser.read_config("configs/inference.json")
parser["bundle_root"] = sys.argv[1]
try:
    ids = {k: parser.get_parsed_content(k) for k in TRAINING_RULE_IDS if k in parser}
    rule = check_training_rule("models/model.pt", ids)
except RenogramInputError as exc:
    print(exc, file=sys.stderr)
    sys.exit(2)
print("training rule: " + ("ok" if rule else "not recorded in models/model.pt"))
"""


def check_exported_training_rule(bundle: str | os.PathLike) -> str:
    """Check that an exported bundle's ``models/model.pt`` was trained by the rule of its ``configs/inference.json``.

    ``ckpt_export`` (TorchScript) and MONAI Label build the network and preprocessing from the exported configs
    without the config's ``initialize`` check, so the pair is checked here, in a subprocess that imports the bundle's
    own copy of the code (the repository is not on ``sys.path``).

    Returns:
        ``"training rule: ok"``, or ``"training rule: not recorded in models/model.pt"`` for weights without a record.

    Raises:
        RuntimeError: an id differs; the message is the one line of
            :func:`custom_transforms.checkpoints.check_training_rule` (the weights file and each id).
    """
    bundle = Path(bundle).resolve()
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["PYTHONPATH"] = str(bundle)
    proc = subprocess.run([sys.executable, "-c", _RULE_CHECK, str(bundle)], cwd=bundle, env=env, capture_output=True,
                          text=True)
    if proc.returncode != 0:
        lines = proc.stderr.strip().splitlines()
        one_line = lines and lines[-1].startswith("models/")
        raise RuntimeError(f"{bundle}/{lines[-1]}" if one_line else proc.stderr[-3000:])
    return proc.stdout.strip().splitlines()[-1]


def verify_bundle(bundle: str | os.PathLike, schemas: list[str | os.PathLike] | None = None) -> None:
    """Run MONAI's ``verify_metadata``, ``verify_net_in_out`` and ``ckpt_export`` on an exported bundle, from outside
    the repository.

    The checks run in a subprocess whose working directory is the bundle, with the repository *not* on ``sys.path``,
    so they prove the export is self-contained.

    Raises:
        RuntimeError: a check failed; the message holds the tool's output.
    """
    bundle = Path(bundle).resolve()
    schemas = [Path(s) for s in schemas] if schemas else list(DEFAULT_SCHEMAS)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["PYTHONPATH"] = str(bundle)
    with tempfile.TemporaryDirectory(prefix="renogram_verify_") as scratch:  # TorchScript file, schema copies
        checks = [
            ["verify_net_in_out", "--net_id", "network_def", "--meta_file", "configs/metadata.json",
             "--config_file", "configs/inference.json", "--bundle_root", str(bundle)],
        ]
        if (bundle / "models" / "model.pt").is_file():
            print(check_exported_training_rule(bundle))
            # --key_in_ckpt model: with the default "" MONAI copies nothing from {"model": ..., "settings": ...} and
            # exports the untrained network silently; "model" also loads a plain state_dict (Ignite's load_objects)
            checks.append(["ckpt_export", "network_def", "--filepath", str(Path(scratch) / "model.ts"),
                           "--ckpt_file", "models/model.pt", "--key_in_ckpt", "model", "--meta_file",
                           "configs/metadata.json",
                           "--config_file", "configs/inference.json", "--bundle_root", str(bundle)])
        for i, schema in enumerate(reversed(schemas)):
            if not schema.is_file():
                print(f"warning: {schema} not found; skipping verify_metadata against it", file=sys.stderr)
                continue
            # with the file already present MONAI skips the download, so this works offline
            tmp_schema = Path(scratch) / f"schema{i}" / schema.name
            tmp_schema.parent.mkdir()
            shutil.copy2(schema, tmp_schema)
            checks.insert(0, ["verify_metadata", "--meta_file", "configs/metadata.json", "--filepath", str(tmp_schema)])
        for check in checks:
            proc = subprocess.run([sys.executable, "-m", "monai.bundle", *check], cwd=bundle, env=env,
                                  capture_output=True, text=True)
            if proc.returncode != 0:
                raise RuntimeError(
                    f"{bundle}: monai.bundle {check[0]} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
                )
            print(f"{check[0]}{' ' + Path(check[-1]).name if check[0] == 'verify_metadata' else ''}: ok")
