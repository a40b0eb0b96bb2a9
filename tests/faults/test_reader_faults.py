# Copyright (c) 2026 Renogram parenchyma bundle contributors.
# Licensed under the Apache License, Version 2.0 (http://www.apache.org/licenses/LICENSE-2.0).
"""Fault injection for the one study reader (:func:`custom_transforms.read_dynamic_study`) and the commands on top.

Reader level: each bad input gives a :class:`~custom_transforms.errors.RenogramInputError` that starts with the file's
path and says what is wrong; each vendor variant loads; the input file is unchanged either way (checksum).

Command level, for studies that hold no counts or are flat: ``scripts.prepare_dataset`` builds the dataset of the good
studies, names each skipped study with its reason (stderr, ``skipped.json``) and exits 2; the bundle's inference writes
the good study's mask, lists the bad ones in ``skipped.json`` and exits 2. Neither changes its inputs or leaves a
half-written folder.

The reader-level case tables are those of :mod:`tests.custom_transforms.test_io_variants` (one list of cases).
"""

from __future__ import annotations

import json
import shutil
import tempfile
import unittest
import warnings
from pathlib import Path

import numpy as np
import torch
from parameterized import parameterized
from PIL import Image

from custom_transforms import RenogramInputError, read_dynamic_study
from tests.custom_transforms.nm_dicom import PHANTOM_PHASES, phantom_study, ramp_frames, write_nm_dicom
from tests.custom_transforms.test_io_variants import CONTRADICTIONS, NOT_COUNTS, VARIANTS
from tests.faults.harness import assert_fault, assert_no_leftovers, run_main, tree_checksum

#: a 16-bit study at the top of the range, varying by less than 0.3 %: "every pixel near 65535".
_FLAT = (65535 - np.random.default_rng(5).integers(0, 200, (51, 32, 32))).astype(np.uint16)


def _write_dicom_case(folder: Path, kwargs: dict) -> Path:
    kwargs = dict(kwargs)
    frames = kwargs.pop("frames", ramp_frames(5))
    return write_nm_dicom(folder / "case.dcm", frames, **kwargs)


class TestReaderFaults(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.dir = Path(self.tmp.name)

    def tearDown(self):
        self.tmp.cleanup()

    def _assert_refused(self, path: Path, fragment: str) -> None:
        before = tree_checksum(self.dir)
        with self.assertRaises(RenogramInputError) as ctx:
            read_dynamic_study(path)
        message = str(ctx.exception)
        self.assertTrue(message.startswith(f"{path}: "), message)
        self.assertIn(fragment, message)
        self.assertNotIn("\n", message)
        self.assertEqual(tree_checksum(self.dir), before)

    @parameterized.expand(CONTRADICTIONS)
    def test_contradictory_timing_is_refused(self, _name, kwargs, fragment):
        self._assert_refused(_write_dicom_case(self.dir, kwargs), fragment)

    @parameterized.expand(NOT_COUNTS)
    def test_pixels_that_are_not_counts_are_refused(self, _name, writer, frames, kwargs, fragment):
        self._assert_refused(writer(self.dir, frames, **kwargs), fragment)

    @parameterized.expand(VARIANTS)
    def test_vendor_variant_loads(self, _name, kwargs, starts, _first_pixels, _note):
        path = _write_dicom_case(self.dir, kwargs)
        before = tree_checksum(self.dir)
        _, meta = read_dynamic_study(path)
        np.testing.assert_allclose(meta["frame_start_s"], starts)
        self.assertEqual(tree_checksum(self.dir), before)


def _study_folder(root: Path) -> Path:
    """A cumulative-TimeSliceVector study, a standard one, an all-zero one and a flat one, each with a label."""
    studies = root / "studies"
    studies.mkdir()
    frames, label = phantom_study(seed=0)
    write_nm_dicom(
        studies / "a_cumulative.dcm", frames, phases=PHANTOM_PHASES, time_slices="cumulative", patient_id="A"
    )
    write_nm_dicom(studies / "b_standard.dcm", phantom_study(seed=1)[0], phases=PHANTOM_PHASES, patient_id="B")
    write_nm_dicom(studies / "c_zero.dcm", np.zeros_like(frames), phases=PHANTOM_PHASES, patient_id="C")
    write_nm_dicom(studies / "d_flat.dcm", _FLAT, phases=PHANTOM_PHASES, patient_id="D")
    for stem in ("a_cumulative", "b_standard", "c_zero", "d_flat"):
        Image.fromarray(label).save(studies / f"{stem}_label.png")
    return studies


BAD_STUDIES = {"c_zero.dcm": "holds no counts (every pixel is 0)", "d_flat.dcm": "): not a count image"}


class TestCommandsSkipNonCountStudies(unittest.TestCase):
    def setUp(self):
        self.tmp = Path(tempfile.mkdtemp(prefix="reader_faults_"))
        self.addCleanup(shutil.rmtree, self.tmp, True)
        self.studies = _study_folder(self.tmp)
        self.before = tree_checksum(self.studies)

    def _assert_skip_list(self, out: Path, command: str) -> None:
        skipped = json.loads((out / "skipped.json").read_text())
        self.assertEqual(skipped["command"], command)
        reasons = {Path(e["input"]).name: e["reason"] for e in skipped["skipped"]}
        self.assertEqual(set(reasons), set(BAD_STUDIES))
        for name, fragment in BAD_STUDIES.items():
            self.assertIn(fragment, reasons[name])
            self.assertIn(name, reasons[name])

    def test_prepare_dataset_skips_empty_and_flat_studies_with_the_reason(self):
        from scripts import prepare_dataset

        out = self.tmp / "dataset"
        code, _, err = run_main(
            prepare_dataset.main, ["--studies", str(self.studies), "--out", str(out), "--size", "32", "--quiet"]
        )
        for name, fragment in BAD_STUDIES.items():
            assert_fault(self, code, err, 2, fragment, named_file=self.studies / name, max_lines=3)
        self._assert_skip_list(out, "prepare_dataset")
        datalist = json.loads((out / "datalist.json").read_text())
        used = {e["study"] for split in ("training", "validation", "test") for e in datalist[split]}
        self.assertEqual(used, {"a_cumulative", "b_standard"})
        self.assertEqual(tree_checksum(self.studies), self.before)
        assert_no_leftovers(self, out)

    def test_bundle_inference_skips_empty_and_flat_studies_with_the_reason(self):
        from tests.bundle.bundle_fixtures import TINY_OVERRIDES, make_workflow

        bundle_root = self.tmp / "bundle"
        (bundle_root / "models").mkdir(parents=True)
        torch.save({"scale": torch.tensor(20.0)}, bundle_root / "models" / "model.pt")
        inputs = self.tmp / "inputs"
        inputs.mkdir()
        for name in ("a_cumulative.dcm", *BAD_STUDIES):
            shutil.copy2(self.studies / name, inputs / name)
        before = tree_checksum(inputs)
        out = self.tmp / "masks"
        overrides = dict(TINY_OVERRIDES, network_def={"_target_": "tests.bundle.bundle_fixtures.ThresholdNet"})

        def infer(_argv: list[str]) -> int:
            with warnings.catch_warnings():  # MONAI's config warnings come once per process: not the command's output
                warnings.simplefilter("ignore")
                wf = make_workflow(["inference.json"], "infer", bundle_root=str(bundle_root), dataset_dir=str(inputs),
                                   output_dir=str(out), save_overlay=False, **overrides)
                wf.initialize()
                wf.run()
                wf.finalize()
            return 0

        code, _, err = run_main(infer, [])
        for name, fragment in BAD_STUDIES.items():
            assert_fault(self, code, err, 2, fragment, named_file=inputs / name, max_lines=3)
        self._assert_skip_list(out, "inference")
        self.assertEqual(np.asarray(Image.open(out / "a_cumulative_mask.png")).shape, (32, 32))
        self.assertEqual(sorted(p.name for p in out.glob("*_mask.png")), ["a_cumulative_mask.png"])
        self.assertEqual(tree_checksum(inputs), before)
        assert_no_leftovers(self, out)


if __name__ == "__main__":
    unittest.main()
