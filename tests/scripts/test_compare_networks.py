# Copyright (c) 2026 Renogram parenchyma bundle contributors.
# Licensed under the Apache License, Version 2.0 (http://www.apache.org/licenses/LICENSE-2.0).
"""Tests of ``python -m scripts.compare_networks``: end to end on a tiny dataset, resume, input validation, the
table statistics (seed intervals, the paired test, the worst subgroup, CPU-hours), the learning-rate search (with a
stand-in worker: no training) and the wall-clock budget handler."""

from __future__ import annotations

import contextlib
import csv
import io
import json
import math
import subprocess
import tempfile
import unittest
import zlib
from pathlib import Path
from unittest import mock

import numpy as np
import pytest
from ignite.engine import Engine
from parameterized import parameterized
from PIL import Image
from scipy import stats

import scripts.compare_networks as cli
from custom_transforms.subgroups import subgroup_means
from scripts.comparison import handlers as handlers_module
from scripts.comparison import worker as worker_module
from scripts.comparison.cpu_time import cpu_hours
from scripts.comparison.handlers import EpochProgressLog, EpochTimeBudget
from scripts.comparison.lr_search import choose_learning_rates
from scripts.comparison.report import (
    TABLE_COLUMNS,
    RunResult,
    aggregate,
    read_image_ids,
    read_per_image_metrics,
    table_csv,
    table_markdown,
)
from scripts.comparison.spec import RunSpec, read_done, run_name
from scripts.comparison.uncertainty import TestSetMismatch, paired_test, t_interval
from scripts.comparison.worst_subgroup import run_subgroups, worst_subgroup

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
            ("kwargs_without_label", ["--networks", "unet", "--network-kwargs", "unet"], "expected LABEL=JSON"),
            ("kwargs_not_an_object", ["--networks", "unet", "--network-kwargs", "unet=[1, 2]"], "expected a JSON object"),
            ("kwargs_for_absent_net", ["--networks", "unet", "--network-kwargs", "segnet={}"], "segnet"),
            ("bad_network_argument", ["--networks", "unet", "--network-kwargs", 'unet={"nonsense": 1}'], "unet"),
            ("bad_size_for_network", ["--networks", "transformer_unet", "--image-size", "40"], "divisible"),
            ("zero_epochs", ["--networks", "unet", "--epochs", "0"], "--epochs"),
            ("bad_augment_choice", ["--networks", "unet", "--augment", "maybe"], "--augment"),
            ("zero_lr", ["--networks", "unet", "--lr-search", "0.001", "0"], "--lr-search takes positive"),
            ("nan_lr", ["--networks", "unet", "--lr-search", "nan"], "--lr-search takes positive"),
            ("lr_not_a_number", ["--networks", "unet", "--lr-search", "fast"], "--lr-search"),
            ("zero_search_epochs", ["--networks", "unet", "--lr-search", "0.001", "--lr-search-epochs", "0"],
             "--lr-search-epochs must be >= 1"),
            ("search_epochs_without_search", ["--networks", "unet", "--lr-search-epochs", "2"], "without --lr-search"),
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
        # the caption says what the rows' names do not: the networks' arguments beyond the registry's defaults
        self.assertIn('(--network-kwargs): `transformer_unet` {"hidden_size": 32, "mlp_dim": 64, "num_heads": 2, '
                      '"num_layers": 1}; `unet` {"channels": [8, 16, 32], "num_res_units": 0, "strides": [2, 2]}.', md)
        report = json.loads((out / "comparison.json").read_text(), parse_constant=self.fail)  # strict JSON, no NaN
        self.assertIn("scripts.compare_networks", report["command"])
        for key in ("torch", "monai", "pytorch_ignite", "host", "cpu"):
            self.assertIn(key, report["environment"])
        self.assertEqual(len(report["runs"]), 2)
        self.assertEqual(report["failed_runs"], [])
        by_network = {r["network"]: r for r in rows}
        # the bundle's per-image CSV pairs the two networks' test images by file name
        self.assertEqual(by_network["unet"]["n_paired_images"], "3")
        self.assertEqual(by_network["unet"]["n_seeds"], "1")
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

    def test_every_metric_is_also_on_the_native_grid_in_csv_and_markdown(self):
        native = {"dice": [0.8, 0.6], "precision": [0.9, 0.7], "recall": [0.7, 0.5], "accuracy": [0.99, 0.97],
                  "jaccard": [0.66, 0.42]}
        per_image = {"dice": np.array([0.5, 0.5])} | {f"{m}_native": np.array(v) for m, v in native.items()}
        row = aggregate([RunResult("unet", False, 0, per_image, {})])[0]
        for m, values in native.items():
            self.assertAlmostEqual(row[f"{m}_native_mean"], np.mean(values))
            self.assertAlmostEqual(row[f"{m}_native_std"], np.std(values, ddof=1))
            self.assertIn(f"{m}_native_mean", TABLE_COLUMNS)
        md = table_markdown([row])
        self.assertIn("Precision / recall / accuracy / Jaccard (native grid)", md)
        self.assertIn("| 0.800 / 0.600 / 0.980 / 0.540 |", md)
        with_network_only = aggregate([RunResult("unet", False, 0, {"dice": np.array([0.5])}, {})])[0]
        self.assertIn("| – / – / – / – |", table_markdown([with_network_only]))

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


def fake_result(network, seed, dice, ids=None, augment=False, subgroups=None, train=None):
    """A :class:`RunResult` of per-image Dice ``dice`` on images ``ids`` (default ``i0``, ``i1``, ...)."""
    dice = np.asarray(dice, dtype=float)
    ids = tuple(ids) if ids is not None else tuple(f"i{k}" for k in range(len(dice)))
    return RunResult(network, augment, seed, {"dice": dice}, train or {}, image_ids=ids, subgroups=subgroups or {})


class TestSeedInterval(unittest.TestCase):
    def test_three_seeds_give_a_t_interval_of_the_seed_means(self):
        seed_dice = {0: [0.90, 0.94], 1: [0.92, 0.98], 2: [0.91, 0.93]}
        rows = aggregate([fake_result("unet", s, d) for s, d in seed_dice.items()])
        means = np.array([np.mean(d) for d in seed_dice.values()])
        half = stats.t.ppf(0.975, 2) * means.std(ddof=1) / math.sqrt(3)
        row = rows[0]
        self.assertEqual(row["n_seeds"], 3)
        self.assertAlmostEqual(row["dice_ci95_low"], means.mean() - half)
        self.assertAlmostEqual(row["dice_ci95_high"], means.mean() + half)
        self.assertIn(f"{means.mean():.3f} ± {half:.3f} (95 % CI over 3 seeds)", table_markdown(rows))
        header, line = table_csv(rows).splitlines()
        cells = dict(zip(header.split(","), line.split(","), strict=True))
        self.assertAlmostEqual(float(cells["dice_ci95_low"]), means.mean() - half, places=4)

    def test_one_seed_says_so_and_gives_no_interval(self):
        rows = aggregate([fake_result("unet", 0, [0.9, 0.8])])
        self.assertTrue(math.isnan(rows[0]["dice_ci95_low"]) and math.isnan(rows[0]["dice_ci95_high"]))
        md = table_markdown(rows)
        self.assertIn("0.850 (1 seed: no interval)", md)
        self.assertNotIn("95 % CI over", md)
        header, line = table_csv(rows).splitlines()
        cells = dict(zip(header.split(","), line.split(","), strict=True))
        self.assertEqual((cells["dice_ci95_low"], cells["dice_ci95_high"], cells["n_seeds"]), ("", "", "1"))

    def test_t_interval_without_values(self):
        self.assertEqual(t_interval([math.nan])[3], 0)


class TestPairedTest(unittest.TestCase):
    TU = [0.80, 0.85, 0.90, 0.70, 0.75, 0.95]
    NET = [0.82, 0.80, 0.97, 0.74, 0.70, 0.99]

    def test_images_are_matched_by_id_not_position(self):
        ids = [f"img{k}.png" for k in range(6)]
        reference = fake_result("transformer_unet", 0, self.TU, ids)
        # the network's CSV lists the same images in reverse order
        network = fake_result("unet", 0, self.NET[::-1], ids[::-1])
        rows = {r["network"]: r for r in aggregate([reference, network], order=["transformer_unet", "unet"])}
        diff = np.array(self.NET) - np.array(self.TU)
        mean, low, high, n = t_interval(diff)
        row = rows["unet"]
        self.assertAlmostEqual(row["dice_diff_vs_tu"], mean)
        self.assertAlmostEqual(row["dice_diff_vs_tu_ci95_low"], low)
        self.assertAlmostEqual(row["dice_diff_vs_tu_ci95_high"], high)
        self.assertAlmostEqual(row["p_vs_tu"], stats.wilcoxon(diff).pvalue)
        self.assertEqual((row["n_paired_images"], row["paired_seeds"]), (6, "0"))
        positional = np.array(self.NET[::-1]) - np.array(self.TU)
        self.assertNotAlmostEqual(stats.wilcoxon(positional).pvalue, row["p_vs_tu"])  # the check can tell them apart
        for col in ("dice_diff_vs_tu", "p_vs_tu"):  # the reference row is not paired with itself
            self.assertTrue(math.isnan(rows["transformer_unet"][col]))
        md = table_markdown(list(rows.values()))
        self.assertIn(f"| {mean:+.3f} [{low:+.3f}, {high:+.3f}] | {row['p_vs_tu']:.3f} (n=6) |", md)

    def test_dice_averaged_over_the_shared_seeds_only(self):
        tu = [fake_result("transformer_unet", s, np.array(self.TU) + 0.01 * s) for s in (0, 1)]
        net = [fake_result("unet", s, np.array(self.NET) + 0.02 * s) for s in (0, 1, 2)]
        row = aggregate([*tu, *net], order=["transformer_unet", "unet"])[1]
        expected = (np.array(self.NET) + 0.01) - (np.array(self.TU) + 0.005)  # seeds 0 and 1 of both
        self.assertEqual(row["paired_seeds"], "0 1")
        self.assertAlmostEqual(row["dice_diff_vs_tu"], expected.mean())
        self.assertAlmostEqual(row["p_vs_tu"], stats.wilcoxon(expected).pvalue)

    def test_nan_images_are_left_out_and_identical_masks_give_p_one(self):
        test = paired_test({0: (("a", "b", "c"), [0.9, np.nan, 0.8])}, {0: (("a", "b", "c"), [0.9, 0.7, 0.8])})
        self.assertEqual((test.n_images, test.mean_diff, test.p_value), (2, 0.0, 1.0))

    def test_other_augmentation_or_no_shared_seed_is_not_paired(self):
        rows = aggregate(
            [fake_result("transformer_unet", 0, self.TU), fake_result("unet", 1, self.NET),
             fake_result("unet", 0, self.NET, augment=True)],
            order=["transformer_unet", "unet"],
        )
        for row in rows[1:]:
            self.assertTrue(math.isnan(row["dice_diff_vs_tu"]), row)

    @parameterized.expand(
        [
            ("another_image", ["a.png", "b.png", "z.png"], "unet__noaug__seed0 and transformer_unet__noaug__seed0"),
            ("a_missing_image", ["a.png", "b.png"], "different test images"),
            ("a_repeated_image", ["a.png", "b.png", "b.png"], "occur twice"),
        ]
    )
    def test_different_test_sets_are_refused(self, _, net_ids, needle):
        reference = fake_result("transformer_unet", 0, [0.8, 0.9, 0.7], ["a.png", "b.png", "c.png"])
        network = fake_result("unet", 0, [0.8] * len(net_ids), net_ids)
        with self.assertRaisesRegex(TestSetMismatch, needle):
            aggregate([reference, network], order=["transformer_unet", "unet"])

    def test_refusal_names_the_run_folders(self):
        reference = fake_result("transformer_unet", 0, [0.8, 0.9], ["a", "b"])
        network = RunResult("unet", False, 0, {"dice": np.array([0.8, 0.9])}, {}, image_ids=("a", "c"),
                            name="unet__noaug__seed0__lr0.01")
        with self.assertRaisesRegex(TestSetMismatch, "unet__noaug__seed0__lr0.01 and transformer_unet__noaug__seed0"):
            aggregate([reference, network], order=["transformer_unet", "unet"])

    def test_seeds_of_one_network_on_different_images_are_refused(self):
        runs = [fake_result("unet", 0, [0.8, 0.9], ["a", "b"]), fake_result("unet", 1, [0.8, 0.9], ["a", "c"])]
        with self.assertRaisesRegex(TestSetMismatch, "unet__noaug__seed0 and unet__noaug__seed1"):
            aggregate(runs)

    def test_image_ids_are_file_names(self):
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "metrics_per_image.csv"
            path.write_text("image,network_dice\n/data/ds/images/a.png,0.9\nimages/b.png,0.8\n")
            self.assertEqual(read_image_ids(path), ("a.png", "b.png"))


def _subgroups(**groups):
    """``{fact: {value: entry}}`` from ``fact=[(value, n_images, native_dice, network_dice), ...]``."""
    out = {}
    for fact, entries in groups.items():
        out[fact] = {}
        for value, n, native, network in entries:
            entry = {"n_images": n, "few_images": n < 10, "network_dice": network}
            if native is not None:
                entry["native_dice"] = native
            out[fact][value] = entry
    return out


class TestWorstSubgroup(unittest.TestCase):
    def test_lowest_native_dice_among_subgroups_with_ten_images(self):
        seed0 = _subgroups(
            pathology=[("normal", 30, 0.93, 0.92), ("hydronephrosis", 12, 0.86, 0.90), ("duplex", 4, 0.50, 0.50)],
            matrix=[("64", 20, 0.90, 0.85), ("128", 26, 0.95, 0.95)],
        )
        seed1 = _subgroups(
            pathology=[("normal", 30, 0.94, 0.92), ("hydronephrosis", 12, 0.88, 0.90), ("duplex", 4, 0.40, 0.50)],
            matrix=[("64", 20, 0.89, 0.85), ("128", 26, 0.95, 0.95)],
        )
        runs = [fake_result("unet", seed, [0.9], subgroups=groups) for seed, groups in enumerate((seed0, seed1))]
        rows = aggregate(runs)
        row = rows[0]
        # duplex (4 images) is lower but too small to judge; hydronephrosis 0.87 < matrix 64 0.895 on the native grid
        self.assertAlmostEqual(row["worst_subgroup_dice"], 0.87)
        self.assertEqual((row["worst_subgroup"], row["worst_subgroup_n"], row["worst_subgroup_grid"]),
                         ("pathology=hydronephrosis", 12, "native"))
        self.assertIn("| 0.870 (pathology: hydronephrosis) |", table_markdown(rows))

    def test_network_grid_where_native_is_missing(self):
        worst = worst_subgroup([_subgroups(tracer=[("MAG3", 15, None, 0.91), ("DTPA", 15, None, 0.88)])])
        self.assertEqual((worst.label, worst.grid, round(worst.dice, 3)), ("tracer=DTPA", "network", 0.88))

    def test_no_eligible_subgroup(self):
        self.assertIsNone(worst_subgroup([_subgroups(tracer=[("MAG3", 9, 0.9, 0.9)])]))
        row = aggregate([fake_result("unet", 0, [0.9])])[0]
        self.assertTrue(math.isnan(row["worst_subgroup_dice"]))
        self.assertEqual(row["worst_subgroup"], "")

    def test_grouping_is_the_bundles_from_summary_or_per_image_csv(self):
        records = [{"pathology": "normal" if k < 10 else "obstruction", "network_dice": 0.9 - 0.01 * k,
                    "native_dice": 0.91 - 0.01 * k} for k in range(21)]
        expected = subgroup_means(records)
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "metrics_per_image.csv"
            with path.open("w", newline="") as f:
                writer = csv.DictWriter(f, fieldnames=["image", "network_dice", "native_dice", "pathology"])
                writer.writeheader()
                writer.writerows({"image": f"{k}.png", **r} for k, r in enumerate(records))
            from_csv = run_subgroups({"mean": {}}, path)
            self.assertEqual(run_subgroups({"subgroups": {"x": {}}}, path), {"x": {}})  # the summary's own first
        self.assertEqual(from_csv.keys(), expected.keys())
        for value, entry in expected["pathology"].items():
            self.assertAlmostEqual(from_csv["pathology"][value]["native_dice"], entry["native_dice"])
            self.assertEqual(from_csv["pathology"][value]["n_images"], entry["n_images"])


class TestCpuHours(unittest.TestCase):
    def test_total_and_per_network(self):
        hours = cpu_hours([("unet", {"train_cpu_s": 1800.0}), ("unet", {"train_cpu_s": 3600.0}),
                           ("segnet", {"train_cpu_s": 7200.0}), ("segnet", {})])
        self.assertAlmostEqual(hours["total"], 3.5)
        self.assertEqual(hours["per_network"], {"unet": 1.5, "segnet": 2.0})
        self.assertEqual((hours["runs"], hours["runs_without_cpu_time"]), (3, 1))

    def test_table_keeps_cpu_seconds_and_epochs_to_best(self):
        runs = [fake_result("unet", s, [0.9], train={"train_cpu_s": 100.0 * (s + 1), "epochs_to_best": 4 + s})
                for s in (0, 1)]
        row = aggregate(runs)[0]
        self.assertEqual((row["train_cpu_s"], row["epochs_to_best"]), (150.0, 4.5))


class TestLearningRateChoice(unittest.TestCase):
    def test_best_validation_dice_wins_ties_go_to_the_smaller_lr(self):
        chosen = choose_learning_rates([
            ("unet", 0.01, {"best_val_dice": 0.80}), ("unet", 0.001, {"best_val_dice": 0.90}),
            ("segnet", 0.01, {"best_val_dice": 0.85}), ("segnet", 0.001, {"best_val_dice": 0.85}),
            ("fcn8s", 0.01, None), ("fcn8s", 0.001, {"best_val_dice": float("nan")}),
            ("unetr", 0.01, {"best_val_dice": 0.7}), ("unetr", 0.001, None),
        ])
        self.assertEqual(chosen, {"unet": 0.001, "segnet": 0.001, "fcn8s": None, "unetr": 0.01})

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


TEST_IMAGES = [f"s{k:02d}_f1.png" for k in range(12)]


def fake_test_dice(network: str, seed: int) -> np.ndarray:
    """Per-image test Dice of a stand-in run (deterministic; the networks differ, and so do the seeds)."""
    rng = np.random.default_rng(zlib.crc32(f"{network}/{seed}".encode()))
    return np.clip((0.86 if network == "transformer_unet" else 0.89) + rng.normal(0, 0.03, len(TEST_IMAGES)), 0, 1)


class FakeWorker:
    """Stands in for ``python -m scripts.comparison.worker RUN_DIR`` (``subprocess.run`` of the comparison): writes
    what a finished run leaves (train summary, progress, the evaluation's per-image CSV and summary with its
    subgroups, figure masks), without training. Other commands (git) run for real.

    Args:
        val_dice: ``(network, learning rate or None) -> best validation Dice``.
        cpu_s: ``network -> train_cpu_s`` of each run.
        images: ``network -> test image names`` (default :data:`TEST_IMAGES`).
    """

    def __init__(self, val_dice, cpu_s, images=None):
        self.val_dice, self.cpu_s, self.images = val_dice, cpu_s, images or {}
        self.specs: list[RunSpec] = []
        self._real_run = subprocess.run

    def __call__(self, cmd, *args, **kwargs):
        if "scripts.comparison.worker" not in cmd:
            return self._real_run(cmd, *args, **kwargs)
        run_dir = Path(cmd[-1])
        spec = RunSpec.from_dict(json.loads((run_dir / "spec.json").read_text()))
        self.specs.append(spec)
        val = self.val_dice[(spec.network, spec.learning_rate)]
        summary = {"network": spec.network, "augment": spec.augment, "seed": spec.seed, "epochs_run": 2,
                   "epochs_to_best": 2, "best_val_dice": val, "train_time_s": 10.0,
                   "train_cpu_s": self.cpu_s[spec.network], "stop_reason": "max_epochs"}
        (run_dir / "train_summary.json").write_text(json.dumps(summary))
        (run_dir / "progress.csv").write_text(f"epoch,elapsed_s,train_loss,val_mean_dice\n1,5,0.5,{val / 2}\n"
                                              f"2,10,0.4,{val}\n")
        if not spec.evaluate_test:
            (run_dir / "eval_outputs.json").write_text("{}")
            return subprocess.CompletedProcess(cmd, 0)
        names = self.images.get(spec.network, TEST_IMAGES)
        dice = fake_test_dice(spec.network, spec.seed)
        records = [{"image": f"/ds/images/{n}", "study": n[:3], "network_dice": d, "native_dice": d,
                    "pathology": "normal" if k < 10 else "duplex"} for k, (n, d) in enumerate(zip(names, dice, strict=True))]
        records = records[::-1] if spec.network == "unet" else records  # another row order than the reference
        eval_dir = run_dir / "eval"
        eval_dir.mkdir()
        with (eval_dir / "metrics_per_image.csv").open("w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=list(records[0]))
            writer.writeheader()
            writer.writerows(records)
        summary_json = {"mean": {"network_dice": float(np.mean(dice))}, "subgroups": subgroup_means(records)}
        (eval_dir / "summary.json").write_text(json.dumps(summary_json))
        outputs = {"summary": str(eval_dir / "summary.json"), "per_image": str(eval_dir / "metrics_per_image.csv")}
        (run_dir / "eval_outputs.json").write_text(json.dumps(outputs))
        masks = np.zeros((2, 8, 8), np.uint8)
        images, shown = np.zeros((2, 8, 8, 3), np.uint8), np.array(TEST_IMAGES[:2])
        np.savez(run_dir / "figure_masks.npz", names=shown, images=images, labels=masks, preds=masks)
        return subprocess.CompletedProcess(cmd, 0)


class TestLearningRateSearchAndStatisticsCommand(unittest.TestCase):
    """The command with a stand-in worker: the search before the runs, the chosen lr in the runs, resume, the table."""

    VAL = {("unet", 0.001): 0.70, ("unet", 0.01): 0.80, ("transformer_unet", 0.001): 0.85,
           ("transformer_unet", 0.01): 0.60}
    CPU = {"unet": 1800.0, "transformer_unet": 3600.0}

    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.addCleanup(self.tmp.cleanup)
        self.dataset = make_dataset(Path(self.tmp.name) / "ds", counts=(1, 1, 1), size=16)
        self.out = Path(self.tmp.name) / "results"
        self.argv = ["--dataset", str(self.dataset), "--out", str(self.out), "--networks", "transformer_unet",
                     "unet", *TINY_KWARGS, "--image-size", "64", "--epochs", "5", "--augment", "off", "--seeds",
                     "0", "1", "--lr-search", "0.001", "0.01", "--lr-search-epochs", "2", "--no-benchmark"]

    def run_with(self, worker, extra=()):
        with mock.patch.object(cli.subprocess, "run", side_effect=worker):
            return run_main([*self.argv, *extra])

    def test_search_then_runs_with_the_chosen_rates_then_resume(self):
        worker = FakeWorker(self.VAL, self.CPU)
        code, log, err = self.run_with(worker)
        self.assertEqual(code, 0, log + err)
        search = [s for s in worker.specs if not s.evaluate_test]
        self.assertEqual([(s.network, s.learning_rate) for s in search], [
            ("transformer_unet", 0.001), ("transformer_unet", 0.01), ("unet", 0.001), ("unet", 0.01)])
        for s in search:  # the same short budget for every network: seed 0, no augmentation, 2 epochs, no time budget
            self.assertEqual((s.seed, s.augment, s.max_epochs, s.minutes), (0, False, 2, None))
        self.assertEqual(worker.specs[:4], search, "the search runs come before the real runs")
        real = {(s.network, s.seed): s.learning_rate for s in worker.specs if s.evaluate_test}
        self.assertEqual(real, {("transformer_unet", 0): 0.001, ("transformer_unet", 1): 0.001,
                                ("unet", 0): 0.01, ("unet", 1): 0.01})
        for folder in ("lrsearch/unet__lr0.01", "lrsearch/transformer_unet__lr0.001", "unet__noaug__seed1__lr0.01"):
            self.assertIsNotNone(read_done(self.out / "runs" / folder), folder)
        self.assertEqual(json.loads((self.out / "runs/unet__noaug__seed0__lr0.01/spec.json").read_text())
                         ["max_epochs"], 5)

        report = json.loads((self.out / "comparison.json").read_text(), parse_constant=self.fail)
        self.assertEqual(report["lr_search"]["chosen"], {"transformer_unet": 0.001, "unet": 0.01})
        self.assertEqual(report["lr_search"]["epochs"], 2)
        self.assertEqual(len(report["lr_search"]["runs"]), 4)
        self.assertEqual(report["options"]["learning_rates"], {"transformer_unet": 0.001, "unet": 0.01})
        self.assertAlmostEqual(report["cpu_hours"]["total"], 3.0)  # 2 x 0.5 h + 2 x 1 h
        self.assertEqual(report["cpu_hours"]["per_network"], {"transformer_unet": 2.0, "unet": 1.0})
        self.assertAlmostEqual(report["lr_search"]["cpu_hours"]["total"], 3.0)
        md = (self.out / "table.md").read_text()
        self.assertIn("Training CPU time: 3.00 CPU-hours over 4 runs (transformer_unet 2.00, unet 1.00), plus 3.00 "
                      "CPU-hours of learning-rate search (4 runs)", md)
        self.assertIn("| `unet` | 0.700 | **0.800** | 0.01 |", md)
        self.assertIn("| `transformer_unet` | **0.850** | 0.600 | 0.001 |", (self.out / "lr_search.md").read_text())

        with (self.out / "table.csv").open(newline="") as f:
            rows = {r["network"]: r for r in csv.DictReader(f)}
        tu = np.mean([fake_test_dice("transformer_unet", s) for s in (0, 1)], axis=0)
        net = np.mean([fake_test_dice("unet", s) for s in (0, 1)], axis=0)
        mean, low, high, _ = t_interval(net - tu)
        self.assertAlmostEqual(float(rows["unet"]["dice_diff_vs_tu"]), mean, places=4)
        self.assertAlmostEqual(float(rows["unet"]["dice_diff_vs_tu_ci95_low"]), low, places=4)
        self.assertAlmostEqual(float(rows["unet"]["p_vs_tu"]), stats.wilcoxon(net - tu).pvalue, places=4)
        self.assertEqual((rows["unet"]["paired_seeds"], rows["unet"]["n_paired_images"]), ("0 1", "12"))
        self.assertEqual(rows["transformer_unet"]["p_vs_tu"], "")
        self.assertEqual(rows["unet"]["n_seeds"], "2")
        self.assertNotEqual(rows["unet"]["dice_ci95_low"], "")
        self.assertEqual(rows["unet"]["worst_subgroup"], "pathology=normal")  # duplex: 2 images, not judged
        self.assertEqual(rows["unet"]["worst_subgroup_n"], "10")

        # resumed: nothing retrained; --report-only: the same table from the run folders
        table = (self.out / "table.csv").read_text()
        again = FakeWorker(self.VAL, self.CPU)
        code, log, err = self.run_with(again)
        self.assertEqual((code, again.specs), (0, []), log + err)
        code, log, err = self.run_with(again, ["--report-only"])
        self.assertEqual((code, again.specs), (0, []), log + err)
        self.assertEqual((self.out / "table.csv").read_text(), table)

    def test_a_changed_learning_rate_trains_new_runs_beside_the_old(self):
        code, log, err = self.run_with(FakeWorker(self.VAL, self.CPU))
        self.assertEqual(code, 0, log + err)
        val = {**self.VAL, ("unet", 0.1): 0.95, ("transformer_unet", 0.1): 0.5}
        worker = FakeWorker(val, self.CPU)
        code, log, err = self.run_with(worker, ["--lr-search", "0.001", "0.01", "0.1"])  # the last one counts
        self.assertEqual(code, 0, log + err)
        trained = [(s.network, s.learning_rate, s.evaluate_test) for s in worker.specs]
        self.assertEqual(trained, [("transformer_unet", 0.1, False), ("unet", 0.1, False), ("unet", 0.1, True),
                                   ("unet", 0.1, True)])  # only the new search runs and unet's runs at its new lr
        self.assertIsNotNone(read_done(self.out / "runs" / "unet__noaug__seed0__lr0.01"), "old runs are kept")
        with (self.out / "table.csv").open(newline="") as f:
            self.assertEqual(len(list(csv.DictReader(f))), 2)

    def test_report_only_leaves_out_a_network_whose_search_is_unfinished(self):
        code, log, err = self.run_with(FakeWorker(self.VAL, self.CPU))
        self.assertEqual(code, 0, log + err)
        (self.out / "runs" / "lrsearch" / "unet__lr0.001" / "done.json").unlink()
        code, log, err = self.run_with(FakeWorker(self.VAL, self.CPU), ["--report-only"])
        self.assertEqual(code, 0, log + err)
        with (self.out / "table.csv").open(newline="") as f:
            self.assertEqual([r["network"] for r in csv.DictReader(f)], ["transformer_unet"])
        report = json.loads((self.out / "comparison.json").read_text())
        self.assertIsNone(report["lr_search"]["chosen"]["unet"])
        self.assertEqual(report["missing_runs"], ["unet__noaug__seed0", "unet__noaug__seed1"])


if __name__ == "__main__":
    unittest.main()
