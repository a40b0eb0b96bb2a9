# Copyright (c) 2026 Renogram parenchyma bundle contributors.
# Licensed under the Apache License, Version 2.0 (http://www.apache.org/licenses/LICENSE-2.0).
"""Tests of ``python -m scripts.prepare_dataset``: outputs, PNG read-back, patient split, bad input, atomic output."""

from __future__ import annotations

import contextlib
import io
import json
import tempfile
import unittest
from pathlib import Path

import numpy as np
import torch
from monai.data import load_decathlon_datalist
from monai.transforms import LoadImaged
from parameterized import parameterized
from PIL import Image

import custom_transforms as ct
from custom_transforms.pipeline import BUNDLE_CHAIN
from scripts.prepare_dataset import (
    PNG_READ_ARGS,
    BuildError,
    BuildOptions,
    _parser,
    build_dataset,
    main,
    options_from_args,
    protocol_name,
    simulator_facts,
    split_patients,
)
from tests.custom_transforms.nm_dicom import Phase, ramp_frames, write_nm_dicom

#: the paper's rule (7 frames, the 2nd and 3rd fused images labelled): the mechanism tests below use it
PAPER_RULE = {"min_start_s": 60.0, "group_size": 7, "window_s": None, "fused": (1, 2)}


def make_study(path: Path, seed: int, patient_id: str, shape=(32, 40)) -> None:
    """60 x 1 s + 40 x 15 s Poisson study with an off-centre blob (asymmetric, to catch transposes)."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[: shape[0], : shape[1]]
    blob = 20.0 * np.exp(-((yy - 10) ** 2 + (xx - 8) ** 2) / 15.0) + 2.0
    durations = np.array([1.0] * 60 + [15.0] * 40)
    frames = rng.poisson(blob[None] * durations[:, None, None]).astype(np.uint16)
    write_nm_dicom(
        path, frames, phases=[Phase(60, 1000), Phase(40, 15000)], patient_id=patient_id, pixel_spacing=(3, 3)
    )


def make_label(shape=(32, 40), values=(1, 2)) -> np.ndarray:
    lab = np.zeros(shape, np.uint8)
    lab[6:14, 4:12] = values[0]  # patient-left kidney, upper left (asymmetric)
    lab[16:25, 26:33] = values[1]
    return lab


class BuilderCase(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.root = Path(self.tmp.name)
        self.studies = self.root / "studies"
        self.studies.mkdir()
        # simulator layout: 4 studies of 3 patients (sim_b and sim_c share a patient via studies.csv)
        patients = {"sim_a": "pa", "sim_b": "pb", "sim_c": "pb", "sim_d": "pd"}
        for i, sid in enumerate(patients):
            d = self.studies / sid
            d.mkdir()
            make_study(d / "study.dcm", i, "SIM")
            Image.fromarray(make_label()).save(d / "parenchyma.png")
            (d / "truth.json").write_text(json.dumps({"age_years": 5}))
        rows = "".join(f"{s},{p}\n" for s, p in patients.items())
        (self.studies / "studies.csv").write_text("study_id,patient_id\n" + rows)
        # user layout: one with <stem>_label.png (0/255), one with labels/<stem>.png
        make_study(self.studies / "u1.dcm", 10, "U1")
        Image.fromarray(make_label(values=(255, 255))).save(self.studies / "u1_label.png")
        make_study(self.studies / "u2.dcm", 11, "U2")
        (self.studies / "labels").mkdir()
        Image.fromarray(make_label()).save(self.studies / "labels" / "u2.png")
        self.opts = BuildOptions(size=(64, 64), progress=False, split=(0.6, 0.2, 0.2), **PAPER_RULE)

    def tearDown(self):
        self.tmp.cleanup()

    def leftovers(self):
        return sorted(p.name for p in self.root.iterdir() if p.name not in ("studies",))


class TestBuildDataset(BuilderCase):
    def test_outputs_and_split(self):
        out = self.root / "ds"
        datalist = build_dataset(self.studies, out, self.opts)
        entries = [e for name in ("training", "validation", "test") for e in datalist[name]]
        self.assertEqual(len(entries), 6 * 2)
        self.assertEqual(datalist["skipped"], [])
        for e in entries:
            img = np.asarray(Image.open(out / e["image"]))
            lab = np.asarray(Image.open(out / e["label"]))
            nat = np.asarray(Image.open(out / e["label_native"]))
            self.assertEqual((img.shape, img.dtype), ((64, 64, 3), np.uint8))
            self.assertEqual(lab.shape, (64, 64))
            self.assertEqual(nat.shape, (32, 40))
            self.assertEqual(set(np.unique(lab)), {0, 1})
            np.testing.assert_array_equal(nat, (make_label() > 0).astype(np.uint8))
            self.assertIn(e["fused_index"], (1, 2))
            self.assertEqual(Path(e["image"]).name, f"{e['study']}_f{e['fused_index']}.png")
        # patient-level split: sim_b and sim_c (same patient) on the same side; no patient on two sides
        side = {e["study"]: name for name in ("training", "validation", "test") for e in datalist[name]}
        self.assertEqual(side["sim_b"], side["sim_c"])
        by_patient = {}
        for name in ("training", "validation", "test"):
            for e in datalist[name]:
                by_patient.setdefault(e["patient"], set()).add(name)
        self.assertTrue(all(len(s) == 1 for s in by_patient.values()), by_patient)
        self.assertEqual(by_patient.keys(), {"pa", "pb", "pd", "U1", "U2"})
        splits = json.loads((out / "splits.json").read_text())
        self.assertEqual(sorted(splits["training"] + splits["validation"] + splits["test"]), sorted(side))
        self.assertEqual(self.leftovers(), ["ds"])
        # MONAI reads the datalist with paths resolved against the dataset folder
        items = load_decathlon_datalist(out / "datalist.json", data_list_key="training", base_dir=out)
        self.assertTrue(all(Path(i["image"]).exists() and Path(i["label_native"]).exists() for i in items))

    def test_study_facts_and_kidney_labels(self):
        out = self.root / "ds"
        datalist = build_dataset(self.studies, out, self.opts)
        facts = datalist["study_facts"]
        self.assertEqual(sorted(facts), ["sim_a", "sim_b", "sim_c", "sim_d", "u1", "u2"])
        # a DICOM without truth: what the header says (rows, phases, tracer, PatientAge 006Y); no pathology
        self.assertEqual(facts["u1"], {"matrix": 32, "protocol": "60x1s+40x15s", "tracer": "MAG3", "age_years": 6.0})
        self.assertEqual(facts["sim_a"]["age_years"], 5)  # truth.json's fields
        self.assertEqual(facts["sim_a"]["matrix"], 32)
        on_disk = json.loads((out / "datalist.json").read_text())
        self.assertEqual(on_disk["study_facts"], facts)
        for e in (e for name in ("training", "validation", "test") for e in datalist[name]):
            sides = np.asarray(Image.open(out / e["label_kidneys"]))
            # 0/1/2 kept (simulator, labels/u2.png) and the 0/255 label of u1 split at its bounding box's midline
            np.testing.assert_array_equal(sides, make_label(), err_msg=e["study"])

    def test_protocol_names(self):
        self.assertEqual(protocol_name([1.0] * 60 + [15.0] * 76), "60x1s+76x15s")
        self.assertEqual(protocol_name([2.1] * 24 + [30.0] * 34 + [2.1]), "24x2.1s+34x30s+1x2.1s")

    def test_simulator_facts_are_read_generically(self):
        truth = {"matrix": 128, "tracer": "DTPA", "pathology": {"left": "normal", "right": "scarred"},
                 "collimator": "LEHR", "camera": {"psf_mm": 7.5, "name": "GP"}, "curves": {"time_s": [1, 2]},
                 "furosemide": None, "label_convention": "x" * 200}
        facts = simulator_facts(truth)
        self.assertEqual(facts, {"matrix": 128, "tracer": "DTPA", "pathology_left": "normal",
                                 "pathology_right": "scarred", "pathology": "scarred", "collimator": "LEHR",
                                 "camera_psf_mm": 7.5, "camera_name": "GP", "furosemide": "none"})
        self.assertEqual(simulator_facts({"furosemide": "F+20"})["furosemide"], "F+20")
        self.assertEqual(simulator_facts({"pathology": {"left": "normal", "right": "normal"}})["pathology"], "normal")
        both = simulator_facts({"pathology": {"left": "reduced", "right": "dilated"}})
        self.assertEqual(both["pathology"], "dilated+reduced")
        row = {"study_id": "s", "matrix": "64", "pathology_left": "obstructed", "pathology_right": "normal", "x": ""}
        self.assertEqual(simulator_facts(None, row), {"study_id": "s", "matrix": 64, "pathology_left": "obstructed",
                                                      "pathology_right": "normal", "pathology": "obstructed"})

    def test_default_options_build_the_bundle_rule(self):
        out = self.root / "ds"
        datalist = build_dataset(self.studies, out, BuildOptions(size=(64, 64), progress=False, split=(0.6, 0.2, 0.2)))
        entry = next(e for name in ("training", "validation", "test") for e in datalist[name] if e["study"] == "u1")
        self.assertEqual((entry["fused_index"], entry["fused_start_s"], entry["fused_end_s"]), (0, 60.0, 180.0))
        png = LoadImaged(keys="image", **PNG_READ_ARGS)({"image": str(out / entry["image"])})["image"]
        expected = ct.fused_image_pipeline(spatial_size=(64, 64), **{k: v for k, v in BUNDLE_CHAIN.items()})(
            {"image": str(self.studies / "u1.dcm")})["image"]
        self.assertLessEqual(float((png.as_tensor() / 255.0 - expected.as_tensor()).abs().max()), 0.5 / 255 + 1e-6)

    def test_png_read_back_equals_pipeline(self):
        out = self.root / "ds"
        datalist = build_dataset(self.studies, out, self.opts)
        entry = next(e for name in ("training", "validation", "test") for e in datalist[name] if e["study"] == "u1")
        loaded = LoadImaged(keys=["image", "label", "label_native"], **PNG_READ_ARGS)(
            {k: str(out / entry[k]) for k in ("image", "label", "label_native")}
        )
        self.assertEqual(tuple(loaded["image"].shape), (3, 64, 64))
        pipeline = ct.fused_image_pipeline(fused_index=entry["fused_index"], spatial_size=(64, 64))
        expected = pipeline({"image": str(self.studies / "u1.dcm")})["image"]
        diff = (loaded["image"].as_tensor() / 255.0 - expected.as_tensor()).abs().max()
        self.assertLessEqual(float(diff), 0.5 / 255 + 1e-6)
        # orientation: the native label read back is the input label, rows first (no transpose)
        self.assertEqual(tuple(loaded["label_native"].shape), (1, 32, 40))
        np.testing.assert_array_equal(loaded["label_native"][0].numpy(), make_label() > 0)
        # the resized label lines up with the resized image grid: the native mask resampled bilinear like the
        # image (half-pixel centres), kept where >= 0.5
        native_to_big = torch.nn.functional.interpolate(
            torch.as_tensor(make_label() > 0, dtype=torch.float32)[None, None], size=(64, 64), mode="bilinear",
            align_corners=False,
        )[0] >= 0.5
        torch.testing.assert_close(loaded["label"].as_tensor().float(), native_to_big.float())

    @parameterized.expand([["bilinear"], ["nearest"]])
    def test_label_resize(self, mode):
        rr, cc = np.mgrid[:32, :40]
        disc = ((rr - 15.3) ** 2 + (cc - 19.6) ** 2 <= 9.5**2).astype(np.uint8)  # a round kidney: staircase edges
        Image.fromarray(disc * 255).save(self.studies / "u1_label.png")
        out = self.root / f"ds_{mode}"
        opts = BuildOptions(**{**self.opts.__dict__, "label_resize": mode})
        datalist = build_dataset(self.studies, out, opts)
        entry = next(e for name in ("training", "validation", "test") for e in datalist[name] if e["study"] == "u1")
        big = LoadImaged(keys="label", **PNG_READ_ARGS)({"label": str(out / entry["label"])})["label"][0].numpy()
        native = torch.as_tensor(disc, dtype=torch.float32)[None, None]
        blocks = torch.nn.functional.interpolate(native, size=(64, 64), mode="nearest")[0, 0].numpy() > 0.5
        # nearest: every native pixel a block; bilinear: the blocks' corners cut (a smooth outline), same area
        self.assertEqual(bool((big == blocks).all()), mode == "nearest")
        self.assertLess(abs(int(big.sum()) - int(blocks.sum())), 0.05 * blocks.sum())
        self.assertEqual(datalist["options"]["label_resize"], mode)
        self.assertIn(mode, (out / "README.md").read_text())

    def test_label_resize_flag(self):
        args = _parser().parse_args(["--studies", "s", "--out", "o", "--label-resize", "nearest"])
        self.assertEqual(options_from_args(args, (64, 64), "jet").label_resize, "nearest")
        args = _parser().parse_args(["--studies", "s", "--out", "o"])
        self.assertEqual(options_from_args(args, (64, 64), "jet").label_resize, "outline")

    def _grid_label(self) -> np.ndarray:
        """A 64x64 label unlike the enlarged native one: two discs with the simulator's side values."""
        rr, cc = np.mgrid[:64, :64]
        lab = np.zeros((64, 64), np.uint8)
        lab[(rr - 20.2) ** 2 + (cc - 16.7) ** 2 <= 8.1**2] = 1
        lab[(rr - 41.5) ** 2 + (cc - 58.0) ** 2 <= 6.3**2] = 2
        return lab

    def test_simulator_outline_label_is_the_network_grid_label(self):
        grid = self._grid_label()
        Image.fromarray(grid).save(self.studies / "sim_a" / "parenchyma_64.png")
        Image.fromarray(grid).save(self.studies / "sim_b" / "parenchyma_128.png")  # another --size: not used
        by_mode = {}
        for mode in ("outline", "bilinear"):
            out = self.root / f"ds_{mode}"
            datalist = build_dataset(self.studies, out, BuildOptions(**{**self.opts.__dict__, "label_resize": mode}))
            by_mode[mode] = {
                e["study"]: (e["label_source"], np.asarray(Image.open(out / e["label"])))
                for name in ("training", "validation", "test") for e in datalist[name]
            }
        source, label = by_mode["outline"]["sim_a"]
        self.assertEqual(source, "outline")
        np.testing.assert_array_equal(label, (grid > 0).astype(np.uint8))
        # a study without a label at --size, and every study under --label-resize bilinear: the enlarged native one
        self.assertEqual(by_mode["outline"]["sim_b"][0], "bilinear")
        np.testing.assert_array_equal(by_mode["outline"]["sim_b"][1], by_mode["bilinear"]["sim_b"][1])
        self.assertEqual(by_mode["bilinear"]["sim_a"][0], "bilinear")
        np.testing.assert_array_equal(by_mode["bilinear"]["sim_a"][1], by_mode["bilinear"]["sim_d"][1])
        self.assertFalse(np.array_equal(by_mode["bilinear"]["sim_a"][1], label))
        self.assertIn("parenchyma_<size>.png", (self.root / "ds_outline" / "README.md").read_text())

    def test_wrong_sized_outline_label_skips_the_study(self):
        Image.fromarray(self._grid_label()[:50, :50]).save(self.studies / "sim_a" / "parenchyma_64.png")
        out = self.root / "ds"
        with contextlib.redirect_stderr(io.StringIO()):
            datalist = build_dataset(self.studies, out, self.opts)
        reasons = {s["study"]: s["reason"] for s in datalist["skipped"]}
        self.assertEqual(set(reasons), {"sim_a"})
        self.assertIn("parenchyma_64.png", reasons["sim_a"])
        self.assertIn("label is 50x50 but --size is (64, 64)", reasons["sim_a"])
        self.assertTrue((self.studies / "sim_a" / "parenchyma_64.png").exists())  # the input is left as it was

    def test_per_fused_image_labels(self):
        make_study(self.studies / "u3.dcm", 12, "U3")
        second = make_label()
        second[:, :20] = 0  # fused image 2 labelled with the right kidney only
        Image.fromarray(make_label()).save(self.studies / "u3_f1_label.png")
        (self.studies / "labels" / "u3_f2.png").write_bytes(b"")  # lower priority than <stem>_f<k>_label.png
        Image.fromarray(second).save(self.studies / "u3_f2_label.png")
        out = self.root / "ds"
        opts = BuildOptions(**{**self.opts.__dict__, "fused": (1, 2, 2, -3)})  # duplicates written once
        datalist = build_dataset(self.studies, out, opts)
        u3 = sorted(
            (e for n in ("training", "validation", "test") for e in datalist[n] if e["study"] == "u3"),
            key=lambda e: e["fused_index"],
        )
        self.assertEqual([e["fused_index"] for e in u3], [1, 2])
        np.testing.assert_array_equal(np.asarray(Image.open(out / u3[0]["label_native"])), make_label() > 0)
        np.testing.assert_array_equal(np.asarray(Image.open(out / u3[1]["label_native"])), second > 0)

    def test_unknown_pixel_spacing_is_null_in_strict_json(self):
        import pydicom

        ds = pydicom.dcmread(self.studies / "u1.dcm")
        del ds.PixelSpacing
        ds.save_as(self.studies / "u1.dcm")
        out = self.root / "ds"
        build_dataset(self.studies, out, self.opts)

        def reject(token):
            raise ValueError(f"non-standard JSON constant {token}")

        datalist = json.loads((out / "datalist.json").read_text(), parse_constant=reject)
        u1 = [e for n in ("training", "validation", "test") for e in datalist[n] if e["study"] == "u1"]
        self.assertEqual(u1[0]["pixel_spacing_mm"], [None, None])

    def test_grayscale(self):
        out = self.root / "ds"
        build_dataset(self.studies, out, BuildOptions(size=(48, 48), colormap=None, progress=False, fused=(0,)))
        img = Image.open(next((out / "images").iterdir()))
        self.assertEqual((img.mode, img.size), ("L", (48, 48)))

    def test_split_is_seeded_and_stable(self):
        a = build_dataset(self.studies, self.root / "a", self.opts)
        b = build_dataset(self.studies, self.root / "b", self.opts)
        c = build_dataset(self.studies, self.root / "c", BuildOptions(**{**self.opts.__dict__, "seed": 5}))
        names = ("training", "validation", "test")
        self.assertEqual([[e["image"] for e in a[n]] for n in names], [[e["image"] for e in b[n]] for n in names])
        self.assertEqual(
            sorted(e["image"] for n in names for e in c[n]), sorted(e["image"] for n in names for e in a[n])
        )

    def test_frozen_split_reuse(self):
        build_dataset(self.studies, self.root / "a", self.opts)
        frozen = json.loads((self.root / "a" / "splits.json").read_text())
        frozen["test"].append(frozen["training"].pop())  # a different split, frozen by hand
        frozen_file = self.root / "frozen.json"
        frozen_file.write_text(json.dumps(frozen))
        opts = BuildOptions(**{**self.opts.__dict__, "splits_file": str(frozen_file), "seed": 99})
        b = build_dataset(self.studies, self.root / "b", opts)
        for name in ("training", "validation", "test"):
            self.assertEqual(sorted({e["study"] for e in b[name]}), sorted(frozen[name]))

    def test_split_patients_counts(self):
        got = split_patients([f"p{i}" for i in range(10)], (0.8, 0.1, 0.1), seed=0)
        self.assertEqual(sorted(got.values()).count("training"), 8)
        self.assertEqual(sorted(got.values()).count("test"), 1)
        few = split_patients(["a", "b", "c"], (0.8, 0.1, 0.1), seed=0)
        self.assertEqual(sorted(few.values()), ["test", "training", "validation"])
        self.assertEqual(
            split_patients(["x", "y"], (0.8, 0.2, 0.0), 3), split_patients(["y", "x", "y"], (0.8, 0.2, 0.0), 3)
        )


class TestBadInput(BuilderCase):
    def add_bad_studies(self):
        (self.studies / "junk.dcm").write_text("not dicom")
        Image.fromarray(make_label()).save(self.studies / "junk_label.png")
        write_nm_dicom(self.studies / "short.dcm", ramp_frames(10, (32, 40)), phases=[Phase(10, 1000)])
        Image.fromarray(make_label()).save(self.studies / "short_label.png")
        make_study(self.studies / "nolabel.dcm", 20, "N")
        make_study(self.studies / "wrongsize.dcm", 21, "W")
        Image.fromarray(np.ones((16, 16), np.uint8)).save(self.studies / "wrongsize_label.png")
        make_study(self.studies / "empty.dcm", 22, "E")
        Image.fromarray(np.zeros((32, 40), np.uint8)).save(self.studies / "empty_label.png")

    def test_skip_and_report(self):
        self.add_bad_studies()
        out = self.root / "ds"
        datalist = build_dataset(self.studies, out, self.opts)
        reasons = {s["study"]: s["reason"] for s in datalist["skipped"]}
        self.assertEqual(set(reasons), {"junk", "short", "nolabel", "wrongsize", "empty"})
        self.assertTrue(reasons["junk"].startswith(str(self.studies / "junk.dcm")))
        self.assertIn("not a DICOM", reasons["junk"])
        self.assertIn("no frame is left after dropping the first 60 s", reasons["short"])
        self.assertIn("no label file", reasons["nolabel"])
        self.assertIn("label is 16x16 but the study matrix is (32, 40)", reasons["wrongsize"])
        self.assertIn("label is empty", reasons["empty"])
        written = {p.name.split("_f")[0] for p in (out / "images").iterdir()}
        self.assertFalse(written & set(reasons))

    def test_stop_leaves_nothing(self):
        self.add_bad_studies()
        err = io.StringIO()
        with contextlib.redirect_stderr(err):
            code = main(
                ["--studies", str(self.studies), "--out", str(self.root / "ds"), "--on-error", "stop", "--quiet"]
            )
        self.assertEqual(code, 2)
        lines = err.getvalue().strip().splitlines()
        self.assertEqual(len(lines), 1, lines)
        self.assertIn("empty_label.png: label is empty", lines[0])  # studies run in id order: 'empty' comes first
        self.assertEqual(self.leftovers(), [])

    def test_refuses_to_overwrite(self):
        out = self.root / "ds"
        out.mkdir()
        (out / "keep.txt").write_text("precious")
        with self.assertRaisesRegex(BuildError, "exists and is not empty"):
            build_dataset(self.studies, out, self.opts)
        self.assertEqual((out / "keep.txt").read_text(), "precious")
        build_dataset(self.studies, out, BuildOptions(**{**self.opts.__dict__, "overwrite": True}))
        self.assertFalse((out / "keep.txt").exists())
        self.assertTrue((out / "datalist.json").exists())
        self.assertEqual(self.leftovers(), ["ds"])

    def test_no_usable_study(self):
        empty = self.root / "empty_studies"
        empty.mkdir()
        (empty / "x.dcm").write_text("junk")
        with self.assertRaisesRegex(BuildError, "no usable study"):
            build_dataset(empty, self.root / "ds", self.opts)
        self.assertEqual(self.leftovers(), ["empty_studies"])

    def test_cli_errors(self):
        err = io.StringIO()
        with contextlib.redirect_stderr(err), self.assertRaises(SystemExit) as ctx:
            main(["--studies", str(self.studies), "--out", str(self.root / "ds"), "--colormap", "nope"])
        self.assertEqual(ctx.exception.code, 2)
        with contextlib.redirect_stderr(io.StringIO()):
            code = main(["--studies", str(self.root / "absent"), "--out", str(self.root / "ds"), "--quiet"])
        self.assertEqual(code, 2)
        with contextlib.redirect_stderr(io.StringIO()):
            code = main(
                ["--studies", str(self.studies), "--out", str(self.root / "ds"), "--split", "0.5", "0.2", "0.2"]
            )
        self.assertEqual(code, 2)


if __name__ == "__main__":
    unittest.main()


def _simulator_available() -> bool:
    try:
        from scripts.simulation import sample_study_config, simulate_study, write_studies_csv, write_study  # noqa: F401
    except ImportError:
        return False
    return True


@unittest.skipUnless(_simulator_available(), "scripts.simulation is not available")
class TestSimulatedStudies(unittest.TestCase):
    """The builder on the simulator's own output layout (3 studies at 64x64, two protocols)."""

    @classmethod
    def setUpClass(cls):
        from scripts.simulation import sample_study_config, simulate_study, write_studies_csv, write_study

        cls.tmp = tempfile.TemporaryDirectory()
        cls.studies = Path(cls.tmp.name) / "sim"
        cls.studies.mkdir()
        for i, protocol in enumerate(("paper136", "eanm117", "paper136")):
            study = simulate_study(sample_study_config(100 + i, matrix=64, protocol=protocol))
            write_study(study, cls.studies, f"s{i}")
        write_studies_csv(cls.studies)
        (cls.studies / ".sim-tmp-s9-123").mkdir()  # a study being written by the simulator is ignored
        (cls.studies / ".sim-tmp-s9-123" / "study.dcm").write_bytes(b"partial")
        cls.out = Path(cls.tmp.name) / "ds"
        cls.datalist = build_dataset(
            cls.studies, cls.out, BuildOptions(size=(64, 64), progress=False, split=(0.4, 0.3, 0.3), **PAPER_RULE)
        )

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def test_all_studies_used_with_truth_timing(self):
        entries = [e for name in ("training", "validation", "test") for e in self.datalist[name]]
        self.assertEqual(self.datalist["skipped"], [])
        self.assertEqual(sorted({e["study"] for e in entries}), ["s0", "s1", "s2"])
        self.assertEqual(len(entries), 6)
        self.assertEqual({len(self.datalist[n]) for n in ("training", "validation", "test")}, {2})
        for e in entries:
            truth = json.loads((self.studies / e["study"] / "truth.json").read_text())
            frames, meta = ct.read_dynamic_study(self.studies / e["study"] / "study.dcm")
            np.testing.assert_allclose(meta["frame_duration_s"], truth["frame_durations_s"], atol=1e-6)
            np.testing.assert_allclose(meta["pixel_spacing_mm"], truth["pixel_spacing_mm"], atol=1e-4)
            self.assertEqual(e["patient"], truth.get("patient_id", e["study"]))
            # fused image k of 7-frame groups after the first minute: its start is the (7k)-th frame at >= 60 s
            starts = np.asarray(meta["frame_start_s"])
            kept = starts[starts >= 60.0 - 1e-3]
            self.assertAlmostEqual(e["fused_start_s"], float(kept[7 * e["fused_index"]]), places=5)
            native = np.asarray(Image.open(self.out / e["label_native"]))
            parenchyma = np.asarray(Image.open(self.studies / e["study"] / "parenchyma.png"))
            np.testing.assert_array_equal(native, (parenchyma > 0).astype(np.uint8))

    def test_study_facts_from_truth(self):
        self.assertEqual(sorted(self.datalist["study_facts"]), ["s0", "s1", "s2"])
        for sid, facts in self.datalist["study_facts"].items():
            truth = json.loads((self.studies / sid / "truth.json").read_text())
            for key in ("matrix", "protocol", "tracer", "age_years"):
                self.assertEqual(facts[key], truth[key], (sid, key))
            self.assertEqual(facts["furosemide"], truth["furosemide"] or "none")
            if "collimator" in truth.get("camera", {}):  # nested facts are flattened one level
                self.assertEqual(facts["camera_collimator"], truth["camera"]["collimator"])
            self.assertEqual(facts["camera_mu_per_cm"], truth["camera"]["mu_per_cm"])
            abnormal = sorted({v for v in truth["pathology"].values() if v != "normal"})
            self.assertEqual(facts["pathology"], "+".join(abnormal) or "normal")
        for e in (e for name in ("training", "validation", "test") for e in self.datalist[name]):
            sides = np.asarray(Image.open(self.out / e["label_kidneys"]))
            truth_map = np.asarray(Image.open(self.studies / e["study"] / "parenchyma.png"))
            np.testing.assert_array_equal(sides, truth_map)

    def test_png_equals_pipeline(self):
        e = self.datalist["training"][0]
        png = LoadImaged(keys="image", **PNG_READ_ARGS)({"image": str(self.out / e["image"])})["image"]
        pipe = ct.fused_image_pipeline(fused_index=e["fused_index"], spatial_size=(64, 64))
        expected = pipe({"image": str(self.studies / e["study"] / "study.dcm")})["image"]
        self.assertLessEqual(float((png.as_tensor() / 255.0 - expected.as_tensor()).abs().max()), 0.5 / 255 + 1e-6)
