# Copyright (c) 2026 Renogram parenchyma bundle contributors.
# Licensed under the Apache License, Version 2.0 (http://www.apache.org/licenses/LICENSE-2.0).
"""Tests of :mod:`custom_transforms.bundle_support`: datalists, input folders, metrics, checkpoints, NaN guard."""

from __future__ import annotations

import json
import math
import shutil
import tempfile
import unittest
from pathlib import Path
from types import SimpleNamespace

import torch
from parameterized import parameterized

from custom_transforms.bundle_support import (
    StopOnNonFiniteLoss,
    check_checkpoint,
    find_inputs,
    keep_final_checkpoint,
    latest_epoch_checkpoint,
    load_datalist,
    metrics_from_confusion,
    write_summary,
)
from custom_transforms.errors import RenogramInputError
from custom_transforms.safe_files import OutputOverlapError
from custom_transforms.skip_bad_inputs import SKIPPED_KEY

# [tp, fp, tn, fn, expected dice, jaccard, precision, recall, accuracy]
METRIC_CASES = [
    ["perfect", 4, 0, 12, 0, 1.0, 1.0, 1.0, 1.0, 1.0],
    ["half", 2, 2, 10, 2, 0.5, 1 / 3, 0.5, 0.5, 0.75],
    ["empty_both", 0, 0, 16, 0, math.nan, math.nan, math.nan, math.nan, 1.0],
    ["empty_ref_with_fp", 0, 3, 13, 0, 0.0, 0.0, 0.0, math.nan, 13 / 16],
    ["empty_pred", 0, 0, 12, 4, 0.0, 0.0, math.nan, 0.0, 0.75],
]


class TestMetrics(unittest.TestCase):
    @parameterized.expand(METRIC_CASES)
    def test_nnunet_conventions(self, _, tp, fp, tn, fn, *expected):
        got = metrics_from_confusion(tp, fp, tn, fn)
        for name, want in zip(("dice", "jaccard", "precision", "recall", "accuracy"), expected, strict=True):
            if math.isnan(want):
                self.assertTrue(math.isnan(got[name]), (name, got[name]))
            else:
                self.assertAlmostEqual(got[name], want, places=6, msg=name)

    def test_summary_excludes_nan_from_means_and_writes_csv(self):
        tmp = Path(tempfile.mkdtemp())
        self.addCleanup(shutil.rmtree, tmp, True)
        buf = torch.tensor([[[4.0, 0, 12, 0]], [[0.0, 0, 16, 0]], [[2.0, 2, 10, 2]]])  # (N, C, 4)
        engine = SimpleNamespace(state=SimpleNamespace(metric_details={"val_precision": buf}, metrics={"x": 0.5}))
        items = [{"image": f"i{k}.png", "study": f"s{k}"} for k in range(3)]
        summary = write_summary(engine, tmp / "summary.json", items, grids={"network": "val_precision"}, net="n")
        self.assertAlmostEqual(summary["mean"]["network_dice"], 0.75)  # (1 + 0.5) / 2, the empty/empty case skipped
        self.assertEqual(summary["n_nan"]["network_dice"], 1)
        on_disk = json.loads((tmp / "summary.json").read_text())
        self.assertEqual(on_disk["info"], {"net": "n"})
        lines = (tmp / "metrics_per_image.csv").read_text().splitlines()
        self.assertEqual(len(lines), 4)
        self.assertTrue(lines[0].startswith("image,study,network_dice"))

    def test_summary_refuses_misaligned_items(self):
        engine = SimpleNamespace(state=SimpleNamespace(metric_details={"val_precision": torch.zeros(2, 1, 4)},
                                                       metrics={}))
        with self.assertRaisesRegex(ValueError, "2 confusion rows for 1 datalist items"):
            write_summary(engine, Path(tempfile.mkdtemp()) / "s.json", [{"image": "a"}])


class TestFilesAndCheckpoints(unittest.TestCase):
    def setUp(self) -> None:
        self.tmp = Path(tempfile.mkdtemp(prefix="bundle_support_"))
        self.addCleanup(shutil.rmtree, self.tmp, True)

    def test_load_datalist_errors_name_the_file(self):
        with self.assertRaisesRegex(RenogramInputError, r"datalist.json: datalist not found .* does not exist"):
            load_datalist(self.tmp / "nope" / "datalist.json", "training", self.tmp / "nope")
        (self.tmp / "datalist.json").write_text(json.dumps({"training": [], "validation": [{"image": "a.png"}]}))
        with self.assertRaisesRegex(RenogramInputError, "datalist.json: split 'training' is empty"):
            load_datalist(self.tmp / "datalist.json", "training", self.tmp)
        with self.assertRaisesRegex(RenogramInputError, "cannot read split 'test'"):
            load_datalist(self.tmp / "datalist.json", "test", self.tmp)
        items = load_datalist(self.tmp / "datalist.json", "validation", self.tmp)
        self.assertEqual(items[0]["image"], str(self.tmp / "a.png"))

    def test_find_inputs(self):
        with self.assertRaisesRegex(RenogramInputError, "holds no input"):
            find_inputs(self.tmp)
        for name in ("b.png", "a.dcm", "c.nii.gz", "notes.txt"):
            (self.tmp / name).write_text("x")
        (self.tmp / "frames").mkdir()
        (self.tmp / "frames" / "timing.json").write_text("{}")
        (self.tmp / "other_dir").mkdir()
        names = [Path(d["image"]).name for d in find_inputs(self.tmp)]
        self.assertEqual(names, ["a.dcm", "b.png", "c.nii.gz", "frames"])
        with self.assertRaisesRegex(RenogramInputError, "missing: dataset_dir does not exist"):
            find_inputs(self.tmp / "missing")
        with self.assertRaisesRegex(RenogramInputError, "b.png: dataset_dir is not a folder"):
            find_inputs(self.tmp / "b.png")

    @parameterized.expand([
        ["empty", [], "(it is empty)"],
        ["only_other_files", ["README.txt", "skipped.json"], "it holds 2 other entries, e.g. README.txt"],
        ["only_hidden_images", [".a.png", "._b.dcm"], "(it is empty)"],
        ["only_folders_without_timing", ["labels/"], "it holds 1 other entry, e.g. labels"],
    ])
    def test_folder_without_inputs_names_the_folder_and_what_it_holds(self, _, names, fragment):
        for name in names:
            (self.tmp / name.rstrip("/")).mkdir() if name.endswith("/") else (self.tmp / name).write_text("x")
        with self.assertRaises(RenogramInputError) as ctx:
            find_inputs(self.tmp)
        self.assertTrue(str(ctx.exception).startswith(f"{self.tmp}: dataset_dir holds no input"), ctx.exception)
        self.assertIn(fragment, str(ctx.exception))

    def test_not_inputs_are_left_alone(self):
        for name in ("a.png", "README.txt", "skipped.json", ".a.png.tmp", ".hidden.png", "b_mask.png"):
            (self.tmp / name).write_text("x")
        (self.tmp / "labels").mkdir()
        (self.tmp / "labels" / "a.png").write_text("x")
        items = find_inputs(self.tmp)
        self.assertEqual([Path(d["image"]).name for d in items], ["a.png", "b_mask.png"])
        self.assertEqual([set(d) for d in items], [{"image"}, {"image"}])

    def test_inputs_with_the_same_output_name_are_marked_to_skip(self):
        for name in ("s1.dcm", "s1.png", "s1.nii.gz", "s2.png"):
            (self.tmp / name).write_text("x")
        items = find_inputs(self.tmp)
        self.assertEqual([Path(d["image"]).name for d in items], ["s1.dcm", "s1.nii.gz", "s1.png", "s2.png"])
        self.assertNotIn(SKIPPED_KEY, items[0])
        self.assertNotIn(SKIPPED_KEY, items[3])
        for item in items[1:3]:
            self.assertTrue(item[SKIPPED_KEY].startswith(f"{item['image']}: its mask would be s1_mask.png"))
            self.assertIn("the same as that of s1.dcm", item[SKIPPED_KEY])

    @parameterized.expand([["same", "in"], ["inside", "in/out"], ["above", "."], ["inside_via_symlink", "link/out"]])
    def test_output_dir_overlapping_the_folder_is_refused(self, _, rel):
        inputs = self.tmp / "in"
        inputs.mkdir()
        (inputs / "a.png").write_text("x")
        (self.tmp / "link").symlink_to(inputs)
        with self.assertRaisesRegex(OutputOverlapError, "--output_dir .* would mix with the inputs"):
            find_inputs(inputs, output_dir=self.tmp / rel)

    def test_separate_output_dir_is_accepted(self):
        (self.tmp / "in").mkdir()
        (self.tmp / "in" / "a.png").write_text("x")
        self.assertEqual(len(find_inputs(self.tmp / "in", output_dir=self.tmp / "in_masks")), 1)

    def test_latest_and_final_checkpoint(self):
        self.assertEqual(latest_epoch_checkpoint(self.tmp), "")
        self.assertEqual(keep_final_checkpoint(self.tmp), "")
        for epoch in (2, 10, 9):
            torch.save({"epoch": epoch}, self.tmp / f"checkpoint_epoch={epoch}.pt")
        self.assertEqual(Path(latest_epoch_checkpoint(self.tmp)).name, "checkpoint_epoch=10.pt")  # numeric order
        final = keep_final_checkpoint(self.tmp)
        self.assertEqual(torch.load(final)["epoch"], 10)
        self.assertEqual(sorted(p.name for p in self.tmp.iterdir()), ["checkpoint_final.pt"])


class TestCheckCheckpoint(unittest.TestCase):
    def test_fitting_foreign_missing_and_broken_checkpoints(self):
        tmp = Path(tempfile.mkdtemp())
        self.addCleanup(shutil.rmtree, tmp, True)
        net = torch.nn.Conv2d(3, 1, 1)
        torch.save(net.state_dict(), tmp / "ok.pt")
        check_checkpoint(tmp / "ok.pt", net)
        torch.save({"model": net.state_dict()}, tmp / "wrapped.pt")
        check_checkpoint(tmp / "wrapped.pt", net)
        torch.save(torch.nn.Conv2d(1, 1, 1).state_dict(), tmp / "other.pt")
        with self.assertRaisesRegex(RenogramInputError, r"other.pt: weights do not fit network_def .* 1 shape-mism"):
            check_checkpoint(tmp / "other.pt", net)
        with self.assertRaisesRegex(RenogramInputError, "missing.pt: no trained weights for network_def"):
            check_checkpoint(tmp / "missing.pt", net)
        (tmp / "broken.pt").write_bytes(b"not a checkpoint")
        with self.assertRaisesRegex(RenogramInputError, "broken.pt: cannot be read"):
            check_checkpoint(tmp / "broken.pt", net)


class TestStopOnNonFiniteLoss(unittest.TestCase):
    def _engine(self, loss):
        batch = [{"image": SimpleNamespace(meta={"filename_or_obj": "/d/a.png"})}]
        return SimpleNamespace(state=SimpleNamespace(output=[{"loss": loss}], batch=batch, epoch=3, iteration=7))

    def test_finite_loss_passes(self):
        StopOnNonFiniteLoss()(self._engine(torch.tensor(0.3)))

    @parameterized.expand([["nan", float("nan")], ["inf", float("inf")]])
    def test_non_finite_loss_raises_with_id_and_files(self, _, value):
        with self.assertRaisesRegex(FloatingPointError, r"train#loss: .* epoch 3, iteration 7 \(batch: /d/a.png\)"):
            StopOnNonFiniteLoss("train#loss")(self._engine(torch.tensor(value)))


if __name__ == "__main__":
    unittest.main()
