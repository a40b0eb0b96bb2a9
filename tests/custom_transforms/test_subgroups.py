# Copyright (c) 2026 Renogram parenchyma bundle contributors.
# Licensed under the Apache License, Version 2.0 (http://www.apache.org/licenses/LICENSE-2.0).
"""Tests of evaluation by subgroup: per-kidney counts, age bands, subgroup means, missed kidneys and the table."""

from __future__ import annotations

import csv
import json
import shutil
import tempfile
import unittest
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import torch
from parameterized import parameterized

from custom_transforms.metrics import KidneyConfusionMetric, kidney_confusion, kidney_sides
from custom_transforms.subgroups import age_band, image_subgroups, subgroup_table
from custom_transforms.summary import write_summary

AGE_CASES = [[0.0, "<1 y"], [0.99, "<1 y"], [1.0, "1-5 y"], [4.9, "1-5 y"], [5.0, "5-10 y"], [10.0, ">=10 y"],
             [None, None], ["x", None], [-1.0, None]]


def _sides() -> np.ndarray:
    s = np.zeros((6, 10), np.uint8)
    s[1:4, 1:3] = 1  # patient-left kidney on the image left (posterior view), 6 px
    s[2:5, 6:8] = 2  # patient-right kidney, 6 px
    return s


class TestKidneyMetrics(unittest.TestCase):
    def test_counts_per_kidney_by_hand(self):
        pred = np.zeros((6, 10))
        pred[1:4, 1:3] = 1  # left exact
        pred[2:4, 6:8] = 1  # right: 4 of 6
        pred[0, 9] = 1  # a false positive on the right side
        got = kidney_confusion(pred, _sides())
        np.testing.assert_array_equal(got, [[6, 0, 54, 0], [4, 1, 53, 2]])

    def test_binary_label_split_at_bounding_box_midline(self):
        binary = (_sides() > 0).astype(np.uint8) * 255
        np.testing.assert_array_equal(kidney_sides(binary), _sides())

    def test_one_kidney_label_kept_when_sides_known(self):
        one = np.zeros((6, 10), np.uint8)
        one[1:4, 1:5] = 1
        self.assertEqual(set(np.unique(kidney_sides(one, sides_known=True))), {0, 1})
        self.assertEqual(set(np.unique(kidney_sides(one))), {0, 1, 2})  # binary: split in two

    def test_metric_buffer_is_per_image_and_side(self):
        metric = KidneyConfusionMetric()
        sides = torch.as_tensor(_sides())[None]
        metric([sides > 0, torch.zeros_like(sides)], [sides, sides])
        buf = metric.get_buffer()
        self.assertEqual(tuple(buf.shape), (2, 2, 4))
        self.assertAlmostEqual(float(metric.aggregate()), 0.5)  # 1, 1, 0, 0


class TestSubgroups(unittest.TestCase):
    @parameterized.expand(AGE_CASES)
    def test_age_bands(self, age, band):
        self.assertEqual(age_band(age), band)

    def test_image_subgroups_reads_known_facts_and_aliases(self):
        got = image_subgroups({"matrix": 128.0, "tracer": "DTPA", "patient_age_years": 3, "camera_collimator": "LEHR"})
        self.assertEqual(got, {"matrix": "128", "tracer": "DTPA", "age_band": "1-5 y", "collimator": "LEHR"})

    def test_summary_subgroups_kidneys_and_missed_by_hand(self):
        tmp = Path(tempfile.mkdtemp())
        self.addCleanup(shutil.rmtree, tmp, True)
        whole = torch.tensor([[[4.0, 0, 12, 0]], [[2.0, 2, 10, 2]], [[3.0, 1, 10, 2]]])
        kidneys = torch.tensor(
            [[[2.0, 0, 14, 0], [2, 0, 14, 0]], [[2.0, 0, 14, 0], [0, 2, 12, 2]], [[3.0, 1, 12, 0], [0, 0, 16, 0]]]
        )
        engine = SimpleNamespace(state=SimpleNamespace(
            metric_details={"val_precision": whole, "native_precision": whole, "native_kidney_dice": kidneys},
            metrics={}))
        items = [{"image": f"i{k}.png", "study": f"s{k}"} for k in range(3)]
        facts = {"s0": {"matrix": 64, "tracer": "MAG3", "age_years": 0.5},
                 "s1": {"matrix": 128, "tracer": "MAG3", "age_years": 3.0},
                 "s2": {"matrix": 128, "tracer": "DTPA", "age_years": 12.0, "pathology": "dilated"}}
        datalist = tmp / "datalist.json"
        datalist.write_text(json.dumps({"test": [], "study_facts": facts}))
        summary = write_summary(engine, tmp / "summary.json", items, study_facts=str(datalist))
        sub = summary["subgroups"]
        self.assertEqual(list(sub), ["matrix", "tracer", "pathology", "age_band"])
        self.assertEqual(list(sub["matrix"]), ["64", "128"])
        m128 = sub["matrix"]["128"]
        self.assertEqual((m128["n_images"], m128["few_images"]), (2, True))
        self.assertAlmostEqual(m128["network_dice"], (0.5 + 6 / 9) / 2)
        self.assertAlmostEqual(m128["native_precision"], (0.5 + 0.75) / 2)
        self.assertAlmostEqual(m128["native_recall"], (0.5 + 0.6) / 2)
        self.assertEqual(m128["missed_kidneys"], 1)
        self.assertAlmostEqual(sub["tracer"]["MAG3"]["native_dice"], 0.75)
        self.assertEqual(list(sub["age_band"]), ["<1 y", "1-5 y", ">=10 y"])
        self.assertEqual(sub["pathology"], {"dilated": sub["pathology"]["dilated"]})
        k = summary["kidneys"]
        self.assertAlmostEqual(k["left"]["dice"], (1 + 1 + 6 / 7) / 3)
        self.assertEqual(k["left"]["n_images"], 3)
        self.assertAlmostEqual(k["right"]["dice"], 0.5)  # image 2 has no right kidney in its reference
        self.assertEqual(k["right"]["n_images"], 2)
        self.assertEqual(k["missed_kidneys"], 1)
        self.assertEqual([(m["image"], m["side"]) for m in k["missed"]], [("i1.png", "right")])
        with open(tmp / "metrics_per_image.csv", newline="") as fh:
            rows = list(csv.DictReader(fh))
        self.assertEqual(rows[2]["pathology"], "dilated")
        self.assertEqual(rows[0]["pathology"], "")
        self.assertEqual(rows[1]["missed_kidneys"], "1")
        self.assertAlmostEqual(float(rows[2]["native_left_dice"]), 6 / 7)
        self.assertEqual(rows[0]["age_band"], "<1 y")
        table = subgroup_table(json.loads((tmp / "summary.json").read_text()))
        self.assertEqual((tmp / "subgroups.md").read_text(), table)
        self.assertIn("| matrix | 128 | 2 * | 0.583 |", table)
        self.assertLess(table.index("| matrix | 64 |"), table.index("| matrix | 128 |"))  # numeric, not text order
        self.assertLess(table.index("| matrix |"), table.index("| tracer |"))
        self.assertLess(table.index("| age band | <1 y"), table.index("| age band | >=10 y"))
        self.assertIn("| all |  | 3 |", table)
        self.assertIn("fewer than 10 images", table)


if __name__ == "__main__":
    unittest.main()
