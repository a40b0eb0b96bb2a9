# Copyright (c) 2026 Renogram parenchyma bundle contributors.
# Licensed under the Apache License, Version 2.0 (http://www.apache.org/licenses/LICENSE-2.0).
"""Fault injection for the bundle's inference (``bundle/configs/inference.json``) on a folder of inputs.

Each case: a folder of inputs (good images, plus bad ones: unreadable, truncated DICOM, all-zero study, non-NM DICOM,
a frame stack, non-image files) -> exit code -> message fragment naming the user's file -> the good inputs' masks and
overlays, ``skipped.json`` listing the bad ones -> nothing half-written -> inputs unchanged by checksum. The run goes
through :class:`monai.bundle.ConfigWorkflow` in-process (as the bundle tests do) and, for a few cases, through
``python -m monai.bundle run`` as a subprocess (what a user types; checks that ``fire`` prints no traceback).

Tiny on purpose: 32x32 fused PNGs and 16x16 studies of 30 frames, the tiny UNet of ``bundle_fixtures`` at 64x64.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
import tempfile
import unittest
import warnings
from pathlib import Path

import numpy as np
import torch
from parameterized import parameterized
from PIL import Image

from tests.bundle.bundle_fixtures import CONFIGS, TINY_NET, TINY_OVERRIDES, make_workflow
from tests.custom_transforms.nm_dicom import Phase, write_nm_dicom
from tests.faults.harness import (
    TRACEBACK_MARK,
    assert_fault,
    assert_no_leftovers,
    error_lines,
    run_module,
    tree_checksum,
)

CT_IMAGE_STORAGE = "1.2.840.10008.5.1.4.1.1.2"
UNREADABLE = "cannot be read as an image"


def _png(path: Path, seed: int = 0, size: tuple[int, int] = (32, 32)) -> None:
    rng = np.random.default_rng(seed)
    img = (rng.random((*size, 3)) * 60).astype(np.uint8)
    img[size[0] // 3 : 2 * size[0] // 3, 3 : size[1] // 3, 0] = 230
    Image.fromarray(img).save(path)


def _study(path: Path, kind: str = "good") -> None:
    """A 16x16 NM study of 30 frames x 10 s; ``kind``: good, zero (all-zero), ct (not NM), truncated."""
    frames = np.random.default_rng(1).poisson(20, size=(30, 16, 16)).astype(np.uint16)
    if kind == "zero":
        frames[:] = 0
    extra = {"modality": "CT", "sop_class": CT_IMAGE_STORAGE} if kind == "ct" else {}
    write_nm_dicom(path, frames, phases=[Phase(30, 10000)], **extra)
    if kind == "truncated":
        data = path.read_bytes()
        path.write_bytes(data[: len(data) // 2])


def _make(path: Path, kind: str) -> None:
    if kind == "png":
        _png(path, seed=len(path.name))
    elif kind == "text":
        path.write_text("not an image\n", encoding="utf-8")
    elif kind == "stack":
        frames = [Image.fromarray(np.full((16, 16), 40 * i, np.uint8)) for i in range(3)]
        frames[0].save(path, save_all=True, append_images=frames[1:])
    elif kind == "dir":
        path.mkdir()
        (path / "a.png").write_text("a label folder, not an input\n")
    else:
        _study(path, kind)


# [name, {file: kind}, bad inputs (skipped), message fragment]
FOLDER_CASES = [
    ["bad_first", {"aaa_bad.png": "text", "good1.png": "png", "good2.png": "png"}, ["aaa_bad.png"], UNREADABLE],
    ["bad_middle", {"good1.png": "png", "mmm_bad.png": "text", "zzz.png": "png"}, ["mmm_bad.png"], UNREADABLE],
    ["bad_last", {"good1.png": "png", "good2.png": "png", "zzz_bad.png": "text"}, ["zzz_bad.png"], UNREADABLE],
    ["all_bad", {"a_bad.png": "text", "b_bad.png": "text"}, ["a_bad.png", "b_bad.png"], UNREADABLE],
    ["truncated_dicom", {"good.png": "png", "s_trunc.dcm": "truncated"}, ["s_trunc.dcm"], "truncated"],
    ["all_zero_study", {"good.png": "png", "s_zero.dcm": "zero"}, ["s_zero.dcm"], "no counts"],
    ["not_nm", {"ct.dcm": "ct", "good.png": "png"}, ["ct.dcm"], "not a nuclear-medicine image"],
    ["frame_stack", {"good.png": "png", "stack.tif": "stack"}, ["stack.tif"], "holds 3 frames"],
    ["same_output_name", {"s1.png": "png", "s1.tif": "png"}, ["s1.tif"], "the same as that of s1.png"],
]
# files that are not inputs: never processed, never reported
NOT_INPUTS = {"README.txt": "text", "skipped.json": "text", "labels": "dir", ".hidden.png": "text"}


class _InferenceFaults(unittest.TestCase):
    @classmethod
    def setUpClass(cls) -> None:
        cls.tmp = Path(tempfile.mkdtemp(prefix="infer_faults_"))
        cls.bundle_root = cls.tmp / "bundle"
        (cls.bundle_root / "models").mkdir(parents=True)
        torch.manual_seed(0)
        from monai.networks.nets import UNet

        net = UNet(**{k: v for k, v in TINY_NET.items() if k != "_target_"} | {"in_channels": 3})
        torch.save(net.state_dict(), cls.bundle_root / "models" / "model.pt")

    @classmethod
    def tearDownClass(cls) -> None:
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def folder(self, files: dict[str, str]) -> Path:
        root = Path(tempfile.mkdtemp(prefix="in_", dir=self.tmp))
        for name, kind in files.items():
            _make(root / name, kind)
        return root

    def infer(self, inputs: Path, out: Path, **overrides) -> tuple[int, str]:
        """ConfigWorkflow initialize/run/finalize in-process; returns (exit code, stderr)."""
        err = io.StringIO()
        code = 0
        with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(err):
            warnings.simplefilter("ignore")  # MONAI's own config warnings are not the command's messages
            try:
                wf = make_workflow(["inference.json"], "infer", bundle_root=str(self.bundle_root),
                                   dataset_dir=str(inputs), output_dir=str(out), **dict(TINY_OVERRIDES, **overrides))
                wf.initialize()
                wf.run()
                wf.finalize()
            except SystemExit as exc:
                code = exc.code if isinstance(exc.code, int) else 1
        return code, err.getvalue()

    def check_outputs(self, out: Path, good: list[str], bad: list[str], inputs: Path) -> None:
        stems = sorted(Path(g).stem for g in good)
        self.assertEqual(sorted(p.name[: -len("_mask.png")] for p in out.glob("*_mask.png")), stems)
        self.assertEqual(sorted(p.name[: -len("_overlay.png")] for p in out.glob("*_overlay.png")), stems)
        for stem in stems:
            mask = np.asarray(Image.open(out / f"{stem}_mask.png"))
            self.assertTrue(set(np.unique(mask).tolist()) <= {0, 1})
        skipped = json.loads((out / "skipped.json").read_text(encoding="utf-8"))
        self.assertEqual(skipped["command"], "inference")
        self.assertEqual((skipped["inputs"], skipped["done"]), (len(good) + len(bad), len(good)))
        self.assertEqual(sorted(Path(e["input"]).name for e in skipped["skipped"]), sorted(bad))
        for entry in skipped["skipped"]:
            self.assertEqual(Path(entry["input"]).parent, inputs)  # the user's file, not a temporary path
            self.assertIn(entry["input"], entry["reason"])


class TestFolderFaults(_InferenceFaults):
    @parameterized.expand(FOLDER_CASES)
    def test_good_inputs_done_bad_ones_skipped_and_listed(self, name, files, bad, fragment):
        inputs = self.folder(dict(files, **NOT_INPUTS))
        before = tree_checksum(inputs)
        out = self.tmp / f"out_{name}"
        code, stderr = self.infer(inputs, out)
        # one line per skipped input, then the final count line
        assert_fault(self, code, stderr, 2, fragment, inputs / bad[0], max_lines=len(bad) + 1)
        lines = error_lines(stderr)
        self.assertIn(f"{len(bad)} of {len(files)} inputs skipped", lines[-1])
        self.assertIn(str(out / "skipped.json"), lines[-1])
        for bad_name in bad:
            self.assertTrue(any(str(inputs / bad_name) in line for line in lines[:-1]), (bad_name, lines))
        good = [f for f in files if f not in bad]
        self.check_outputs(out, good, bad, inputs)
        self.assertEqual(tree_checksum(inputs), before)
        assert_no_leftovers(self, out)

    def test_clean_folder_exits_0_with_empty_skip_list(self):
        inputs = self.folder(dict({"a.png": "png", "s.dcm": "good"}, **NOT_INPUTS))
        before = tree_checksum(inputs)
        out = self.tmp / "out_clean"
        code, stderr = self.infer(inputs, out)
        self.assertEqual((code, error_lines(stderr)), (0, []))
        self.check_outputs(out, ["a.png", "s.dcm"], [], inputs)
        self.assertEqual(tree_checksum(inputs), before)

    def test_batches_and_worker_processes(self):
        """batch_size 2 with 2 workers: bad items are dropped inside batches, an all-bad batch never runs."""
        files = {"a_bad.png": "text", "b_bad.png": "text", "c.png": "png", "d_bad.dcm": "truncated", "e.png": "png"}
        inputs = self.folder(files)
        out = self.tmp / "out_batches"
        code, stderr = self.infer(inputs, out, num_workers=2, **{"dataloader#batch_size": 2})
        assert_fault(self, code, stderr, 2, "3 of 5 inputs skipped", max_lines=4)
        self.check_outputs(out, ["c.png", "e.png"], ["a_bad.png", "b_bad.png", "d_bad.dcm"], inputs)

    @parameterized.expand([["bool", True], ["string_from_cli", "true"]])
    def test_stop_on_error_makes_the_first_bad_input_fatal(self, name, flag):
        inputs = self.folder({"a.png": "png", "b_bad.png": "text", "c.png": "png"})
        out = self.tmp / f"out_stop_{name}"
        code, stderr = self.infer(inputs, out, stop_on_error=flag)
        assert_fault(self, code, stderr, 2, UNREADABLE, inputs / "b_bad.png")
        self.assertIn("stop_on_error", stderr)
        self.assertEqual(sorted(p.name for p in out.glob("*_mask.png")), ["a_mask.png"])  # c.png not processed
        skipped = json.loads((out / "skipped.json").read_text(encoding="utf-8"))
        self.assertEqual([Path(e["input"]).name for e in skipped["skipped"]], ["b_bad.png"])
        assert_no_leftovers(self, out)


# [name, {file: kind}, message fragment]
REFUSED_FOLDER_CASES = [
    ["empty_folder", {}, "holds no input"],
    ["only_non_image_files", {"README.txt": "text", "notes.json": "text", "labels": "dir"}, "holds no input"],
]


class TestRefusedRuns(_InferenceFaults):
    @parameterized.expand(REFUSED_FOLDER_CASES)
    def test_folder_without_inputs_is_one_line(self, name, files, fragment):
        inputs = self.folder(files)
        before = tree_checksum(inputs)
        out = self.tmp / f"out_{name}"
        code, stderr = self.infer(inputs, out)
        assert_fault(self, code, stderr, 2, fragment, inputs)
        self.assertFalse(out.exists())  # nothing written for a run refused up front
        self.assertEqual(tree_checksum(inputs), before)

    def test_missing_folder_is_one_line(self):
        code, stderr = self.infer(self.tmp / "no_such_folder", self.tmp / "out_missing")
        assert_fault(self, code, stderr, 2, "does not exist", self.tmp / "no_such_folder")

    @parameterized.expand([["same", "."], ["inside", "masks"], ["above", ".."]])
    def test_output_dir_overlapping_the_inputs_is_refused(self, _, rel):
        # x_mask.png is an input that the mask of x.png would overwrite if output_dir were the input folder
        inputs = self.folder({"x.png": "png", "x_mask.png": "png"})
        before = tree_checksum(inputs)
        out = (inputs / rel).resolve() if rel != "." else inputs
        code, stderr = self.infer(inputs, out)
        assert_fault(self, code, stderr, 2, "--output_dir", inputs)
        self.assertEqual(tree_checksum(inputs), before)
        self.assertFalse((inputs / "masks").exists())

    def test_missing_weights_are_one_line(self):
        inputs = self.folder({"a.png": "png"})
        code, stderr = self.infer(inputs, self.tmp / "out_noweights", ckpt_dir=str(self.tmp / "no_models"))
        assert_fault(self, code, stderr, 2, "no trained weights", self.tmp / "no_models" / "model.pt")


class TestCommandLine(_InferenceFaults):
    """What a user types: ``python -m monai.bundle run ... inference.json`` (fire must not print a traceback)."""

    def run_bundle(self, inputs: Path, out: Path, *extra: str):
        env = dict(os.environ, PYTHONWARNINGS="ignore")  # MONAI's config-trust warning is not the command's message
        args = ["run", "--config_file", str(CONFIGS / "inference.json"), "--meta_file", str(CONFIGS / "metadata.json"),
                "--logging_file", str(CONFIGS / "logging.conf"), "--bundle_root", str(self.bundle_root),
                "--dataset_dir", str(inputs), "--output_dir", str(out), "--image_size", "[64, 64]",
                "--device", "cpu", "--network_def", json.dumps(TINY_NET), *extra]
        return run_module("monai.bundle", args, env=env, timeout=300)

    def test_folder_with_bad_inputs(self):
        files = {"aaa_bad.png": "text", "good.png": "png", "s_trunc.dcm": "truncated", "README.txt": "text"}
        inputs = self.folder(files)
        before = tree_checksum(inputs)
        out = self.tmp / "out_cli"
        proc = self.run_bundle(inputs, out)
        assert_fault(self, proc.returncode, proc.stderr, 2, UNREADABLE, inputs / "aaa_bad.png", max_lines=3)
        self.assertIn("2 of 3 inputs skipped", error_lines(proc.stderr)[-1])
        self.check_outputs(out, ["good.png"], ["aaa_bad.png", "s_trunc.dcm"], inputs)
        self.assertEqual(tree_checksum(inputs), before)
        assert_no_leftovers(self, out)

    def test_empty_folder(self):
        empty = self.folder({})
        proc = self.run_bundle(empty, self.tmp / "out_cli_empty")
        assert_fault(self, proc.returncode, proc.stderr, 2, "holds no input", empty)
        self.assertNotIn(TRACEBACK_MARK, proc.stdout)


if __name__ == "__main__":
    unittest.main()
