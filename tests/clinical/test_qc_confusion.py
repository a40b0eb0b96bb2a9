# Copyright (c) 2026 Renogram parenchyma bundle contributors.
# Licensed under the Apache License, Version 2.0 (http://www.apache.org/licenses/LICENSE-2.0).
"""The QC confusion table (:mod:`scripts.clinical.qc_confusion`) on hand-made per-study rows, and in
``scripts.validate_renal_function``'s output for a mask that misses a kidney."""

from __future__ import annotations

import contextlib
import csv
import io
import json
import tempfile
import unittest
from pathlib import Path

import cv2
import numpy as np

from scripts.clinical.qc import MASK_CODES, QC_CODES, SEGMENTATION_CODES, STUDY_CODES
from scripts.clinical.qc_confusion import BANDS, confusion_markdown, qc_confusion
from tests.clinical.renal_fixtures import HAVE_SIMULATOR, simulate


def row(mask: str, err, qc_codes: str = "", error: str = "") -> dict:
    return {"mask": mask, "drf_error_integral": err, "qc_any": int(bool(qc_codes)), "qc_codes": qc_codes,
            "error": error}


#: model: 3 studies above 5 pp (2 flagged), 1 between, 4 within 2 pp (1 flagged), 1 refused, 1 without a DRF error
ROWS = [
    row("model", 43.0, "missing_kidney_uptake:right"),
    row("model", -7.5, "kidney_too_small:left;mask_fragment"),
    row("model", 5.01),
    row("model", 3.0, "mask_fragment"),
    row("model", 2.0),
    row("model", -0.4),
    row("model", 1.1, "low_kidney_background:left"),
    row("model", 0.0),
    row("model", None, error="study.dcm: empty mask"),
    row("model", float("nan")),
    row("gt_parenchyma", 0.5),
]


class TestConfusion(unittest.TestCase):
    def test_hand_made_rows(self):
        conf = qc_confusion(ROWS)
        self.assertEqual(list(conf), ["model", "gt_parenchyma"])
        m = conf["model"]
        self.assertEqual(m["above_high"], {"studies": 3, "with_qc": 2, "share_with_qc": 0.667})
        self.assertEqual(m["between"], {"studies": 1, "with_qc": 1, "share_with_qc": 1.0})
        self.assertEqual(m["at_most_low"], {"studies": 4, "with_qc": 1, "share_with_qc": 0.25})  # 2.0 is <= 2
        self.assertEqual((m["failed"], m["unmeasured"]), (1, 1))
        self.assertEqual(m["codes"], {"kidney_too_small": 1, "low_kidney_background": 1, "mask_fragment": 2,
                                      "missing_kidney_uptake": 1})
        g = conf["gt_parenchyma"]
        self.assertEqual(g["at_most_low"]["studies"], 1)
        self.assertIsNone(g["above_high"]["share_with_qc"])

    def test_only_the_mask_codes(self):
        m = qc_confusion(ROWS, codes=MASK_CODES)["model"]
        self.assertEqual(m["above_high"]["with_qc"], 2)
        self.assertEqual(m["at_most_low"], {"studies": 4, "with_qc": 0, "share_with_qc": 0.0})  # KTBR is not counted
        self.assertNotIn("low_kidney_background", m["codes"])
        self.assertTrue(set(MASK_CODES) <= set(QC_CODES))
        self.assertNotIn("low_kidney_background", MASK_CODES)

    def test_the_segmentation_codes_leave_out_the_study_codes_only(self):
        rows = ROWS + [row("model", 0.3, "motion;drf_method_disagreement"), row("model", 0.2, "motion")]
        m = qc_confusion(rows, codes=SEGMENTATION_CODES)["model"]
        # within 2 points: the KTBR-only and the motion-only studies are not counted, the disagreement one is
        self.assertEqual(m["at_most_low"], {"studies": 6, "with_qc": 1, "share_with_qc": 0.167})
        self.assertEqual(m["codes"], {"drf_method_disagreement": 1, "kidney_too_small": 1, "mask_fragment": 2,
                                      "missing_kidney_uptake": 1})
        self.assertEqual(set(SEGMENTATION_CODES) | set(STUDY_CODES), set(QC_CODES))
        self.assertFalse(set(SEGMENTATION_CODES) & set(STUDY_CODES))
        self.assertTrue(set(MASK_CODES) <= set(SEGMENTATION_CODES))
        self.assertEqual(qc_confusion(rows)["model"]["at_most_low"]["with_qc"], 3)  # any code: KTBR, motion counted

    def test_rows_read_back_from_csv_text_count_the_same(self):
        buf = io.StringIO()
        w = csv.DictWriter(buf, fieldnames=list(ROWS[0]))
        w.writeheader()
        for r in ROWS:
            w.writerow({k: ("" if v is None else v) for k, v in r.items()})
        read = list(csv.DictReader(io.StringIO(buf.getvalue())))
        self.assertEqual(qc_confusion(read), qc_confusion(ROWS))

    def test_limits_and_markdown(self):
        conf = qc_confusion(ROWS, low=1.0, high=10.0)
        self.assertEqual(conf["model"]["above_high"]["studies"], 1)
        self.assertEqual(sum(conf["model"][b]["studies"] for b in BANDS), 8)
        table = confusion_markdown(qc_confusion(ROWS))
        self.assertIn("| model | 2 / 3 (67 %) | 1 / 1 (100 %) | 1 / 4 (25 %) | 1 |", table)
        self.assertIn("| gt_parenchyma | 0 / 0 (-) | 0 / 0 (-) | 0 / 1 (0 %) | 0 | - |", table)
        self.assertEqual(confusion_markdown({}), "")


@unittest.skipUnless(HAVE_SIMULATOR, "scripts.simulation not available")
class TestValidateReportsTheConfusion(unittest.TestCase):
    def test_mask_missing_a_kidney_is_a_flagged_large_error(self):
        from scripts.validate_renal_function import main

        with tempfile.TemporaryDirectory() as tmp:
            tmp = Path(tmp)
            study = simulate(tmp / "studies", "sim_000")
            pred = tmp / "pred"
            pred.mkdir()
            lab = cv2.imread(str(study / "parenchyma.png"), cv2.IMREAD_UNCHANGED)
            cv2.imwrite(str(pred / "sim_000.png"), ((lab == 1) * 255).astype(np.uint8))  # the right kidney missed
            out = io.StringIO()
            with contextlib.redirect_stdout(out):
                rc = main(["--studies", str(tmp / "studies"), "--predictions", str(pred), "--out", str(tmp / "res")])
            self.assertEqual(rc, 0)
            conf = json.loads((tmp / "res" / "summary.json").read_text())["qc_confusion"]
            self.assertEqual(conf["model"]["above_high"]["studies"], 1)
            self.assertEqual(conf["model"]["above_high"]["with_qc"], 1)
            self.assertIn("missing_kidney_uptake", conf["model"]["codes"])
            self.assertEqual(sum(conf["gt_parenchyma"][b]["with_qc"] for b in BANDS), 0)
            self.assertIn("Segmentation QC against the DRF error", out.getvalue())
            meta = json.loads((tmp / "res" / "summary.json").read_text())
            self.assertEqual(meta["qc_confusion_mask_codes"]["model"]["above_high"]["with_qc"], 1)
            self.assertEqual(meta["qc_confusion_segmentation_codes"]["model"]["above_high"]["with_qc"], 1)
            self.assertIn("qc_confusion_segmentation_codes_combined", meta)
            self.assertIn("the segmentation codes (all but the study's low_kidney_background, motion)", out.getvalue())
            rows = list(csv.DictReader(io.StringIO((tmp / "res" / "per_study.csv").read_text())))
            model = next(r for r in rows if r["mask"] == "model")
            self.assertEqual((model["qc_any"], model["qc_codes"]), ("1", "missing_kidney_uptake:right"))


if __name__ == "__main__":
    unittest.main()
