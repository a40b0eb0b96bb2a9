# Copyright (c) 2026 Renogram parenchyma bundle contributors.
# Licensed under the Apache License, Version 2.0 (http://www.apache.org/licenses/LICENSE-2.0).
"""Tests of :mod:`custom_transforms.skip_bad_inputs`: markers, collation, dropped batches, skipped.json, exit status."""

from __future__ import annotations

import contextlib
import io
import json
import shutil
import tempfile
import unittest
from pathlib import Path

import torch
from monai.data import DataLoader
from monai.transforms import Compose, Lambdad
from parameterized import parameterized

from custom_transforms.errors import BadInputExit, RenogramInputError, input_error
from custom_transforms.skip_bad_inputs import SKIPPED_KEY, SkipBadInputs, SkipBadInputsDataset, collate_skipping


def _load(path: str) -> torch.Tensor:
    """A stand-in loader: names containing 'bad' are bad input, 'bug' raise a non-input error."""
    if "bad" in path:
        raise RenogramInputError(path, "cannot be read as an image (test)")
    if "bug" in path:
        raise TypeError("a programming error")
    return torch.full((1, 2, 2), float(len(path)))


def _dataset(names: list[str]) -> SkipBadInputsDataset:
    return SkipBadInputsDataset([{"image": n, "name": n} for n in names], transform=Compose([Lambdad("image", _load)]))


def _iterate(names: list[str], batch_size: int, **kwargs) -> tuple[SkipBadInputs, list[list[str]], str]:
    loader = DataLoader(_dataset(names), batch_size=batch_size, collate_fn=collate_skipping, num_workers=0)
    batches = SkipBadInputs(loader, **kwargs)
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        seen = [b["name"] for b in batches]
    return batches, seen, err.getvalue()


class TestDatasetAndCollate(unittest.TestCase):
    def test_bad_input_becomes_a_marker_naming_the_file(self):
        ds = _dataset(["/in/a.png", "/in/b_bad.png"])
        self.assertEqual(tuple(ds[0]["image"].shape), (1, 2, 2))
        self.assertEqual(ds[1], {SKIPPED_KEY: {"input": "/in/b_bad.png",
                                               "reason": "/in/b_bad.png: cannot be read as an image (test)"}})

    def test_other_errors_propagate(self):
        with self.assertRaises(RuntimeError) as ctx:  # MONAI's Compose wraps the TypeError
            _dataset(["/in/bug.png"])[0]
        self.assertIsNone(input_error(ctx.exception))
        self.assertIsInstance(ctx.exception.__cause__, TypeError)

    def test_reason_names_the_input_when_the_error_names_another_file(self):
        ds = SkipBadInputsDataset([{"image": "/in/frames"}], transform=Lambdad(
            "image", lambda p: (_ for _ in ()).throw(RenogramInputError(None, "holds NaN"))))
        self.assertEqual(ds[0][SKIPPED_KEY]["reason"], "/in/frames: <array>: holds NaN")

    def test_item_marked_by_the_datalist_is_not_loaded(self):
        ds = SkipBadInputsDataset([{"image": "/in/s1.png", SKIPPED_KEY: "/in/s1.png: same output name"}],
                                  transform=Lambdad("image", lambda p: self.fail("loaded")))
        self.assertEqual(ds[0], {SKIPPED_KEY: {"input": "/in/s1.png", "reason": "/in/s1.png: same output name"}})

    def test_collate_keeps_good_items_and_markers(self):
        ds = _dataset(["/in/a.png", "/in/b_bad.png", "/in/c.png"])
        batch = collate_skipping([ds[0], ds[1], ds[2]])
        self.assertEqual(tuple(batch["image"].shape), (2, 1, 2, 2))
        self.assertEqual([m["input"] for m in batch[SKIPPED_KEY]], ["/in/b_bad.png"])
        self.assertEqual(collate_skipping([ds[1]]), {SKIPPED_KEY: [ds[1][SKIPPED_KEY]]})


class TestSkipBadInputs(unittest.TestCase):
    def setUp(self) -> None:
        self.tmp = Path(tempfile.mkdtemp(prefix="skip_bad_"))
        self.addCleanup(shutil.rmtree, self.tmp, True)

    @parameterized.expand([["batch_1", 1], ["batch_2", 2], ["batch_3", 3]])
    def test_batches_without_bad_items_and_no_empty_batch(self, _, batch_size):
        names = ["/in/a_bad.png", "/in/b_bad.png", "/in/c.png", "/in/d_bad.png", "/in/e.png"]
        batches, seen, err = _iterate(names, batch_size)
        self.assertEqual([n for b in seen for n in b], ["/in/c.png", "/in/e.png"])
        self.assertTrue(all(seen))  # no empty batch was yielded
        self.assertEqual(err.splitlines(), [f"skipped {n}: cannot be read as an image (test)" for n in
                                            ("/in/a_bad.png", "/in/b_bad.png", "/in/d_bad.png")])
        self.assertEqual(batches.done, 2)
        self.assertFalse(hasattr(batches, "__len__"))  # the evaluator's epoch ends with the batches

    def test_finish_writes_skip_list_and_exits_2(self):
        batches, _, _ = _iterate(["/in/a.png", "/in/b_bad.png"], 1)
        err = io.StringIO()
        with contextlib.redirect_stderr(err), self.assertRaises(BadInputExit) as ctx:
            batches.finish(self.tmp / "out")
        self.assertEqual(ctx.exception.code, 2)
        content = json.loads((self.tmp / "out" / "skipped.json").read_text())
        self.assertEqual((content["inputs"], content["done"], len(content["skipped"])), (2, 1, 1))
        self.assertEqual(ctx.exception.skipped, content)
        self.assertEqual(err.getvalue().splitlines(), [ctx.exception.message])
        self.assertIn("1 of 2 inputs skipped", ctx.exception.message)

    def test_finish_without_skips_returns_and_writes_empty_list(self):
        batches, _, err = _iterate(["/in/a.png"], 1)
        content = batches.finish(self.tmp / "out")
        self.assertEqual((content["skipped"], content["done"], err), ([], 1, ""))
        self.assertTrue((self.tmp / "out" / "skipped.json").is_file())

    @parameterized.expand([["bool", True], ["cli_string", "True"]])
    def test_stop_on_error_ends_at_the_first_bad_input(self, _, flag):
        batches, seen, err = _iterate(["/in/a.png", "/in/b_bad.png", "/in/c.png"], 1, stop_on_error=flag)
        self.assertEqual(seen, [["/in/a.png"]])
        self.assertEqual(err, "")
        out = io.StringIO()
        with contextlib.redirect_stderr(out), self.assertRaises(BadInputExit):
            batches.finish(self.tmp / "out")
        self.assertEqual(len(out.getvalue().splitlines()), 1)
        self.assertIn("/in/b_bad.png: cannot be read", out.getvalue())
        self.assertIn("stop_on_error", out.getvalue())

    def test_stop_on_error_false_string(self):
        self.assertFalse(SkipBadInputs([], stop_on_error="false").stop_on_error)


if __name__ == "__main__":
    unittest.main()
