# Copyright (c) 2026 Renogram parenchyma bundle contributors.
# Licensed under the Apache License, Version 2.0 (http://www.apache.org/licenses/LICENSE-2.0).
"""Tests of ``python -m scripts.compare_networks``: end to end on a tiny dataset, resume, input validation, the
table statistics, the learning-rate fields of a run and the wall-clock budget handler."""

from __future__ import annotations

import contextlib
import csv
import io
import json
import math
import tempfile
import unittest
from pathlib import Path
from unittest import mock

import numpy as np
import pytest
from ignite.engine import Engine
from parameterized import parameterized
from PIL import Image

import scripts.compare_networks as cli
from scripts.comparison import handlers as handlers_module
from scripts.comparison import worker as worker_module
from scripts.comparison.handlers import EpochProgressLog, EpochTimeBudget
from scripts.comparison.report import TABLE_COLUMNS, RunResult, aggregate, read_per_image_metrics
from scripts.comparison.spec import RunSpec, read_done, run_name

TINY_KWARGS = [
    '--network-kwargs=unet={"channels": [8, 16, 32], "strides": [2, 2], "num_res_units": 0}',
    '--network-kwargs=transformer_unet={"hidden_size": 32, "num_layers": 1, "num_heads": 2, "mlp_dim": 64}',
]


def make_dataset(root: Path, counts=(4, 2, 3), size: int = 64, seed: int = 0) -> Path:
    """Decathlon-form dataset of random pseudocolor PNGs with one disc each (label 0/1), as prepare_dataset writes."""
    rng = np.random.default_rng(seed)
    for sub in ("images", "labels", "labels_native"):
        (root / sub).mkdir(parents=True)
    yy, xx = np.mgrid[:size, :size]
    datalist: dict = {}
    k = 0
    for split, n in zip(("training", "validation", "test"), counts, strict=True):
        datalist[split] = []
        for _ in range(n):
            cy, cx = rng.integers(size // 4, 3 * size // 4, 2)
            label = (((yy - cy) ** 2 + (xx - cx) ** 2) < (size / 8) ** 2).astype(np.uint8)
            noise = rng.normal(30, 10, (size, size, 3))
            image = np.clip(label[..., None] * [200, 80, 40] + noise, 0, 255).astype(np.uint8)
            name = f"s{k:02d}_f1.png"
            Image.fromarray(image).save(root / "images" / name)
            Image.fromarray(label).save(root / "labels" / name)
            Image.fromarray(label).save(root / "labels_native" / name)
            item = {"image": f"images/{name}", "label": f"labels/{name}", "label_native": f"labels_native/{name}"}
            datalist[split].append({**item, "study": f"s{k:02d}", "patient": f"p{k:02d}", "fused_index": 1})
            k += 1
    (root / "datalist.json").write_text(json.dumps(datalist))
    return root


def run_main(argv: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = cli.main(argv)
        except SystemExit as exc:  # argparse errors
            code = int(exc.code)
    return code, out.getvalue(), err.getvalue()


class TestBadInputFailsBeforeTraining(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        cls.dataset = make_dataset(Path(cls.tmp.name) / "ds", counts=(1, 1, 1), size=16)

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    @parameterized.expand(
        [
            ("unknown_network", ["--networks", "unet", "no_such_net"], "no_such_net"),
            ("bad_kwargs_json", ["--networks", "unet", "--network-kwargs", "unet={oops"], "not valid JSON"),
            ("kwargs_for_absent_net", ["--networks", "unet", "--network-kwargs", "segnet={}"], "segnet"),
            ("bad_network_argument", ["--networks", "unet", "--network-kwargs", 'unet={"nonsense": 1}'], "unet"),
            ("bad_size_for_network", ["--networks", "transformer_unet", "--image-size", "40"], "divisible"),
            ("zero_epochs", ["--networks", "unet", "--epochs", "0"], "--epochs"),
            ("bad_augment_choice", ["--networks", "unet", "--augment", "maybe"], "--augment"),
        ]
    )
    def test_fails_with_one_line_and_trains_nothing(self, _, extra, needle):
        out = Path(self.tmp.name) / "results"
        argv = ["--dataset", str(self.dataset), "--out", str(out), "--image-size", "64", "--epochs", "1", *extra]
        with mock.patch.object(cli.subprocess, "run", side_effect=AssertionError("a worker was started")) as run:
            code, _, err = run_main(argv)
        self.assertEqual(code, 2)
        self.assertEqual(len(err.strip().splitlines()), 1, err)
        self.assertIn(needle, err)
        self.assertNotIn("Traceback", err)
        run.assert_not_called()
        self.assertFalse(out.exists(), "nothing may be written before the plan is valid")

    def test_dataset_without_test_split(self):
        ds = Path(self.tmp.name) / "no_test"
        make_dataset(ds, counts=(1, 1, 0), size=16)
        code, _, err = run_main(["--dataset", str(ds), "--out", str(Path(self.tmp.name) / "r2"), "--networks", "unet"])
        self.assertEqual(code, 2)
        self.assertIn("'test'", err)


@pytest.mark.slow
class TestEndToEndAndResume(unittest.TestCase):
    """Two tiny networks, one epoch, 64x64 through the real bundle configs; then an interrupted comparison resumed."""

    def test_outputs_then_resume(self):
        with tempfile.TemporaryDirectory() as tmp:
            ds = make_dataset(Path(tmp) / "ds")
            out = Path(tmp) / "results"
            argv = ["--dataset", str(ds), "--out", str(out), "--networks", "unet", "transformer_unet", *TINY_KWARGS]
            argv += ["--epochs", "1", "--augment", "off", "--image-size", "64", "--batch-size", "4"]
            argv += ["--num-workers", "0", "--device", "cpu", "--figure-images", "2"]
            code, log, err = run_main(argv)
            self.assertEqual(code, 0, log + err)
            self._check_outputs(out)

            # interrupt: the transformer run did not finish (no done.json, a stale file from the killed attempt)
            finished, unfinished = out / "runs" / run_name("unet", False, 0), out / "runs" / run_name(
                "transformer_unet", False, 0
            )
            (unfinished / "done.json").unlink()
            (unfinished / "stale.txt").write_text("left by an interrupted attempt")
            model_mtime = (finished / "models" / "model.pt").stat().st_mtime_ns
            done_before = (finished / "done.json").read_text()

            # --report-only: the table of what has finished, nothing trained
            real_run = cli.subprocess.run

            def no_worker(cmd, *a, **k):
                self.assertNotIn("scripts.comparison.worker", cmd, "--report-only started a worker")
                return real_run(cmd, *a, **k)

            with mock.patch.object(cli.subprocess, "run", side_effect=no_worker):
                code, log, err = run_main([*argv, "--report-only"])
            self.assertEqual(code, 0, log + err)
            with (out / "table.csv").open(newline="") as f:
                self.assertEqual([r["network"] for r in csv.DictReader(f)], ["unet"])
            self.assertEqual(json.loads((out / "comparison.json").read_text())["missing_runs"], [unfinished.name])

            code, log, err = run_main(argv)
            self.assertEqual(code, 0, log + err)
            self.assertIn(f"{finished.name}: finished earlier, skipped", log)
            self.assertEqual((finished / "models" / "model.pt").stat().st_mtime_ns, model_mtime)
            self.assertEqual((finished / "done.json").read_text(), done_before)
            self.assertIsNotNone(read_done(unfinished), "the unfinished run must be retrained and marked done")
            self.assertFalse((unfinished / "stale.txt").exists(), "an unfinished run restarts from an empty folder")
            self._check_outputs(out)

            # a finished run with other settings is not silently mixed into the table
            code, _, err = run_main([a if a != "1" else "2" for a in argv])
            self.assertEqual(code, 2)
            self.assertIn("different settings", err)

    def _check_outputs(self, out: Path) -> None:
        for name in ("table.md", "table.csv", "figure.png", "curves.png", "comparison.json", "benchmark.json"):
            self.assertTrue((out / name).is_file(), name)
        for name in ("figure.png", "curves.png"):
            with Image.open(out / name) as im:
                self.assertGreater(im.size[0], 100)
        with (out / "table.csv").open(newline="") as f:
            reader = csv.DictReader(f)
            rows = list(reader)
        self.assertEqual(reader.fieldnames, TABLE_COLUMNS)
        self.assertEqual([r["network"] for r in rows], ["unet", "transformer_unet"])
        for row in rows:
            self.assertEqual(row["augmentation"], "none")
            self.assertEqual(row["n_test_images"], "3")
            self.assertEqual(row["epochs_run"], "1")
            for col in ("dice_mean", "dice_std", "accuracy_mean", "jaccard_mean", "dice_native_mean", "params_m"):
                self.assertTrue(0 <= float(row[col]) < math.inf, (col, row[col]))
            self.assertGreater(float(row["gflops"]), 0)
            # timings: present, finite and non-negative; how large they are depends on the machine (a tiny epoch on a
            # quiet fast machine rounds to 0.0 s), so they are checked against the runs' own records, not against 0
            self.assertTrue(0 <= float(row["cpu_latency_ms"]) < math.inf, row["cpu_latency_ms"])
            self.assertTrue(0 <= float(row["train_time_s"]) < math.inf, row["train_time_s"])
        md = (out / "table.md").read_text()
        self.assertIn("| `unet` | none |", md)
        self.assertIn("| `transformer_unet` | none |", md)
        report = json.loads((out / "comparison.json").read_text(), parse_constant=self.fail)  # strict JSON, no NaN
        self.assertIn("scripts.compare_networks", report["command"])
        for key in ("torch", "monai", "pytorch_ignite", "host", "cpu"):
            self.assertIn(key, report["environment"])
        self.assertEqual(len(report["runs"]), 2)
        self.assertEqual(report["failed_runs"], [])
        by_network = {r["network"]: r for r in rows}
        for run in report["runs"]:  # the table's training time is the run's own, rounded to the CSV's 0.1 s
            recorded = run["train"]["train_time_s"]
            self.assertGreaterEqual(recorded, 0.0)
            self.assertAlmostEqual(float(by_network[run["spec"]["network"]]["train_time_s"]), recorded, delta=0.051)
        for run in report["runs"]:
            run_dir = out / "runs" / run["name"]
            self.assertEqual(len(run["per_image"]["dice"]), 3)
            config = json.loads((run_dir / "config_train.json").read_text())
            self.assertEqual(config["network_name"], run["spec"]["network"])
            self.assertEqual(config["max_epochs"], 1)
            # the paper's training set-up (configs/paper.json), whatever recipe train.json ships with
            self.assertEqual((config["loss_name"], config["optimizer_name"], config["lr_schedule"]),
                             ("bce", "Adam", "constant"))
            with (run_dir / "progress.csv").open(newline="") as f:
                progress = list(csv.DictReader(f))
            self.assertEqual(len(progress), 1)
            self.assertIn("val_mean_dice", progress[0])
            self.assertEqual(run["progress"]["epoch"], [1.0])
            self.assertTrue((run_dir / "models" / "model.pt").is_file())
            with np.load(run_dir / "figure_masks.npz") as z:
                self.assertEqual(z["preds"].shape, (2, 64, 64))
                self.assertEqual(z["images"].shape, (2, 64, 64, 3))


class TestReport(unittest.TestCase):
    def test_bundle_csv_columns_are_read(self):
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "metrics_per_image.csv"
            path.write_text(
                "image,study,network_dice,network_jaccard,network_precision,network_recall,network_accuracy,"
                "network_n_ref,native_dice,native_jaccard\n"
                "a.png,a,0.8,0.6667,0.9,0.7,0.99,10,0.75,0.6\n"
                "b.png,b,nan,,1.0,0.5,0.98,0,0.5,0.3333\n"
            )
            metrics = read_per_image_metrics(path)
        expected = ["dice", "jaccard", "precision", "recall", "accuracy", "dice_native", "jaccard_native"]
        self.assertEqual(sorted(metrics), sorted(expected))
        np.testing.assert_allclose(metrics["dice"], [0.8, np.nan])
        np.testing.assert_allclose(metrics["dice_native"], [0.75, 0.5])

    def test_csv_without_dice_is_an_error_naming_the_file(self):
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "m.csv"
            path.write_text("image,foo\na.png,1\n")
            with self.assertRaisesRegex(ValueError, "m.csv"):
                read_per_image_metrics(path)

    def test_mean_and_spread_over_images_and_seeds(self):
        def result(seed, dice):
            per_image = {"dice": np.array(dice), "precision": np.array(dice)}
            return RunResult("unet", False, seed, per_image, {"train_time_s": 10.0 * (seed + 1), "epochs_to_best": 3})

        rows = aggregate([result(1, [0.6, 0.8, np.nan]), result(0, [0.8, 1.0, 0.9])], order=["unet"])
        self.assertEqual(len(rows), 1)
        row = rows[0]
        self.assertEqual(row["seeds"], "0 1")
        self.assertAlmostEqual(row["dice_mean"], np.mean([0.6, 0.8, 0.8, 1.0, 0.9]))  # NaN excluded
        pooled = np.sqrt(np.mean([np.var([0.6, 0.8], ddof=1), np.var([0.8, 1.0, 0.9], ddof=1)]))
        self.assertAlmostEqual(row["dice_std"], pooled)
        self.assertAlmostEqual(row["dice_seed_std"], np.std([0.7, 0.9], ddof=1))
        self.assertAlmostEqual(row["train_time_s"], 15.0)
        self.assertTrue(math.isnan(row["recall_mean"]))

    def test_rows_follow_the_requested_network_order(self):
        per_image = {"dice": np.array([0.5, 0.7])}
        runs = [RunResult(n, a, 0, per_image, {}) for n in ("segnet", "unet") for a in (True, False)]
        rows = aggregate(runs, order=["unet", "segnet"])
        self.assertEqual([(r["network"], r["augmentation"]) for r in rows], [
            ("unet", "none"), ("unet", "flip"), ("segnet", "none"), ("segnet", "flip")
        ])


class FakeClock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


class TestEpochTimeBudget(unittest.TestCase):
    @parameterized.expand(
        [
            # budget s, seconds per epoch, expected epochs (stop when elapsed + mean epoch > budget)
            ("fits_three", 35.0, 10.0, 3),
            ("exact_fit_runs_on", 30.0, 10.0, 3),
            ("tiny_budget_still_one_epoch", 1.0, 10.0, 1),
            ("large_budget_hits_max_epochs", 1000.0, 10.0, 6),
        ]
    )
    def test_stops_before_overrun(self, _, budget_s, epoch_s, expected):
        clock = FakeClock()
        engine = Engine(lambda e, b: setattr(clock, "now", clock.now + epoch_s / 2))
        handler = EpochTimeBudget(budget_s, clock=clock)
        handler.attach(engine)
        engine.run([0, 1], max_epochs=6)
        self.assertEqual(engine.state.epoch, expected)
        self.assertEqual(handler.stopped, expected < 6)

    def test_rejects_non_positive_budget(self):
        with self.assertRaises(ValueError):
            EpochTimeBudget(0)


class TestEpochProgressLog(unittest.TestCase):
    def test_one_row_per_epoch_with_validation_metrics(self):
        evaluator = Engine(lambda e, b: None)

        @evaluator.on(handlers_module.Events.EPOCH_COMPLETED)
        def _metric(engine):
            engine.state.metrics["val_mean_dice"] = 0.1 * trainer.state.epoch

        trainer = Engine(lambda e, b: {"loss": float(b)})
        trainer.add_event_handler(
            handlers_module.Events.EPOCH_COMPLETED,
            lambda e: evaluator.run([0], max_epochs=e.state.epoch) if e.state.epoch % 2 == 0 else None,
        )
        with tempfile.TemporaryDirectory() as tmp:
            log = EpochProgressLog(Path(tmp) / "progress.csv", evaluator)
            log.attach(trainer)
            evaluator.state.epoch = 0
            trainer.run([1.0, 3.0], max_epochs=3)
            with (Path(tmp) / "progress.csv").open(newline="") as f:
                rows = list(csv.DictReader(f))
        self.assertEqual([r["epoch"] for r in rows], ["1", "2", "3"])
        self.assertEqual([float(r["train_loss"]) for r in rows], [2.0, 2.0, 2.0])
        self.assertEqual([r["val_mean_dice"] for r in rows], ["", "0.2", ""])  # validation ran in epoch 2 only


class TestRunSpec(unittest.TestCase):
    def test_round_trip_and_identity_ignores_execution_fields(self):
        spec = RunSpec("unet", True, 3, "/d", "/b", max_epochs=5, image_size=(64, 64), device="cpu", threads=2)
        self.assertEqual(RunSpec.from_dict(json.loads(json.dumps(spec.to_dict()))), spec)
        self.assertEqual(spec.name, "unet__aug__seed3")
        other = RunSpec("unet", True, 3, "/d", "/b", max_epochs=5, image_size=(64, 64), device="cuda", num_workers=4)
        self.assertEqual(spec.identity(), other.identity())
        self.assertNotEqual(spec.identity(), RunSpec("unet", True, 3, "/d", "/b", max_epochs=6).identity())


class TestLearningRateFields(unittest.TestCase):
    def test_learning_rate_is_part_of_identity_and_name_only_when_set(self):
        old = RunSpec("unet", False, 0, "/d", "/b", max_epochs=5)
        identity = old.identity()
        self.assertNotIn("learning_rate", identity)  # a done.json written before the field existed still matches
        self.assertNotIn("evaluate_test", identity)
        self.assertEqual(old.name, "unet__noaug__seed0")
        new = RunSpec("unet", False, 0, "/d", "/b", max_epochs=5, learning_rate=0.0005)
        self.assertEqual(new.identity()["learning_rate"], 0.0005)
        self.assertEqual(new.name, "unet__noaug__seed0__lr0.0005")
        self.assertEqual(RunSpec.from_dict(json.loads(json.dumps(new.to_dict()))), new)

    def test_worker_overrides_the_bundles_learning_rate_only_when_set(self):
        spec = RunSpec("unet", False, 0, "/d", "/b")
        self.assertNotIn("learning_rate", worker_module.bundle_overrides(spec, Path("/r"), "train"))
        ov = worker_module.bundle_overrides(RunSpec("unet", False, 0, "/d", "/b", learning_rate=0.01), Path("/r"),
                                            "train")
        self.assertEqual(ov["learning_rate"], 0.01)

    def test_search_runs_skip_the_test_split(self):
        with tempfile.TemporaryDirectory() as tmp:
            run_dir = Path(tmp)
            spec = RunSpec("unet", False, 0, "/d", "/b", learning_rate=0.01, evaluate_test=False)
            (run_dir / "spec.json").write_text(json.dumps(spec.to_dict()))
            summary = {"epochs_run": 1, "train_time_s": 1.0, "stop_reason": "max_epochs"}
            with mock.patch.object(worker_module, "train_run", return_value=summary) as train, \
                    mock.patch.object(worker_module, "evaluate_run", side_effect=AssertionError("test split used")):
                self.assertEqual(worker_module.main([str(run_dir)]), 0)
            train.assert_called_once()
            self.assertEqual(json.loads((run_dir / "eval_outputs.json").read_text()), {})


if __name__ == "__main__":
    unittest.main()
