# Copyright (c) 2026 Renogram parenchyma bundle contributors.
# Licensed under the Apache License, Version 2.0 (http://www.apache.org/licenses/LICENSE-2.0).
"""The bundle's inference (``bundle/configs/inference.json`` through ``ConfigWorkflow``) on vendor variants of NM DICOM.

A study whose ``TimeSliceVector`` counts 1..N over all phases (cumulative) holds the same frames at the same times as
the standard per-phase one, so inference must give it the same mask. A fixed threshold "network"
(:class:`tests.bundle.bundle_fixtures.ThresholdNet`) makes the mask depend only on the preprocessed image.
"""

from __future__ import annotations

import shutil
import tempfile
import unittest
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from tests.bundle.bundle_fixtures import TINY_OVERRIDES, make_workflow
from tests.custom_transforms.nm_dicom import PHANTOM_PHASES, phantom_study, write_nm_dicom


class TestInferenceOnVendorVariants(unittest.TestCase):
    def test_cumulative_time_slices_give_the_per_phase_mask(self):
        tmp = Path(tempfile.mkdtemp(prefix="bundle_vendor_"))
        self.addCleanup(shutil.rmtree, tmp, True)
        (tmp / "models").mkdir()
        torch.save({"scale": torch.tensor(20.0)}, tmp / "models" / "model.pt")
        frames, _ = phantom_study(seed=3, size=32)
        inputs = tmp / "in"
        inputs.mkdir()
        write_nm_dicom(inputs / "per_phase.dcm", frames, phases=PHANTOM_PHASES)
        write_nm_dicom(inputs / "cumulative.dcm", frames, phases=PHANTOM_PHASES, time_slices="cumulative")
        overrides = dict(TINY_OVERRIDES, network_def={"_target_": "tests.bundle.bundle_fixtures.ThresholdNet"})
        wf = make_workflow(["inference.json"], "infer", bundle_root=str(tmp), dataset_dir=str(inputs),
                           output_dir=str(tmp / "out"), save_overlay=False, **overrides)
        wf.initialize()
        wf.run()
        wf.finalize()
        per_phase = np.asarray(Image.open(tmp / "out" / "per_phase_mask.png"))
        cumulative = np.asarray(Image.open(tmp / "out" / "cumulative_mask.png"))
        self.assertEqual(cumulative.shape, (32, 32))  # the study's native matrix
        self.assertGreater(int(cumulative.sum()), 0)
        np.testing.assert_array_equal(cumulative, per_phase)


if __name__ == "__main__":
    unittest.main()
