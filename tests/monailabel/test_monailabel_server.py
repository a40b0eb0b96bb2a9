# Copyright (c) 2026 Renogram parenchyma bundle contributors.
# Licensed under the Apache License, Version 2.0 (http://www.apache.org/licenses/LICENSE-2.0).
"""End-to-end test: the exported bundle served by a real MONAI Label server on a free 127.0.0.1 port.

Runs only in MONAI Label's own environment (``bash scripts/run_monailabel_tests.sh``); the main suite deselects the
``monailabel`` marker and this module skips when ``monailabel`` is not importable. The server is the one
``python -m scripts.monailabel_app start`` runs (same app preparation and command line), on a datastore of fused-looking
384x384 PNG images: RGB ones with labels in ``labels/final`` and a grayscale one.

The masks are compared pixel for pixel with what ``python -m monai.bundle run`` writes from the same bundle folder:
MONAI Label loads weights with ``strict=False``, so a key mismatch would otherwise go unnoticed (it serves a random
network). Without shipped weights the fixture serves seeded random weights whose output bias is calibrated to give
mixed masks, since two all-0 masks would be equal whatever weights made them.
"""

from __future__ import annotations

import io
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

if os.environ.get("RENOGRAM_REQUIRE_MONAILABEL") == "1":  # set by scripts/run_monailabel_tests.sh: never skip there
    import monailabel  # noqa: F401
else:
    pytest.importorskip("monailabel", reason="needs MONAI Label's own environment (scripts/run_monailabel_tests.sh)")

import requests  # noqa: E402  (installed with monailabel)
from PIL import Image  # noqa: E402

from scripts.monailabel_app import (  # noqa: E402
    DEFAULT_MODEL_NAME,
    REPO_ROOT,
    prepare_app,
    server_command,
    server_env,
)

__all__ = ["MonaiLabelServer"]

pytestmark = pytest.mark.monailabel

NAME = DEFAULT_MODEL_NAME
#: bundle under test; the variable lets a developer point the test at another bundle folder.
BUNDLE = Path(os.environ.get("RENOGRAM_MONAILABEL_BUNDLE", REPO_ROOT / "bundle"))
SIZE = 384
STARTUP_TIMEOUT_S = 180
REQUEST_TIMEOUT_S = 300
TRAIN_TIMEOUT_S = 900


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _fused_image(rng: np.random.Generator, height: int, width: int) -> tuple[np.ndarray, np.ndarray]:
    """A crude fused posterior frame: two kidney-shaped ellipses on low background, JET-coloured.

    Returns:
        ``(rgb, mask)``: ``rgb`` (H, W, 3) uint8 and ``mask`` (H, W) uint8 in {0, 1} (1 = parenchyma).
    """
    import cv2

    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    counts = rng.poisson(3.0, size=(height, width)).astype(np.float32)
    mask = np.zeros((height, width), np.uint8)
    for side in (-1, 1):
        cy = height * rng.uniform(0.45, 0.55)
        cx = width * (0.5 + side * rng.uniform(0.17, 0.23))
        ry, rx = height * rng.uniform(0.14, 0.18), width * rng.uniform(0.07, 0.09)
        inside = ((yy - cy) / ry) ** 2 + ((xx - cx) / rx) ** 2 <= 1.0
        counts[inside] += rng.poisson(40.0, size=int(inside.sum()))
        mask[inside] = 1
    grey = np.clip(counts / counts.max() * 255.0, 0, 255).astype(np.uint8)
    rgb = cv2.cvtColor(cv2.applyColorMap(grey, cv2.COLORMAP_JET), cv2.COLOR_BGR2RGB)
    return rgb, mask


def _write_png(path: Path, array: np.ndarray) -> None:
    Image.fromarray(array).save(path)


def _read_png(data: bytes | Path) -> np.ndarray:
    with Image.open(io.BytesIO(data) if isinstance(data, bytes) else data) as img:
        return np.asarray(img)


def _load_served_network(model: Path):
    """The bundle's ``network_def`` with ``models/model.pt`` loaded the way MONAI Label reads it, but ``strict=True``.

    MONAI Label unwraps ``{"model": state_dict}`` and loads with ``strict=False``; a key mismatch would leave it
    serving random weights, so this raises instead.
    """
    import torch
    from monai.bundle import ConfigParser

    if str(model) not in sys.path:
        sys.path.insert(0, str(model))
    parser = ConfigParser()
    parser.read_config(str(model / "configs" / "inference.json"))
    parser["bundle_root"] = str(model)
    net = parser.get_parsed_content("network_def")
    checkpoint = torch.load(model / "models" / "model.pt", map_location="cpu", weights_only=False)
    net.load_state_dict(checkpoint.get("model", checkpoint), strict=True)
    return net.eval(), parser


def _calibrate_random_weights(model: Path, image: Path) -> float:
    """Shift the output bias of random weights so that ``image`` gets a mixed 0/1 mask; returns its foreground share.

    Freshly initialised networks tend to give all-0 masks, and two all-0 masks are equal whatever weights produced
    them: the comparison with ``monai.bundle run`` could not tell loaded weights from MONAI Label's own random
    initialisation. The last one-element ``bias`` in the state dict is taken as the 1-channel output layer's; the
    median logit on ``image`` (after the bundle's own preprocessing) is subtracted from it.
    """
    import torch

    net, parser = _load_served_network(model)
    x = parser.get_parsed_content("preprocessing")({"image": str(image)})["image"]
    x = (x.as_tensor() if hasattr(x, "as_tensor") else torch.as_tensor(x))[None].float()  # plain tensor: no meta
    sd = net.state_dict()
    bias_key = [k for k, v in sd.items() if k.endswith("bias") and v.numel() == 1][-1]
    with torch.no_grad():
        sd[bias_key] = sd[bias_key] - float(net(x).median())
        net.load_state_dict(sd)
        share = float((net(x) > 0).float().mean())
    tmp = model / "models" / "model.pt.tmp"
    torch.save(sd, tmp)
    os.replace(tmp, model / "models" / "model.pt")
    return share


class MonaiLabelServer:
    """A running MONAI Label server and the paths the tests need.

    Args:
        url: base URL, e.g. ``http://127.0.0.1:PORT``.
        proc: the server process (leader of its own process group).
        studies: datastore folder.
        model: exported bundle inside the app (``<app>/model/<NAME>``).
        log: file receiving the server's stdout and stderr.
        work: scratch folder for the tests.
        random_weights: the served weights are the fixture's calibrated random ones (the bundle ships none).
    """

    def __init__(self, url: str, proc: subprocess.Popen, studies: Path, model: Path, log: Path, work: Path,
                 random_weights: bool) -> None:
        self.url, self.proc, self.studies, self.model, self.log, self.work = url, proc, studies, model, log, work
        self.random_weights = random_weights

    def get(self, path: str, **kwargs) -> requests.Response:
        return requests.get(self.url + path, timeout=REQUEST_TIMEOUT_S, **kwargs)

    def post(self, path: str, **kwargs) -> requests.Response:
        return requests.post(self.url + path, timeout=REQUEST_TIMEOUT_S, **kwargs)

    def put(self, path: str, **kwargs) -> requests.Response:
        return requests.put(self.url + path, timeout=REQUEST_TIMEOUT_S, **kwargs)

    def log_tail(self, chars: int = 6000) -> str:
        return self.log.read_text(errors="replace")[-chars:] if self.log.is_file() else "(no log)"

    def infer_id(self, image_id: str) -> requests.Response:
        return self.post(f"/infer/{NAME}", params={"image": image_id, "output": "image"})

    def infer_upload(self, path: Path) -> requests.Response:
        with open(path, "rb") as fh:
            return self.post(f"/infer/{NAME}", params={"output": "image"}, files={"file": (path.name, fh)})

    def bundle_mask(self, image: Path) -> np.ndarray:
        """Mask that ``python -m monai.bundle run`` writes for ``image`` from the served bundle folder.

        Runs in a fresh folder with only the bundle on ``PYTHONPATH`` (as MONAI Label has it) and the image alone in
        ``--dataset_dir``.
        """
        run_dir = self.work / f"bundle_run_{image.stem}_{time.monotonic_ns()}"
        data_dir, out_dir = run_dir / "data", run_dir / "out"
        data_dir.mkdir(parents=True)
        shutil.copy2(image, data_dir / image.name)
        env = server_env()
        env["PYTHONPATH"] = str(self.model)
        config = self.model / "configs" / "inference.json"
        cmd = [sys.executable, "-m", "monai.bundle", "run", "--config_file", str(config),
               "--bundle_root", str(self.model), "--dataset_dir", str(data_dir), "--output_dir", str(out_dir)]
        proc = subprocess.run(cmd, cwd=run_dir, env=env, capture_output=True, text=True, timeout=REQUEST_TIMEOUT_S)
        assert proc.returncode == 0, f"monai.bundle run failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
        masks = [p for p in sorted(out_dir.rglob("*.png")) if "overlay" not in p.stem]  # the bundle may add overlays
        assert len(masks) == 1, f"expected one PNG mask under {out_dir}, found {masks}"
        return _read_png(masks[0])


@pytest.fixture(scope="module")
def server(tmp_path_factory, request):
    """Datastore + app + server on a free port; the server's process group is killed by PID on teardown."""
    work = tmp_path_factory.mktemp("monailabel")
    studies = work / "studies"
    (studies / "labels" / "final").mkdir(parents=True)
    rng = np.random.default_rng(20260)
    for i in range(4):
        rgb, mask = _fused_image(rng, SIZE, SIZE)
        _write_png(studies / f"study{i}_fused02.png", rgb)
        _write_png(studies / "labels" / "final" / f"study{i}_fused02.png", mask)
    rgb, _ = _fused_image(rng, SIZE, SIZE)
    _write_png(studies / "gray_fused03.png", np.asarray(Image.fromarray(rgb).convert("L")))

    if not (BUNDLE / "configs" / "inference.json").is_file():
        pytest.fail(f"{BUNDLE}: no configs/inference.json; nothing to serve")
    shipped = (BUNDLE / "models" / "model.pt").is_file()
    app = prepare_app(work / "workspace", sys.executable, NAME, BUNDLE, random_weights=True)
    if shipped:
        print(f"bundle {BUNDLE}: serving its models/model.pt")
    else:
        share = _calibrate_random_weights(app / "model" / NAME, studies / "study0_fused02.png")
        print(f"bundle {BUNDLE}: no models/model.pt; serving seeded random weights (foreground share {share:.2f})")

    port = _free_port()
    log = work / "server.log"
    proc = None
    srv = None
    try:
        with open(log, "wb") as log_fh:
            proc = subprocess.Popen(server_command(sys.executable, app, studies, NAME, "127.0.0.1", port), cwd=work,
                                    env=server_env(), stdout=log_fh, stderr=subprocess.STDOUT, start_new_session=True)
        srv = MonaiLabelServer(f"http://127.0.0.1:{port}", proc, studies, app / "model" / NAME, log, work,
                               random_weights=not shipped)
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while True:
            if proc.poll() is not None:
                pytest.fail(f"MONAI Label exited with code {proc.returncode} at start-up:\n{srv.log_tail()}")
            try:
                if requests.get(srv.url + "/info/", timeout=5).status_code == 200:
                    break
            except requests.ConnectionError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"MONAI Label did not answer /info/ within {STARTUP_TIMEOUT_S} s:\n{srv.log_tail()}")
            time.sleep(1.0)
        yield srv
    finally:
        if proc is not None:
            _stop(proc)
        if getattr(request.session, "monailabel_failed", False) and srv is not None:
            reporter = request.config.pluginmanager.get_plugin("terminalreporter")
            text = f"\n----- MONAI Label server log ({log}) -----\n{srv.log_tail()}"
            reporter.write_line(text) if reporter is not None else print(text, file=sys.stderr)


def _stop(proc: subprocess.Popen) -> None:
    """Terminate the server's process group (its PID is the group id), then kill it if it lingers."""
    for sig, wait_s in ((signal.SIGTERM, 20), (signal.SIGKILL, 10)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(timeout=wait_s)
            return
        except subprocess.TimeoutExpired:
            continue


def _assert_mask(response: requests.Response, shape: tuple[int, int], log: str) -> np.ndarray:
    assert response.status_code == 200, f"HTTP {response.status_code}: {response.text[:2000]}\n{log}"
    mask = _read_png(response.content)
    assert mask.shape == shape, f"mask shape {mask.shape}, input {shape}"
    assert set(np.unique(mask).tolist()) <= {0, 1}, f"mask values {np.unique(mask)}"
    return mask


def test_info_lists_2d_segmentation_model(server):
    info = server.get("/info/")
    assert info.status_code == 200
    models = info.json()["models"]
    assert NAME in models, f"{NAME} missing from /info/ models {list(models)} (no weights?)\n{server.log_tail()}"
    model = models[NAME]
    assert model["type"] == "segmentation"
    assert model["dimension"] == 2
    assert model["labels"] == {"renal_parenchyma": 1}
    assert NAME in info.json()["trainers"]


def _assert_same_as_bundle_run(server: MonaiLabelServer, mask: np.ndarray, image: Path) -> None:
    """MONAI Label's mask equals ``monai.bundle run``'s, and the server loaded its checkpoint without key mismatch."""
    np.testing.assert_array_equal(mask, server.bundle_mask(image))
    if server.random_weights:  # calibrated to give mixed masks: equal masks then prove the same weights were used
        assert 0 < mask.mean() < 1, f"constant mask (share {mask.mean()}) cannot show which weights were served"
    assert "Checkpoint keys don't match" not in server.log.read_text(errors="replace"), server.log_tail()


def test_served_checkpoint_matches_network_def(server):
    _load_served_network(server.model)  # raises on missing/unexpected keys or shape mismatch


@pytest.mark.parametrize("image_id", ["study0_fused02", "gray_fused03"], ids=["rgb", "grayscale"])
def test_infer_datastore_image_matches_bundle_run(server, image_id):
    image = server.studies / f"{image_id}.png"
    mask = _assert_mask(server.infer_id(image_id), _read_png(image).shape[:2], server.log_tail())
    _assert_same_as_bundle_run(server, mask, image)


def test_infer_uploaded_image_of_other_size(server):
    rgb, _ = _fused_image(np.random.default_rng(7), 256, 300)
    path = server.work / "upload_256x300.png"
    _write_png(path, rgb)
    mask = _assert_mask(server.infer_upload(path), (256, 300), server.log_tail())
    _assert_same_as_bundle_run(server, mask, path)


def _not_an_image(path: Path) -> None:
    path.write_text("this is not an image\n")


def _zero_bytes(path: Path) -> None:
    path.write_bytes(b"")


def _volume_nifti(path: Path) -> None:
    import nibabel as nib

    nib.save(nib.Nifti1Image(np.random.default_rng(0).random((64, 64, 12)).astype(np.float32), np.eye(4)), path)


def _volume_tiff(path: Path) -> None:
    frames = [Image.fromarray((np.random.default_rng(i).random((64, 64)) * 255).astype(np.uint8)) for i in range(5)]
    frames[0].save(path, save_all=True, append_images=frames[1:])


@pytest.mark.parametrize(
    "filename, make",
    [("text.png", _not_an_image), ("empty.png", _zero_bytes), ("volume.nii.gz", _volume_nifti),
     ("stack.tif", _volume_tiff)],
    ids=["not-an-image", "zero-bytes", "3d-nifti", "3d-tiff-stack"],
)
def test_bad_upload_gets_http_error_and_server_survives(server, filename, make):
    path = server.work / filename
    make(path)
    response = server.infer_upload(path)
    assert response.status_code >= 400, (
        f"{filename}: expected an HTTP error, got {response.status_code} "
        f"({response.headers.get('content-type')}, {len(response.content)} bytes)")
    assert server.proc.poll() is None, f"server died on {filename}:\n{server.log_tail()}"
    assert server.get("/info/").status_code == 200
    assert server.infer_id("study1_fused02").status_code == 200


def test_label_submission_then_training_updates_model(server):
    image_id = "gray_fused03"
    label = np.zeros((SIZE, SIZE), np.uint8)
    label[150:250, 60:120] = 1
    label[150:250, 260:320] = 1
    label_path = server.work / "submitted_label.png"
    _write_png(label_path, label)
    with open(label_path, "rb") as fh:
        response = server.put("/datastore/label", params={"image": image_id, "tag": "final"},
                              files={"label": ("label.png", fh)})
    assert response.status_code == 200, response.text
    stored = server.studies / "labels" / "final" / f"{image_id}.png"
    assert stored.is_file(), f"label not stored at {stored}"
    np.testing.assert_array_equal(_read_png(stored), label)

    model_pt = server.model / "models" / "model.pt"
    before = (model_pt.stat().st_mtime_ns, model_pt.read_bytes())
    # asynchronous, as a client starts it: MONAI Label trains in a subprocess with the bundle on PYTHONPATH
    response = server.post(f"/train/{NAME}", json={"max_epochs": 1, "val_split": 0.2, "multi_gpu": False})
    assert response.status_code == 200, f"{response.status_code}: {response.text[:2000]}\n{server.log_tail()}"
    deadline = time.monotonic() + TRAIN_TIMEOUT_S
    while True:
        task = server.get("/train/").json()
        if task.get("status") in ("DONE", "ERROR", "STOPPED"):
            break
        assert time.monotonic() < deadline, f"training still {task.get('status')} after {TRAIN_TIMEOUT_S} s"
        time.sleep(2.0)
    assert task["status"] == "DONE", f"training ended {task['status']}:\n{server.log_tail()}"
    after = (model_pt.stat().st_mtime_ns, model_pt.read_bytes())
    assert after[0] > before[0] and after[1] != before[1], f"training did not rewrite {model_pt}\n{server.log_tail()}"

    image = server.studies / "study2_fused02.png"
    mask = _assert_mask(server.infer_id("study2_fused02"), (SIZE, SIZE), server.log_tail())
    np.testing.assert_array_equal(mask, server.bundle_mask(image))  # the trained weights were reloaded
    assert "Checkpoint keys don't match" not in server.log.read_text(errors="replace"), server.log_tail()
