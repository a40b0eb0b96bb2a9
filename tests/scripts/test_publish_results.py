# Copyright (c) 2026 Renogram parenchyma bundle contributors.
# Licensed under the Apache License, Version 2.0 (http://www.apache.org/licenses/LICENSE-2.0).
"""Tests of ``scripts.publish_results`` (:mod:`scripts.bundle_tools.results`): one summary, every place its figures
appear, and the shipped documents in step with the shipped summary."""

from __future__ import annotations

import contextlib
import io
import json
import tempfile
import unittest
from pathlib import Path

from scripts import publish_results
from scripts.bundle_tools.results import publish, rendered_blocks, stale_blocks

SUMMARY = {
    "n_images": 3,
    "mean": {"network_dice": 0.95123, "network_precision": 0.9, "network_recall": 0.91, "network_accuracy": 0.99,
             "network_jaccard": 0.9, "native_dice": 0.93456, "native_precision": 0.92, "native_recall": 0.95,
             "native_accuracy": 0.995, "native_jaccard": 0.88, "native_kidney_dice": float("nan")},
    "kidneys": {"grid": "native", "missed_below_dice": 0.5, "left": {"dice": 0.91, "n_images": 2},
                "right": {"dice": 0.6, "n_images": 1}, "missed_kidneys": 1,
                "missed": [{"image": "c.png", "study": "c", "side": "right", "dice": 0.2}]},
    "subgroups": {"matrix": {"64": {"n_images": 1, "few_images": True, "network_dice": 0.9, "native_dice": 0.8,
                                    "missed_kidneys": 1},
                             "256": {"n_images": 2, "few_images": True, "network_dice": 0.97, "native_dice": 0.99,
                                     "missed_kidneys": 0}}},
}
DOC = """# Card

Before the figures.

<!-- results:segmentation -->
old table
<!-- /results:segmentation -->

Between.

<!-- results:subgroups -->
old subgroups
<!-- /results:subgroups -->

After.
"""


class TestPublish(unittest.TestCase):
    def setUp(self):
        self.tmp = Path(tempfile.mkdtemp(prefix="publish_"))
        self.eval = self.tmp / "eval"
        self.eval.mkdir()
        (self.eval / "summary.json").write_text(json.dumps(SUMMARY), encoding="utf-8")
        (self.eval / "metrics_per_image.csv").write_text("image,network_dice\na.png,0.9\n", encoding="utf-8")
        (self.eval / "subgroups.md").write_text("| table |\n", encoding="utf-8")
        self.doc = self.tmp / "README.md"
        self.doc.write_text(DOC, encoding="utf-8")
        self.meta = self.tmp / "metadata.json"
        self.meta.write_text(json.dumps({"version": "9.9.9", "task": "× kidneys", "eval_metrics": {"old": 1}},
                                        indent=4, ensure_ascii=False) + "\n", encoding="utf-8")

    def test_every_place_gets_the_summary(self):
        done = publish(self.eval, self.tmp / "results", self.meta, [self.doc])
        self.assertEqual(sorted(done["copied"]), ["metrics_per_image.csv", "subgroups.md", "summary.json"])
        self.assertEqual(json.loads((self.tmp / "results" / "summary.json").read_text())["n_images"], 3)
        meta = json.loads(self.meta.read_text(encoding="utf-8"))
        self.assertEqual(meta["version"], "9.9.9")
        self.assertEqual(meta["eval_metrics"]["network_dice"], 0.9512)
        self.assertEqual(meta["eval_metrics"]["native_dice"], 0.9346)
        self.assertNotIn("native_kidney_dice", meta["eval_metrics"])  # NaN means are left out
        self.assertNotIn("old", meta["eval_metrics"])
        self.assertIn('"task": "× kidneys"', self.meta.read_text(encoding="utf-8"))  # the file's own style kept
        text = self.doc.read_text(encoding="utf-8")
        for kept in ("Before the figures.", "Between.", "After."):
            self.assertIn(kept, text)
        self.assertNotIn("old table", text)
        self.assertIn("| network grid 384×384 (as the paper reports) | 0.9512 | 0.9000 |", text)
        self.assertIn("study's native matrix (64², 256²)", text)
        self.assertIn("missed kidneys** (a labelled kidney with Dice below 0.5): 1 of 3", text)
        self.assertIn("| matrix | 64 | 1 * |", text)
        self.assertEqual(stale_blocks(self.doc, SUMMARY), [])
        changed = dict(SUMMARY, mean=dict(SUMMARY["mean"], native_dice=0.5))
        self.assertEqual(stale_blocks(self.doc, changed), ["segmentation", "subgroups"])

    def test_bad_inputs_change_nothing(self):
        before = self.meta.read_text(encoding="utf-8")
        with self.assertRaisesRegex(ValueError, r"absent/summary.json: no such file"):
            publish(self.tmp / "absent", self.tmp / "results", self.meta, [self.doc])
        plain = self.tmp / "plain.md"
        plain.write_text("# no blocks\n", encoding="utf-8")
        with self.assertRaisesRegex(ValueError, r"plain.md: holds no <!-- results:NAME --> block"):
            publish(self.eval, self.tmp / "results", self.meta, [self.doc, plain])
        (self.eval / "summary.json").write_text('{"rows": []}', encoding="utf-8")
        with self.assertRaisesRegex(ValueError, r"summary.json: not an evaluation summary"):
            publish(self.eval, self.tmp / "results", self.meta, [self.doc])
        self.assertEqual(self.meta.read_text(encoding="utf-8"), before)
        self.assertEqual(self.doc.read_text(encoding="utf-8"), DOC)
        self.assertFalse((self.tmp / "results").exists())

    def test_command_names_the_bad_file(self):
        err = io.StringIO()
        with contextlib.redirect_stderr(err):
            code = publish_results.main(["--eval-dir", str(self.tmp / "absent")])
        self.assertEqual(code, 2)
        self.assertEqual(len(err.getvalue().strip().splitlines()), 1)
        self.assertIn("absent/summary.json: no such file", err.getvalue())

    def test_rendered_blocks_without_kidneys(self):
        blocks = rendered_blocks({"mean": {"network_dice": 0.9}, "n_images": 1})
        self.assertIn("| network grid 384×384 (as the paper reports) | 0.9000 | – |", blocks["segmentation"])
        self.assertNotIn("missed", blocks["segmentation"])


class TestShippedDocuments(unittest.TestCase):
    def test_readme_and_model_card_show_the_shipped_summary(self):
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            code = publish_results.main(["--check"])
        self.assertEqual(code, 0, out.getvalue())


if __name__ == "__main__":
    unittest.main()
