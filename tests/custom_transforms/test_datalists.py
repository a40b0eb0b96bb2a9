# Copyright (c) 2026 Renogram parenchyma bundle contributors.
# Licensed under the Apache License, Version 2.0 (http://www.apache.org/licenses/LICENSE-2.0).
"""Tests of :mod:`custom_transforms.datalists`: dataset splits and inference input folders, with the file named."""

from __future__ import annotations

import json
import shutil
import tempfile
import unittest
from pathlib import Path

from parameterized import parameterized

from custom_transforms.datalists import find_inputs, load_datalist
from custom_transforms.errors import RenogramInputError
from custom_transforms.safe_files import OutputOverlapError
from custom_transforms.skip_bad_inputs import SKIPPED_KEY


class TestDatalists(unittest.TestCase):
    def setUp(self) -> None:
        self.tmp = Path(tempfile.mkdtemp(prefix="datalists_"))
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

if __name__ == "__main__":
    unittest.main()
