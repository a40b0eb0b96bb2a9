# Copyright (c) 2026 Renogram parenchyma bundle contributors.
# Licensed under the Apache License, Version 2.0 (http://www.apache.org/licenses/LICENSE-2.0).
"""The in-process segmenter uses the rule the weights were trained with; the shipped model on the real study.

:class:`scripts.clinical.segment.BundleSegmenter` has no preprocessing ids of its own: it takes the record in
``model.pt`` over ``inference.json``'s ids, refuses an explicit id that differs from it, and uses ``inference.json``'s
ids for weights without a record. The real-data test runs the shipped model on the adult MAG3 study of
``../shared/realdata`` (skipped where it is absent; never copied into the repository).
"""

from __future__ import annotations

import contextlib
import io
import shutil
import tempfile
import unittest
from pathlib import Path

import numpy as np
import torch
from scipy import ndimage as ndi

from custom_transforms.pipeline import BUNDLE_CHAIN, FUSION_RULES, FusedImageChain
from custom_transforms.resume import TrainingSettings
from scripts.clinical.segment import BundleSegmenter, MissingModelError
from tests.bundle.bundle_fixtures import ThresholdNet
from tests.clinical.renal_fixtures import HAVE_SIMULATOR, REPO, make_tiny_bundle, simulate

REAL_STUDY = REPO.parent / "shared" / "realdata" / "roim_renal_mag3_posterior_deid.dcm"

#: a rule other than inference.json's (the bundle's 1-3 min window): the paper's 7 frames, the 2nd fused image.
TRAINED = {
    "network_name": "transformer_unet",
    "network_kwargs": {},
    "in_channels": 3,
    "image_size": [64, 64],
    **BUNDLE_CHAIN,
    **FUSION_RULES["paper"],
}


@unittest.skipUnless(HAVE_SIMULATOR, "simulator missing")
class TestSegmenterUsesTheTrainingRule(unittest.TestCase):
    @classmethod
    def setUpClass(cls) -> None:
        cls.tmp = Path(tempfile.mkdtemp(prefix="segment_rule_"))
        cls.study = simulate(cls.tmp / "studies", "s") / "study.dcm"
        cls.old = make_tiny_bundle(cls.tmp / "old")  # weights without a record
        cls.recorded = make_tiny_bundle(cls.tmp / "recorded")
        state = {"model": ThresholdNet().state_dict(), "settings": TrainingSettings(TRAINED).state_dict()}
        torch.save(state, cls.recorded / "models" / "model.pt")

    @classmethod
    def tearDownClass(cls) -> None:
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def test_recorded_rule_replaces_inference_json_ids(self):
        seg = BundleSegmenter(self.recorded)
        self.assertEqual(seg.fused_index, 1)
        self.assertEqual(seg.training_rule, TRAINED)
        expected = FusedImageChain(**FUSION_RULES["paper"])(self.study)
        torch.testing.assert_close(seg.chain(self.study), expected)
        bundle_rule = FusedImageChain(**FUSION_RULES["time_window"])(self.study)
        self.assertFalse(torch.equal(bundle_rule, expected))  # the rule matters on this study
        # the config's preprocessing (what the network sees) follows the record too: the same as explicit ids
        explicit = BundleSegmenter(self.recorded, fused_index=1, overrides={"window_s": None})
        torch.testing.assert_close(
            seg.preprocessing({"image": str(self.study)})["image"],
            explicit.preprocessing({"image": str(self.study)})["image"],
        )
        mask = seg(self.study)
        np.testing.assert_array_equal(mask, explicit(self.study))
        unrecorded = BundleSegmenter(self.old)(self.study)
        self.assertFalse(np.array_equal(mask, unrecorded), "the recorded rule gave inference.json's rule's mask")

    def test_explicit_id_that_differs_is_refused(self):
        weights = self.recorded / "models" / "model.pt"
        with self.assertRaises(MissingModelError) as ctx:
            BundleSegmenter(self.recorded, fused_index=0)
        self.assertEqual(
            str(ctx.exception),
            f"{weights}: was trained with fused_index=1; this run has fused_index=0: set the same ids, or retrain",
        )
        with self.assertRaisesRegex(MissingModelError, r"was trained with window_s=None; this run has window_s=60"):
            BundleSegmenter(self.recorded, overrides={"window_s": 60.0})

    def test_weights_without_record_use_inference_json(self):
        with self.assertLogs("custom_transforms.checkpoints", "WARNING") as logs:
            seg = BundleSegmenter(self.old)
        self.assertIn("could not be checked", logs.output[0])
        self.assertEqual((seg.fused_index, seg.training_rule), (0, {}))
        torch.testing.assert_close(seg.chain(self.study), FusedImageChain(**FUSION_RULES["time_window"])(self.study))
        self.assertEqual(BundleSegmenter(self.old, fused_index=2).fused_index, 2)  # an explicit id is used as given


@unittest.skipUnless(REAL_STUDY.is_file(), "real study not available (../shared/realdata)")
class TestShippedModelOnRealStudy(unittest.TestCase):
    @classmethod
    def setUpClass(cls) -> None:
        with contextlib.redirect_stderr(io.StringIO()):
            cls.mask, cls.prob = BundleSegmenter(REPO / "bundle", overrides={"device": "cpu"}).segment_with_probability(
                REAL_STUDY)
            cls.raw = BundleSegmenter(REPO / "bundle", overrides={"device": "cpu", "remove_fragments": False})(
                REAL_STUDY)
        cls.labels, cls.n = ndi.label(cls.mask > 0, structure=np.ones((3, 3)))
        cls.areas = ndi.sum_labels(cls.mask > 0, cls.labels, range(1, cls.n + 1))

    def test_each_kidney_is_found_once(self):
        """The two largest regions are kidneys: one each side of the midline, neither a speck nor half the abdomen."""
        h, w = self.mask.shape
        self.assertGreaterEqual(self.n, 2, f"{self.n} connected regions, expected at least one per kidney")
        largest = np.argsort(-self.areas)[:2] + 1
        for area in self.areas[largest - 1]:
            self.assertTrue(0.002 * h * w <= area <= 0.08 * h * w, f"region of {area:.0f} px on a {h}x{w} matrix")
        columns = sorted(c for _, c in ndi.center_of_mass(self.mask > 0, self.labels, largest))
        self.assertLess(columns[0], w / 2, "no kidney left of the midline")
        self.assertGreater(columns[1], w / 2, "no kidney right of the midline")
        # the rest are fragments, each far smaller than a kidney (the report's QC flags them: mask_fragment)
        rest = np.sort(self.areas)[:-2]
        self.assertTrue(all(a < 0.5 * self.areas.max() for a in rest), f"region sizes {sorted(self.areas)}")

    def test_one_parenchyma_region_per_kidney(self):
        """The 0.5.0 network adds a 19-px fragment in this adult's hot liver; the bundle's post-processing
        (``custom_transforms.fragments``, inference.json ``fragments``) removes it."""
        self.assertEqual(self.n, 2, f"{self.n} connected regions, expected one per kidney")

    def test_the_fragment_rule_removes_the_liver_fragment_only(self):
        """Without the rule (``remove_fragments`` false) the network's mask has the liver fragment above both kidneys;
        the rule removes it and nothing else, and the probability the DRF interval re-thresholds is 0 there."""
        _, n_raw = ndi.label(self.raw > 0, structure=np.ones((3, 3)))
        self.assertEqual(n_raw, 3)
        removed = (self.raw > 0) & (self.mask == 0)
        self.assertFalse(((self.mask > 0) & (self.raw == 0)).any())
        _, n_removed = ndi.label(removed, structure=np.ones((3, 3)))
        self.assertEqual(n_removed, 1)
        rows = np.nonzero(removed)[0]
        self.assertLess(rows.max(), np.nonzero(self.mask)[0].min(), "the removed region lies above both kidneys")
        self.assertEqual(float(self.prob[removed].max()), 0.0)


if __name__ == "__main__":
    unittest.main()
