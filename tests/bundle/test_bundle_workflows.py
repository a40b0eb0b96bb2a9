# Copyright (c) 2026 Renogram parenchyma bundle contributors.
# Licensed under the Apache License, Version 2.0 (http://www.apache.org/licenses/LICENSE-2.0).
"""Train, evaluate and infer through ``monai.bundle.ConfigWorkflow`` on tiny data (model-zoo's bundle CI pattern).

Modelled on model-zoo ``ci/unit_tests/test_endoscopic_tool_segmentation.py``: write a dataset to a temp folder, run the
bundle's own configs with size overrides, check the workflow properties, run and finalize.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import os
import shutil
import subprocess
import sys
import tempfile
import unittest
from pathlib import Path

import numpy as np
import pytest
import torch
from ignite.engine import Events
from parameterized import parameterized
from PIL import Image

from tests.bundle.bundle_fixtures import (
    BUNDLE,
    CONFIGS,
    REPO_ROOT,
    TINY_OVERRIDES,
    error_text,
    make_png_dataset,
    make_workflow,
    simulated_dataset,
)


def check_workflow(workflow, check_properties: bool = False) -> None:
    """model-zoo's ``ci/unit_tests/utils.check_workflow``: property check, then run and finalize."""
    if check_properties:
        missing = workflow.check_properties()
        if missing:
            raise ValueError(f"check properties for workflow failed: {missing}")
    workflow.run()
    workflow.finalize()


def _state_dict_file(path: Path) -> dict:
    return torch.load(path, map_location="cpu", weights_only=True)


class TestTrainEvaluateInfer(unittest.TestCase):
    """One tiny dataset and bundle folder shared by the tests of this class (training runs once)."""

    @classmethod
    def setUpClass(cls) -> None:
        cls.tmp = Path(tempfile.mkdtemp(prefix="bundle_wf_"))
        cls.dataset = make_png_dataset(cls.tmp / "dataset")
        cls.bundle_root = cls.tmp / "bundle"
        (cls.bundle_root / "models").mkdir(parents=True)
        wf = make_workflow(
            ["train.json"], "train", bundle_root=str(cls.bundle_root), dataset_dir=str(cls.dataset),
            max_epochs=1, **TINY_OVERRIDES,
        )
        wf.initialize()
        check_workflow(wf, check_properties=True)
        cls.train_workflow = wf

    @classmethod
    def tearDownClass(cls) -> None:
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def test_train_writes_best_model_loadable_strictly_into_network_def(self):
        model = self.bundle_root / "models" / "model.pt"
        self.assertTrue(model.is_file())
        net = self.train_workflow.parser.get_parsed_content("network_def", instantiate=True)
        saved = _state_dict_file(model)
        self.assertEqual(set(saved), {"model", "settings"})  # the weights and the rule they were trained with
        net.load_state_dict(saved["model"], strict=True)  # raises on any key or shape mismatch

    def test_finished_run_keeps_final_checkpoint_and_no_resume_checkpoint(self):
        models = self.bundle_root / "models"
        self.assertTrue((models / "checkpoint_final.pt").is_file())
        self.assertEqual(sorted(models.glob("checkpoint_epoch=*.pt")), [])
        ckpt = _state_dict_file(models / "checkpoint_final.pt")
        saved = {"model", "optimizer", "lr_scheduler", "trainer", "best_model_saver", "early_stopping", "best_metrics",
                 "settings"}
        self.assertEqual(saved, set(ckpt))
        self.assertEqual(ckpt["trainer"]["iteration"] // ckpt["trainer"]["epoch_length"], 1)  # epochs done

    def test_validation_metrics_and_tensorboard(self):
        metrics = self.train_workflow.parser.get_parsed_content("validate#evaluator").state.metrics
        for name in ("val_mean_dice", "val_precision", "val_recall", "val_accuracy", "val_jaccard"):
            self.assertIn(name, metrics)
            self.assertTrue(0.0 <= float(metrics[name]) <= 1.0, (name, metrics[name]))
        self.assertTrue(list((self.bundle_root / "eval").glob("events.out.tfevents.*")))

    def test_evaluate_writes_per_image_csv_and_summary_on_both_grids(self):
        out = self.tmp / "eval_out"
        wf = make_workflow(
            ["train.json", "evaluate.json"], "train", bundle_root=str(self.bundle_root), dataset_dir=str(self.dataset),
            output_dir=str(out), **TINY_OVERRIDES,
        )
        wf.initialize()
        check_workflow(wf, check_properties=True)
        summary = json.loads((out / "summary.json").read_text())
        self.assertEqual(summary["n_images"], 2)
        for grid in ("network", "native"):
            for m in ("dice", "jaccard", "precision", "recall", "accuracy"):
                self.assertIn(f"{grid}_{m}", summary["mean"])
        # the evaluator's own MONAI metric and the recomputed per-image mean agree on the network grid
        self.assertAlmostEqual(summary["mean"]["network_dice"], summary["engine_metrics"]["val_mean_dice"], places=4)
        with open(out / "metrics_per_image.csv", newline="") as fh:
            rows = list(csv.DictReader(fh))
        self.assertEqual([Path(r["image"]).name for r in rows], ["case6_f1.png", "case7_f1.png"])
        self.assertEqual({int(r["native_n_ref"]) for r in rows}, {int((np.asarray(Image.open(
            self.dataset / "labels_native" / "case6_f1.png")) > 0).sum())})  # native grid = 32x32 labels
        # per-kidney Dice: a datalist without labels_kidneys splits the binary native label at its midline
        kidneys = summary["kidneys"]
        self.assertEqual((kidneys["left"]["n_images"], kidneys["right"]["n_images"]), (2, 2))
        low = [(Path(r["image"]).name, side) for r in rows for side in ("left", "right")
               if float(r[f"native_{side}_dice"]) < 0.5]
        self.assertEqual([(Path(m["image"]).name, m["side"]) for m in kidneys["missed"]], low)
        self.assertEqual(kidneys["missed_kidneys"], len(low))
        self.assertEqual(summary["subgroups"], {})  # this datalist has no study_facts

    def test_evaluate_reports_subgroups_from_study_facts_and_kidney_labels(self):
        from custom_transforms.metrics import kidney_sides

        dataset = self.tmp / "dataset_facts"
        shutil.copytree(self.dataset, dataset)
        (dataset / "labels_kidneys").mkdir()
        datalist = json.loads((dataset / "datalist.json").read_text())
        for item in datalist["test"]:
            name = Path(item["label_native"]).name
            sides = kidney_sides(np.asarray(Image.open(dataset / item["label_native"])))
            Image.fromarray(sides).save(dataset / "labels_kidneys" / name)
            item["label_kidneys"] = f"labels_kidneys/{name}"
        datalist["study_facts"] = {"case6": {"matrix": 32, "tracer": "MAG3", "age_years": 0.5},
                                   "case7": {"matrix": 32, "tracer": "DTPA", "age_years": 7}}
        (dataset / "datalist.json").write_text(json.dumps(datalist))
        out = self.tmp / "eval_facts"
        wf = make_workflow(
            ["train.json", "evaluate.json"], "train", bundle_root=str(self.bundle_root), dataset_dir=str(dataset),
            output_dir=str(out), **TINY_OVERRIDES,
        )
        wf.initialize()
        check_workflow(wf)
        summary = json.loads((out / "summary.json").read_text())
        sub = summary["subgroups"]
        self.assertEqual(sorted(sub), ["age_band", "matrix", "tracer"])
        self.assertEqual(sub["matrix"]["32"]["n_images"], 2)
        self.assertTrue(sub["matrix"]["32"]["few_images"])
        for grid in ("network", "native"):
            for m in ("dice", "precision", "recall"):
                self.assertAlmostEqual(sub["matrix"]["32"][f"{grid}_{m}"], summary["mean"][f"{grid}_{m}"])
        per_image = {Path(r["image"]).name: r for r in summary["metric_per_image"]}
        self.assertAlmostEqual(sub["tracer"]["DTPA"]["native_dice"], per_image["case7_f1.png"]["native_dice"])
        self.assertEqual(sorted(sub["age_band"]), ["5-10 y", "<1 y"])
        self.assertIn("native_kidney_dice", summary["engine_metrics"])
        with open(out / "metrics_per_image.csv", newline="") as fh:
            rows = list(csv.DictReader(fh))
        self.assertEqual([r["tracer"] for r in rows], ["MAG3", "DTPA"])
        # the 0/1/2 maps equal the midline split of these labels, so the per-kidney numbers match the fallback's
        for r in rows:
            for side in ("left", "right"):
                self.assertGreater(int(r[f"native_{side}_n_ref"]), 0)

    def test_inference_writes_native_size_masks_and_overlays(self):
        inputs = self.tmp / "infer_in"
        inputs.mkdir()
        shutil.copy2(self.dataset / "images" / "case0_f1.png", inputs / "a.png")
        rgb = np.asarray(Image.open(self.dataset / "images" / "case1_f1.png"))
        Image.fromarray(rgb[:40, :56]).save(inputs / "b_40x56.png")
        Image.fromarray(rgb[:30, :30].mean(-1).astype(np.uint8)).save(inputs / "c_gray.png")
        out = self.tmp / "infer_out"
        wf = make_workflow(
            ["inference.json"], "infer", bundle_root=str(self.bundle_root), dataset_dir=str(inputs),
            output_dir=str(out), **TINY_OVERRIDES,
        )
        wf.initialize()
        check_workflow(wf, check_properties=True)
        for stem, shape in (("a", (64, 64)), ("b_40x56", (40, 56)), ("c_gray", (30, 30))):
            mask = np.asarray(Image.open(out / f"{stem}_mask.png"))
            self.assertEqual(mask.shape, shape)
            self.assertEqual(mask.dtype, np.uint8)
            self.assertTrue(set(np.unique(mask).tolist()) <= {0, 1})
            overlay = np.asarray(Image.open(out / f"{stem}_overlay.png"))
            self.assertEqual(overlay.shape, (*shape, 3))


def _parse_train(**overrides):
    from monai.bundle import ConfigParser

    parser = ConfigParser()
    parser.read_config([str(CONFIGS / "train.json")])
    parser.update({"bundle_root": "/nonexistent", **overrides})
    return parser


class TestDefaultRoot(unittest.TestCase):
    """`python -m monai.bundle run training --config_file bundle/configs/train.json` works from the repository root."""

    def test_bundle_root_defaults_to_the_bundle_from_repo_root_and_to_cwd_inside_it(self):
        from monai.bundle import ConfigParser

        for cwd, expected in ((REPO_ROOT, "bundle"), (BUNDLE, ".")):
            for config in ("train.json", "inference.json"):
                parser = ConfigParser()
                parser.read_config(str(CONFIGS / config))
                old = os.getcwd()
                os.chdir(cwd)
                try:
                    self.assertEqual(parser.get_parsed_content("bundle_root"), expected, (cwd, config))
                finally:
                    os.chdir(old)

    def test_training_run_id_is_the_run_list(self):
        from monai.bundle import ConfigParser

        for configs in (["train.json"], ["train.json", "multi_gpu_train.json"], ["train.json", "evaluate.json"]):
            parser = ConfigParser()
            parser.read_config([str(CONFIGS / c) for c in configs])
            parser.resolve_macro_and_relative_ids()
            self.assertEqual(parser["training"], parser["run"], configs)


class TestOneIdOverrides(unittest.TestCase):
    """Ablations are one config id each (parsed only; nothing is trained)."""

    @parameterized.expand([[False, 0], [True, 2], ["false", 0], ["True", 2]])
    def test_augment_flip(self, value, n_flips):
        pre = _parse_train(augment_flip=value).get_parsed_content("train#preprocessing")
        self.assertEqual(sum(type(t).__name__ == "RandFlipd" for t in pre.transforms), n_flips)
        val = _parse_train(augment_flip=value).get_parsed_content("validate#preprocessing")
        self.assertFalse(any(type(t).__name__ == "RandFlipd" for t in val.transforms))

    @parameterized.expand([[True, 1], [False, 0], ["false", 0]])
    def test_augment_affine(self, value, n_affine):
        pre = _parse_train(augment_affine=value).get_parsed_content("train#preprocessing")
        affine = [t for t in pre.transforms if type(t).__name__ == "RandAffined"]
        self.assertEqual(len(affine), n_affine)
        if affine:  # after the cache, before the flips; image bilinear, label nearest, edges replicated
            self.assertIs(pre.transforms[-1], affine[0])
            self.assertEqual(affine[0].rand_affine.resampler.padding_mode, "border")
        val = _parse_train(augment_affine=value).get_parsed_content("validate#preprocessing")
        self.assertFalse(any(type(t).__name__ == "RandAffined" for t in val.transforms))

    def test_network_kwargs(self):
        small = _parse_train(network_kwargs={"hidden_size": 32, "num_layers": 1, "num_heads": 2, "mlp_dim": 64},
                             image_size=[64, 64]).get_parsed_content("network_def")
        default = _parse_train(image_size=[64, 64]).get_parsed_content("network_def")
        self.assertEqual(type(small).__name__, "TransformerUNet")
        self.assertLess(sum(p.numel() for p in small.parameters()), sum(p.numel() for p in default.parameters()))

    def test_network_and_input_mode(self):
        net = _parse_train(network_name="unet", in_channels=1, image_size=[64, 64]).get_parsed_content("network_def")
        with torch.no_grad():
            self.assertEqual(tuple(net.eval()(torch.zeros(1, 1, 64, 64)).shape), (1, 1, 64, 64))


class TestInferenceOrientation(unittest.TestCase):
    """A fixed threshold "network" makes the expected mask known: rows must stay rows, on any input size."""

    def test_mask_matches_red_channel_on_native_grid(self):
        tmp = Path(tempfile.mkdtemp(prefix="bundle_orient_"))
        self.addCleanup(shutil.rmtree, tmp, True)
        (tmp / "models").mkdir()
        torch.save({"scale": torch.tensor(20.0)}, tmp / "models" / "model.pt")
        img = np.zeros((64, 64, 3), np.uint8)
        img[5:20, 3:12, 0] = 255  # asymmetric: top-left tall block
        img[40:44, 30:60, 0] = 255  # wide bar lower right
        (tmp / "in").mkdir()
        Image.fromarray(img).save(tmp / "in" / "square.png")
        Image.fromarray(img[:, :48]).save(tmp / "in" / "wide.png")  # 64x48, resized to 64x64 and back
        overrides = dict(TINY_OVERRIDES, network_def={"_target_": "tests.bundle.bundle_fixtures.ThresholdNet"})
        wf = make_workflow(["inference.json"], "infer", bundle_root=str(tmp), dataset_dir=str(tmp / "in"),
                           output_dir=str(tmp / "out"), save_overlay=False, **overrides)
        wf.initialize()
        check_workflow(wf)
        final = wf.parser.get_parsed_content("evaluator").state.output[0]["pred"]
        # the in-memory final pred is the (H, W) mask in MONAI's (x, y) = (W, H) index order, uint8, because MONAI
        # Label's writer transposes 2D arrays back (custom_transforms.index_order); the files written here are (H, W)
        self.assertEqual((tuple(final.shape), final.dtype), ((48, 64), torch.uint8))
        expected = (img[..., 0] > 127).astype(np.uint8)
        np.testing.assert_array_equal(np.asarray(Image.open(tmp / "out" / "square_mask.png")), expected)
        wide = np.asarray(Image.open(tmp / "out" / "wide_mask.png"))
        self.assertEqual(wide.shape, (64, 48))
        self.assertGreater((wide == expected[:, :48]).mean(), 0.98)
        self.assertEqual(list((tmp / "out").glob("*_overlay.png")), [])


class TestResume(unittest.TestCase):
    def test_interrupted_run_resumes_at_saved_epoch_with_best_score(self):
        tmp = Path(tempfile.mkdtemp(prefix="bundle_resume_"))
        self.addCleanup(shutil.rmtree, tmp, True)
        dataset = make_png_dataset(tmp / "dataset")
        common = dict(bundle_root=str(tmp), dataset_dir=str(dataset), **TINY_OVERRIDES)
        first = make_workflow(["train.json"], "train", max_epochs=1, **common)
        first.initialize()
        first.run()  # no finalize: as if the process died after epoch 1
        self.assertTrue((tmp / "models" / "checkpoint_epoch=1.pt").is_file())
        best_1 = first.parser.get_parsed_content("validate#best_model_saver")._key_metric_checkpoint._saved

        second = make_workflow(["train.json"], "train", max_epochs=2, **common)
        second.initialize()
        trainer = second.parser.get_parsed_content("train#trainer")
        started = []
        trainer.add_event_handler(Events.EPOCH_STARTED, lambda e: started.append(e.state.epoch))
        second.run()
        self.assertEqual(started, [2])  # epoch 1 was not trained again
        self.assertEqual(trainer.state.epoch, 2)
        self.assertEqual(trainer.state.iteration, 4)  # 2 epochs x 2 iterations, counting the restored ones
        saver = second.parser.get_parsed_content("validate#best_model_saver")._key_metric_checkpoint
        self.assertGreaterEqual(saver._saved[-1].priority, best_1[-1].priority)  # best score carried over
        second.finalize()
        self.assertEqual(sorted((tmp / "models").glob("checkpoint_epoch=*.pt")), [])


class TestBadInput(unittest.TestCase):
    @classmethod
    def setUpClass(cls) -> None:
        cls.tmp = Path(tempfile.mkdtemp(prefix="bundle_bad_"))
        cls.dataset = make_png_dataset(cls.tmp / "dataset")

    @classmethod
    def tearDownClass(cls) -> None:
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def _train(self, dataset_dir: Path, bundle_root: Path, **extra):
        wf = make_workflow(["train.json"], "train", bundle_root=str(bundle_root), dataset_dir=str(dataset_dir),
                           **dict(TINY_OVERRIDES, max_epochs=1, **extra))
        wf.initialize()
        wf.run()
        wf.finalize()

    def _copy_dataset(self, name: str) -> Path:
        dst = self.tmp / name
        shutil.copytree(self.dataset, dst)
        return dst

    def test_missing_and_empty_dataset_dir_name_the_datalist(self):
        for case in ("missing", "empty"):
            folder = self.tmp / f"{case}_dataset"
            if case == "empty":
                folder.mkdir()
            with self.assertRaises(SystemExit) as ctx, contextlib.redirect_stderr(io.StringIO()):
                self._train(folder, self.tmp / f"root_{case}")
            self.assertEqual(ctx.exception.code, 2)  # one line and exit status 2, not a traceback
            text = error_text(ctx.exception)
            self.assertIn(str(folder / "datalist.json"), text)
            self.assertIn("prepare_dataset", text)

    def test_unreadable_image_is_named(self):
        ds = self._copy_dataset("unreadable")
        (ds / "images" / "case1_f1.png").write_text("not a png")
        with self.assertRaises(Exception) as ctx:
            self._train(ds, self.tmp / "root_unreadable")
        self.assertIn(str(ds / "images" / "case1_f1.png"), error_text(ctx.exception))

    def test_label_size_mismatch_is_named(self):
        ds = self._copy_dataset("mismatch")
        Image.fromarray(np.zeros((60, 64), np.uint8)).save(ds / "labels" / "case2_f1.png")
        with self.assertRaises(Exception) as ctx:
            self._train(ds, self.tmp / "root_mismatch")
        text = error_text(ctx.exception)
        self.assertIn(str(ds / "labels" / "case2_f1.png"), text)
        self.assertIn("(60, 64)", text)

    def test_nan_loss_stops_and_keeps_best_checkpoint(self):
        root = self.tmp / "root_nan"
        self._train(self.dataset, root)
        model = root / "models" / "model.pt"
        before = model.read_bytes()
        with self.assertRaises(Exception) as ctx:
            self._train(self.dataset, root, loss="$lambda pred, label: (pred * float('nan')).mean()")
        text = error_text(ctx.exception)
        self.assertIn("FloatingPointError", text)
        self.assertIn("loss", text)
        self.assertIn("case", text)  # names the batch files
        self.assertEqual(model.read_bytes(), before)
        self.assertEqual(sorted((root / "models").glob("checkpoint_epoch=*.pt")), [])

    def test_checkpoint_of_another_network_is_refused(self):
        root = self.tmp / "root_other_net"
        self._train(self.dataset, root)
        other = dict(TINY_OVERRIDES, network_def=dict(TINY_OVERRIDES["network_def"], channels=[8, 16]))
        wf = make_workflow(["train.json", "evaluate.json"], "train", bundle_root=str(root),
                           dataset_dir=str(self.dataset), output_dir=str(root / "eval_other"), **other)
        with self.assertRaises(SystemExit) as ctx, contextlib.redirect_stderr(io.StringIO()):
            wf.initialize()
        self.assertEqual(ctx.exception.code, 2)  # one line and exit status 2, not a traceback
        text = error_text(ctx.exception)
        self.assertIn(str(root / "models" / "model.pt"), text)
        self.assertIn("do not fit network_def", text)
        self.assertFalse((root / "eval_other" / "summary.json").exists())

    def test_initial_weights_start_training_and_foreign_weights_are_refused(self):
        root = self.tmp / "root_init"
        self._train(self.dataset, root)
        start = root / "start.pt"
        shutil.copy2(root / "models" / "model.pt", start)
        # learning rate 0: after one epoch the network must still hold exactly the initial weights
        root2 = self.tmp / "root_init2"
        self._train(self.dataset, root2, initial_weights=str(start), resume=False, learning_rate=0.0)
        trained = _state_dict_file(root2 / "models" / "checkpoint_final.pt")
        trained = trained.get("model", trained)
        for key, value in _state_dict_file(start)["model"].items():  # model.pt: {"model", "settings"}
            torch.testing.assert_close(trained[key], value)
        other = dict(TINY_OVERRIDES, network_def=dict(TINY_OVERRIDES["network_def"], channels=[8, 16]))
        wf = make_workflow(["train.json"], "train", bundle_root=str(self.tmp / "root_init3"),
                           dataset_dir=str(self.dataset), initial_weights=str(start), resume=False,
                           **dict(other, max_epochs=1))
        with self.assertRaises(SystemExit) as ctx:  # one line on stderr and exit status 2, not a traceback
            wf.initialize()
        self.assertEqual(ctx.exception.code, 2)
        text = str(ctx.exception)
        self.assertIn(str(start), text)
        self.assertIn("do not fit network_def", text)


@pytest.mark.slow  # simulates 4 studies and builds their dataset once per session (~10-25 s on 2 shared cores)
class TestDynamicStudyInput(unittest.TestCase):
    """Datalists and inference folders may name DICOM studies; fusion and pseudocolor then run in the pipeline."""

    @classmethod
    def setUpClass(cls) -> None:
        cls.dataset = simulated_dataset()
        cls.tmp = Path(tempfile.mkdtemp(prefix="bundle_dcm_"))

    @classmethod
    def tearDownClass(cls) -> None:
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def test_train_on_studies_then_infer_on_a_study_gives_native_mask(self):
        datalist = json.loads((self.dataset / "datalist.json").read_text())
        dicom_list = {
            split: [{"image": e["study_path"], "label": str(self.dataset / e["label_native"]),
                     "fused_index": e["fused_index"]} for e in datalist[split]]
            for split in ("training", "validation", "test")
        }
        ds = self.tmp / "dicom_dataset"
        ds.mkdir()
        (ds / "datalist.json").write_text(json.dumps(dicom_list))
        wf = make_workflow(["train.json"], "train", bundle_root=str(self.tmp), dataset_dir=str(ds),
                           **dict(TINY_OVERRIDES, max_epochs=1))
        wf.initialize()
        check_workflow(wf, check_properties=True)
        self.assertTrue((self.tmp / "models" / "model.pt").is_file())

        inputs = self.tmp / "infer_in"
        inputs.mkdir()
        shutil.copy2(datalist["test"][0]["study_path"], inputs / "study_x.dcm")
        shutil.copy2(self.dataset / datalist["test"][0]["image"], inputs / "fused_x.png")
        wf = make_workflow(["inference.json"], "infer", bundle_root=str(self.tmp), dataset_dir=str(inputs),
                           output_dir=str(self.tmp / "out"), **TINY_OVERRIDES)
        wf.initialize()
        check_workflow(wf, check_properties=True)
        self.assertEqual(np.asarray(Image.open(self.tmp / "out" / "study_x_mask.png")).shape, (64, 64))
        self.assertEqual(np.asarray(Image.open(self.tmp / "out" / "fused_x_mask.png")).shape, (96, 96))


class TestMultiGpuConfig(unittest.TestCase):
    """``multi_gpu_train.json`` holds only what differs from ``train.json``, so the two cannot drift apart."""

    def _parse(self, configs):
        from monai.bundle import ConfigParser

        parser = ConfigParser()
        parser.read_config([str(CONFIGS / c) for c in configs])
        return parser

    def test_every_train_step_is_in_the_merged_multi_gpu_config(self):
        single = self._parse(["train.json"])
        merged = self._parse(["train.json", "multi_gpu_train.json"])
        for run_list in ("initialize", "run", "finalize"):
            self.assertEqual(merged[run_list], single[run_list], run_list)
        self.assertIn("@initialize_steps#initial_weights", merged["initialize"])
        self.assertIn("@initialize_steps#resume", merged["initialize"])
        for steps in ("initialize_steps", "finalize_steps"):
            self.assertEqual(set(merged[steps]), set(single[steps]), steps)
            for name, step in single[steps].items():
                # the multi-GPU file may replace a named step, never drop one
                self.assertIn(f"@{steps}#{name}", merged[steps.split("_")[0]], name)
                if name not in MULTI_GPU_STEPS:
                    self.assertEqual(merged[steps][name], step, name)

    def test_multi_gpu_file_overrides_single_ids_only(self):
        raw = json.loads((CONFIGS / "multi_gpu_train.json").read_text())
        for run_list in ("initialize", "run", "finalize", "training"):
            self.assertNotIn(run_list, raw)  # a copied list is what lost the initial_weights step
        self.assertFalse([k for k in raw if k.startswith(("initialize_steps#", "finalize_steps#"))
                          and k.split("#", 1)[1] not in MULTI_GPU_STEPS])


#: the named steps a multi-GPU run does differently: the process group (made, then ended after a barrier), the device,
#: and what only rank 0 does (the progress bar; keeping the final checkpoint of the folder both ranks share).
MULTI_GPU_STEPS = ("process_group", "device", "progress_bar", "keep_final_checkpoint")


@pytest.mark.slow
class TestMultiProcessTraining(unittest.TestCase):
    def test_two_process_gloo_run_trains_one_epoch_from_initial_weights(self):
        from monai.networks.nets import UNet

        tmp = Path(tempfile.mkdtemp(prefix="bundle_ddp_"))
        self.addCleanup(shutil.rmtree, tmp, True)
        dataset = make_png_dataset(tmp / "dataset")
        net = TINY_OVERRIDES["network_def"]
        torch.manual_seed(123)
        start = UNet(spatial_dims=2, in_channels=3, out_channels=1, channels=net["channels"], strides=net["strides"],
                     num_res_units=0).state_dict()
        torch.save(start, tmp / "start.pt")
        torchrun = Path(sys.executable).with_name("torchrun")
        cmd = [str(torchrun), "--nproc_per_node", "2", "-m", "monai.bundle", "run",
               "--config_file", f"['{CONFIGS / 'train.json'}','{CONFIGS / 'multi_gpu_train.json'}']",
               "--meta_file", str(CONFIGS / "metadata.json"), "--logging_file", str(CONFIGS / "logging.conf"),
               "--bundle_root", str(tmp), "--dataset_dir", str(dataset), "--max_epochs", "1",
               "--image_size", "[64,64]", "--batch_size", "2", "--num_workers", "0",
               "--network_def", json.dumps(net),
               # learning rate 0: the trained weights must be exactly the initial ones, if they were loaded
               "--initial_weights", str(tmp / "start.pt"), "--learning_rate", "0.0"]
        # faulthandler: a rank that aborts (seen once in ~50 runs on a loaded machine: rank 1 SIGABRT, "terminate
        # called without an active exception", after destroy_process_group) prints its Python stack in the message
        env = {"PATH": str(Path(sys.executable).parent), "PYTHONPATH": str(REPO_ROOT), "OMP_NUM_THREADS": "1",
               "HOME": str(tmp), "PYTHONFAULTHANDLER": "1", "TORCH_SHOW_CPP_STACKTRACES": "1"}
        proc = subprocess.run(cmd, cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=300)
        self.assertEqual(proc.returncode, 0, proc.stdout[-3000:] + proc.stderr[-3000:])
        self.assertIn("val_mean_dice", proc.stdout + proc.stderr)
        sd = _state_dict_file(tmp / "models" / "model.pt")["model"]  # beside "settings", the training rule
        self.assertFalse(any(k.startswith("module.") for k in sd))  # DDP wrapper not saved
        self.assertEqual(set(sd), set(start))
        for key, value in start.items():  # --initial_weights reached the network under torchrun
            torch.testing.assert_close(sd[key], value)
        trainer = _state_dict_file(tmp / "models" / "checkpoint_final.pt")["trainer"]
        self.assertEqual(trainer["iteration"] // trainer["epoch_length"], 1)


if __name__ == "__main__":
    unittest.main()
