# Copyright (c) 2026 Renogram parenchyma bundle contributors.
# Licensed under the Apache License, Version 2.0 (http://www.apache.org/licenses/LICENSE-2.0).
"""Serve the exported renal-parenchyma bundle with MONAI Label on a folder of fused PNG images, offline.

MONAI Label 0.8.5 cannot share the project's ``.venv`` (it needs numpy<2, pydicom 2.x and torchvision), so it lives in
its own virtual environment outside the repository, ``$RENOGRAM_MONAILABEL_VENV`` (default
``~/.cache/renogram/monailabel-venv``), installed from ``scripts/monailabel_requirements.txt``.

Usage (any Python 3.11, from the repository root)::

    python3.11 -m scripts.monailabel_app setup                 # create or reuse the venv (first time ~3 min, 8 GB)
    python3.11 -m scripts.monailabel_app start --studies DIR   # export the bundle, serve DIR on 127.0.0.1:8000
    python3.11 -m scripts.monailabel_app start --studies DIR --port 8123 --random-weights   # no trained model.pt yet

``start`` copies MONAI Label's ``monaibundle`` sample app into ``--workspace`` (default
``~/.cache/renogram/monailabel-workspace``), exports the bundle (:func:`scripts.bundle_tools.export.export_bundle`) to
``<workspace>/monaibundle/model/<name>/`` and runs ``python -m monailabel.main start_server`` in the foreground with
``zoo_source local`` and ``sam2 false``; without those two settings MONAI Label downloads a model index and SAM2
weights at start-up and fails offline. ``DIR`` holds the fused PNG images (image id = file name without extension);
labels saved from a client land in ``DIR/labels/final/<id>.png``. Training from the client updates
``<workspace>/monaibundle/model/<name>/models/model.pt``, never the repository's bundle; a later ``start`` refreshes
the configs and code but keeps those weights (``--replace-weights`` moves them aside and serves the bundle's).
A workspace whose ``monaibundle/`` is, contains or lies inside ``DIR`` or the source bundle is refused (exit code 2,
one line on stderr) before anything is installed or replaced.

MONAI Label has the app download and the server; what it lacks (and this module adds) is the separate environment, the
bundle export into the app and the offline settings.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

# safe_files needs only the standard library: this command runs under a bare interpreter before its venv exists
from custom_transforms import safe_files

__all__ = [
    "DEFAULT_MODEL_NAME",
    "DEFAULT_VENV",
    "DEFAULT_WORKSPACE",
    "OFFLINE_CONF",
    "REQUIREMENTS",
    "check_weights",
    "check_workspace",
    "prepare_app",
    "server_command",
    "server_env",
    "setup_venv",
    "venv_python",
    "write_random_weights",
    "main",
]

REPO_ROOT = Path(__file__).resolve().parents[1]
#: pinned packages of MONAI Label's own environment.
REQUIREMENTS = REPO_ROOT / "scripts" / "monailabel_requirements.txt"
_CACHE = Path(os.path.expanduser("~")) / ".cache" / "renogram"
#: MONAI Label's virtual environment (outside the repository).
DEFAULT_VENV = Path(os.environ.get("RENOGRAM_MONAILABEL_VENV", _CACHE / "monailabel-venv"))
#: folder that receives the sample app with the exported bundle.
DEFAULT_WORKSPACE = Path(os.environ.get("RENOGRAM_MONAILABEL_WORKSPACE", _CACHE / "monailabel-workspace"))
#: model name in MONAI Label's REST API and clients. It must not contain deepedit/deepgrow/detection/classification,
#: which switch MONAI Label's task type.
DEFAULT_MODEL_NAME = "renal_parenchyma"
#: ``--conf`` pairs without which the monaibundle app reaches the internet at start-up (model-zoo index, SAM2 weights).
OFFLINE_CONF = (("zoo_source", "local"), ("sam2", "false"))
_STAMP = ".renogram-requirements.sha256"
_FORBIDDEN_NAME_PARTS = ("deepedit", "deepgrow", "detection", "classification")


def venv_python(venv: str | os.PathLike = DEFAULT_VENV) -> Path:
    """Path of the interpreter of ``venv``."""
    return Path(venv) / "bin" / "python"


def _requirements_digest(requirements: Path) -> str:
    return hashlib.sha256(requirements.read_bytes()).hexdigest()


def setup_venv(
    venv: str | os.PathLike = DEFAULT_VENV,
    requirements: str | os.PathLike = REQUIREMENTS,
    python: str = "python3.11",
    quiet: bool = True,
) -> Path:
    """Create MONAI Label's virtual environment, or reuse it when it already holds ``requirements``.

    The environment is reused when a stamp file inside it records the SHA-256 of ``requirements`` and ``monailabel``
    imports; otherwise ``pip install -r requirements`` runs (first time about 3 min on 2 cores, 8 GB on disk). The stamp
    is written only after a successful install and ``import monailabel.app``, so an interrupted or broken install is
    retried on the next call.

    Args:
        venv: folder of the environment. Defaults to ``$RENOGRAM_MONAILABEL_VENV`` or
            ``~/.cache/renogram/monailabel-venv``.
        requirements: pinned requirements file. Defaults to ``scripts/monailabel_requirements.txt``.
        python: interpreter that creates the environment (3.11; monailabel 0.8.5 needs ``distutils``). Defaults to
            ``"python3.11"``.
        quiet: pass ``-q`` to pip. Defaults to True.

    Returns:
        The environment's interpreter.

    Raises:
        RuntimeError: creating the environment or installing into it failed.
    """
    venv, requirements = Path(venv).expanduser(), Path(requirements)
    py = venv_python(venv)
    stamp = venv / _STAMP
    digest = _requirements_digest(requirements)
    if py.is_file() and stamp.is_file() and stamp.read_text().strip() == digest:
        if subprocess.run([str(py), "-c", "import monailabel"], capture_output=True).returncode == 0:
            return py
    if not py.is_file():
        venv.parent.mkdir(parents=True, exist_ok=True)
        _run([python, "-m", "venv", str(venv)], f"{venv}: creating the virtual environment")
    q = ["-q"] if quiet else []
    _run([str(py), "-m", "pip", "install", *q, "--upgrade", "pip"], f"{venv}: upgrading pip")
    _run([str(py), "-m", "pip", "install", *q, "-r", str(requirements)], f"{venv}: installing {requirements.name}")
    # the full app import (about 30 s) catches a broken set, e.g. pydicom 3 under monailabel 0.8.5
    _run([str(py), "-c", "import monailabel.app"], f"{venv}: importing monailabel.app after the install")
    safe_files.atomic_write_text(stamp, digest + "\n")
    return py


def _run(cmd: Sequence[str], what: str, **kwargs) -> None:
    proc = subprocess.run(list(cmd), **kwargs)
    if proc.returncode != 0:
        raise RuntimeError(f"{what} failed (exit code {proc.returncode}): {' '.join(map(str, cmd))}")


def write_random_weights(bundle: str | os.PathLike, seed: int = 0) -> Path:
    """Write seeded random weights of the bundle's ``network_def`` to ``<bundle>/models/model.pt``.

    MONAI Label silently drops a bundle without weights from ``/info/``; this lets the app start before a model is
    trained (the masks are then meaningless). Needs MONAI in the running interpreter and the bundle's code importable
    (the exported bundle's folder is put on ``sys.path``).

    Args:
        bundle: exported bundle folder (with ``configs/inference.json``).
        seed: seed of ``torch.manual_seed`` before the network is built. Defaults to 0.

    Returns:
        Path of the written state dict.
    """
    import torch
    from monai.bundle import ConfigParser

    bundle = Path(bundle).resolve()
    if str(bundle) not in sys.path:
        sys.path.insert(0, str(bundle))
    parser = ConfigParser()
    parser.read_config(str(bundle / "configs" / "inference.json"))
    parser["bundle_root"] = str(bundle)
    torch.manual_seed(seed)
    net = parser.get_parsed_content("network_def")
    out = bundle / "models" / "model.pt"
    out.parent.mkdir(parents=True, exist_ok=True)
    buf = io.BytesIO()
    torch.save(net.state_dict(), buf)
    safe_files.atomic_write_bytes(out, buf.getvalue())
    return out


def check_weights(bundle: str | os.PathLike) -> None:
    """Refuse weights trained by another rule than the bundle's ``inference.json`` ids.

    MONAI Label builds ``network_def`` and the preprocessing from ``inference.json`` and loads ``models/model.pt``
    without running the config's ``initialize`` (where ``monai.bundle run`` checks the rule), so ``start`` runs this
    in MONAI Label's environment once the weights are in place: weights trained in the app before the configs were
    refreshed, or a bundle whose weights and configs disagree, are refused instead of serving wrong masks. Weights
    without a record pass (one line on stderr). Needs MONAI and torch in the running interpreter.

    Raises:
        RenogramInputError: an id differs (one line naming ``model.pt`` and each id).
    """
    from monai.bundle import ConfigParser

    from custom_transforms.checkpoints import TRAINING_RULE_IDS, check_training_rule

    bundle = Path(bundle).resolve()
    parser = ConfigParser()
    parser.read_config(str(bundle / "configs" / "inference.json"))
    parser["bundle_root"] = str(bundle)
    check_training_rule(
        bundle / "models" / "model.pt", {k: parser.get_parsed_content(k) for k in TRAINING_RULE_IDS if k in parser}
    )


def _check_weights_in(python: str | os.PathLike, model: Path) -> None:
    """:func:`check_weights` in MONAI Label's environment (this interpreter may have no torch); one line on failure."""
    weights = model / "models" / "model.pt"
    with open(weights, "rb") as f:
        if f.read(2) != b"PK":  # not a torch.save archive: nothing recorded, and nothing MONAI Label could load
            return
    proc = subprocess.run([str(python), "-m", "scripts.monailabel_app", "check-weights", "--bundle", str(model)],
                          cwd=REPO_ROOT, capture_output=True, text=True)
    lines = proc.stderr.strip().splitlines()
    for line in lines:
        if "record no training rule" in line:
            print(line, file=sys.stderr)
    if proc.returncode != 0:
        raise ValueError(lines[-1].removeprefix("error: ") if lines else f"{weights}: could not be checked")


def check_workspace(
    workspace: str | os.PathLike, studies: str | os.PathLike | None = None, bundle_dir: str | os.PathLike | None = None
) -> None:
    """Refuse a workspace whose app folder (``<workspace>/monaibundle``, replaced when incomplete, its model folder
    replaced on every ``start``) is, contains or lies inside the studies folder or the source bundle.

    Raises:
        ValueError: the overlap (``OutputOverlapError``), naming both folders.
    """
    app = Path(workspace).expanduser().resolve() / "monaibundle"
    source = Path(bundle_dir) if bundle_dir is not None else REPO_ROOT / "bundle"
    safe_files.check_output_separate(
        app, [studies, source], "--workspace", consequence="starting the app would replace it"
    )


def prepare_app(
    workspace: str | os.PathLike,
    python: str | os.PathLike,
    name: str = DEFAULT_MODEL_NAME,
    bundle_dir: str | os.PathLike | None = None,
    random_weights: bool = False,
    replace_weights: bool = False,
    studies: str | os.PathLike | None = None,
) -> Path:
    """Copy MONAI Label's ``monaibundle`` sample app into ``workspace`` and export the bundle into it as model ``name``.

    Args:
        workspace: folder receiving ``monaibundle/``; an existing app is kept, the model folder is replaced.
        python: interpreter of MONAI Label's environment (runs ``monailabel.main apps --download``).
        name: model name (folder under ``monaibundle/model/``). Defaults to ``"renal_parenchyma"``.
        bundle_dir: source bundle. Defaults to the repository's ``bundle/``.
        random_weights: when the bundle ships no ``models/model.pt``, write seeded random weights instead of failing.
            Defaults to False.
        replace_weights: when the app already holds ``models/`` for ``name`` (e.g. trained through MONAI Label),
            move it to ``model/<name>.models-<time>/`` and serve the bundle's weights. By default the app's weights are
            kept and only configs and code are refreshed. Defaults to False.
        studies: the datastore folder, checked with :func:`check_workspace` like the source bundle. Defaults to None.

    Returns:
        The app folder ``<workspace>/monaibundle``.

    Raises:
        ValueError: ``name`` would change MONAI Label's task type or is not a plain folder name, or the app folder
            overlaps ``studies`` or the source bundle (:func:`check_workspace`), or the served weights were trained
            by another rule than the exported ``inference.json`` (:func:`check_weights`; one line naming each id).
        FileNotFoundError: the export has no ``models/model.pt`` and ``random_weights`` is False.
        RuntimeError: the app download failed.
    """
    from scripts.bundle_tools.export import export_bundle

    if not name or "/" in name or name.startswith(".") or any(p in name.lower() for p in _FORBIDDEN_NAME_PARTS):
        raise ValueError(f"model name {name!r}: must be a plain folder name without {', '.join(_FORBIDDEN_NAME_PARTS)}")
    source = Path(bundle_dir) if bundle_dir is not None else REPO_ROOT / "bundle"
    check_workspace(workspace, studies, bundle_dir)
    workspace = Path(workspace).expanduser().resolve()
    app = workspace / "monaibundle"
    model = app / "model" / name
    has_weights = (source / "models" / "model.pt").is_file() or (
        (model / "models" / "model.pt").is_file() and not replace_weights)
    if not has_weights and not random_weights:  # checked before anything is written
        raise FileNotFoundError(
            f"{source}: no models/model.pt (MONAI Label would silently drop the model); train the bundle first "
            "or pass --random-weights")
    if not (app / "main.py").is_file():
        workspace.mkdir(parents=True, exist_ok=True)
        shutil.rmtree(app, ignore_errors=True)
        _run([str(python), "-m", "monailabel.main", "apps", "--download", "--name", "monaibundle", "--output",
              str(workspace)], f"{workspace}: copying MONAI Label's monaibundle app", capture_output=True)
    # weights trained through MONAI Label wait during the export in a visible folder beside the model, so that a run
    # killed mid-export leaves them where a user (and the next start, below) finds them
    left = sorted(app.joinpath("model").glob(f"{name}.models-kept-*")) if (app / "model").is_dir() else []
    if left and not (model / "models" / "model.pt").is_file() and (left[-1] / "models" / "model.pt").is_file():
        model.mkdir(parents=True, exist_ok=True)
        shutil.rmtree(model / "models", ignore_errors=True)
        os.replace(left[-1] / "models", model / "models")
        shutil.rmtree(left[-1], ignore_errors=True)
        print(f"restored the weights an interrupted start had set aside in {left[-1]}")
    kept = None
    if (model / "models" / "model.pt").is_file():  # weights trained through MONAI Label: never silently discarded
        kept = app / "model" / f"{name}.models-kept-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}"
        kept.mkdir(parents=True)
        safe_files.apply_umask(kept, folder=True)
        os.replace(model / "models", kept / "models")
    try:
        export_bundle(model, source, overwrite=True)
    except BaseException:
        if kept is not None and not (model / "models").exists():
            model.mkdir(parents=True, exist_ok=True)
            os.replace(kept / "models", model / "models")
        raise
    if kept is not None:
        if replace_weights:
            backup = model.parent / f"{name}.models-{time.strftime('%Y%m%d-%H%M%S')}"
            os.replace(kept / "models", backup)
            print(f"previous weights moved to {backup}")
        else:
            shutil.rmtree(model / "models", ignore_errors=True)
            os.replace(kept / "models", model / "models")
            print(f"keeping the weights already in {model / 'models'} (pass --replace-weights to serve the bundle's)")
        shutil.rmtree(kept, ignore_errors=True)
    if not (model / "models" / "model.pt").is_file():
        _run([str(python), "-m", "scripts.monailabel_app", "init-weights", "--bundle", str(model)],
             f"{model}: writing random weights", cwd=REPO_ROOT)
    else:  # weights from a training run: made by the same rule as the configs served with them
        _check_weights_in(python, model)
    return app


def server_command(
    python: str | os.PathLike,
    app: str | os.PathLike,
    studies: str | os.PathLike,
    name: str = DEFAULT_MODEL_NAME,
    host: str = "127.0.0.1",
    port: int = 8000,
    conf: Sequence[tuple[str, str]] = (),
) -> list[str]:
    """Command line that starts MONAI Label on ``studies`` with only model ``name``, offline.

    ``python -m monailabel.main`` is used instead of the ``monailabel`` wrapper, which runs whatever ``python`` is on
    ``PATH``.

    Args:
        python: interpreter of MONAI Label's environment.
        app: the ``monaibundle`` app folder from :func:`prepare_app`.
        studies: folder of PNG images (the datastore).
        name: model name. Defaults to ``"renal_parenchyma"``.
        host: address to listen on. Defaults to ``"127.0.0.1"``.
        port: TCP port. Defaults to 8000.
        conf: extra ``--conf`` key/value pairs (e.g. ``("preload", "true")``).

    Returns:
        The argument list.
    """
    cmd = [str(python), "-m", "monailabel.main", "start_server", "--app", str(app), "--studies", str(studies),
           "--conf", "models", name]
    for key, value in (*OFFLINE_CONF, *conf):
        cmd += ["--conf", key, value]
    return cmd + ["--host", host, "--port", str(port)]


def server_env() -> dict[str, str]:
    """Environment for the server: no ``PYTHONPATH`` (the bundle must work from its own folder), HF hub offline."""
    env = dict(os.environ)
    env.pop("PYTHONPATH", None)  # the bundle must work from its own folder, not from the repository
    env.update({"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"})
    return env


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m scripts.monailabel_app", description=__doc__.split("\n\n")[0])
    parser.add_argument("--venv", type=Path, default=DEFAULT_VENV,
                        help="MONAI Label's virtual environment (default: $RENOGRAM_MONAILABEL_VENV or %(default)s)")
    sub = parser.add_subparsers(dest="command", required=True)
    p_setup = sub.add_parser("setup", help="create or reuse MONAI Label's virtual environment")
    p_setup.add_argument("--python", default="python3.11",
                         help="interpreter that creates the venv (default: %(default)s)")
    p_start = sub.add_parser("start", help="export the bundle into the app and start the server (foreground)")
    p_start.add_argument("--studies", type=Path, required=True, help="folder of fused PNG images (the datastore)")
    p_start.add_argument("--workspace", type=Path, default=DEFAULT_WORKSPACE,
                         help="folder for the app (default: $RENOGRAM_MONAILABEL_WORKSPACE or %(default)s)")
    p_start.add_argument("--name", default=DEFAULT_MODEL_NAME, help="model name in MONAI Label (default: %(default)s)")
    p_start.add_argument("--bundle", type=Path, default=None, help="bundle folder (default: the repository's bundle/)")
    p_start.add_argument("--host", default="127.0.0.1", help="address to listen on (default: %(default)s)")
    p_start.add_argument("--port", type=int, default=8000, help="TCP port (default: %(default)s)")
    p_start.add_argument("--random-weights", action="store_true",
                         help="serve seeded random weights when there is no models/model.pt (to try the setup)")
    p_start.add_argument("--replace-weights", action="store_true",
                         help="serve the bundle's weights even if the workspace holds weights trained in MONAI Label "
                         "(those are moved aside, not deleted)")
    p_start.add_argument("--python", default="python3.11",
                         help="interpreter that creates the venv (default: %(default)s)")
    p_init = sub.add_parser("init-weights", help="write seeded random weights into a bundle (needs MONAI)")
    p_init.add_argument("--bundle", type=Path, required=True, help="exported bundle folder")
    p_init.add_argument("--seed", type=int, default=0, help="random seed (default: %(default)s)")
    p_check = sub.add_parser("check-weights", help="refuse weights trained by another rule than the bundle's "
                             "inference.json (needs MONAI; start runs it)")
    p_check.add_argument("--bundle", type=Path, required=True, help="exported bundle folder")
    args = parser.parse_args(argv)
    try:
        if args.command == "setup":
            print(f"MONAI Label environment: {setup_venv(args.venv, python=args.python)}")
        elif args.command == "init-weights":
            print(f"random weights: {write_random_weights(args.bundle, args.seed)}")
        elif args.command == "check-weights":
            check_weights(args.bundle)
        else:
            if not args.studies.is_dir():
                raise FileNotFoundError(f"{args.studies}: studies folder not found")
            check_workspace(args.workspace, args.studies, args.bundle)  # before the (slow) environment set-up
            py = setup_venv(args.venv, python=args.python)
            app = prepare_app(args.workspace, py, args.name, args.bundle, args.random_weights, args.replace_weights,
                              studies=args.studies)
            cmd = server_command(py, app, args.studies.resolve(), args.name, args.host, args.port)
            print(" ".join(cmd), flush=True)
            os.execve(cmd[0], cmd, server_env())
    except (FileExistsError, FileNotFoundError, RuntimeError, ValueError, OSError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
