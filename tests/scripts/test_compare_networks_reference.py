# Copyright (c) 2026 Renogram parenchyma bundle contributors.
# Licensed under the Apache License, Version 2.0 (http://www.apache.org/licenses/LICENSE-2.0).
"""``compare_networks --reference-row LABEL=EVAL_DIR``: a model the comparison did not train as its own table row.

A stand-in worker (:class:`tests.scripts.test_compare_networks.FakeWorker`) writes two finished networks x two seeds;
a tiny evaluation folder in the bundle's layout (``summary.json``, ``metrics_per_image.csv``, a checkpoint holding
the training rule) stands for the shipped 384² model. Checked: the row's values from that folder, the paired test on
the native-grid Dice, the costs of the named checkpoint, and a lost, damaged or mismatched file as one line (exit 2,
the earlier table kept, nothing trained).
"""

from __future__ import annotations

import csv
import json
import tempfile
import unittest
from pathlib import Path
from unittest import mock

import numpy as np
import torch
from parameterized import parameterized
from scipy import stats

import networks
import scripts.compare_networks as cli
from custom_transforms.subgroups import subgroup_means
from scripts.comparison.uncertainty import t_interval
from tests.faults.harness import assert_fault
from tests.scripts.test_compare_networks import (
    TEST_IMAGES,
    TINY_KWARGS,
    FakeWorker,
    fake_test_dice,
    make_dataset,
    run_main,
)

LABEL = "shipped model (96², bundle recipe)"
TINY_TU = {"hidden_size": 32, "num_layers": 1, "num_heads": 2, "mlp_dim": 64}
TRAIN = '{"train_cpu_h": 3.8, "epochs_run": 101, "epochs_to_best": 91, "source": "the model card"}'


def reference_dice() -> tuple[np.ndarray, np.ndarray]:
    """(network-grid, native-grid) per-image Dice of the reference model on :data:`TEST_IMAGES`.

    Native: above ``transformer_unet``'s seed mean by 0.02 plus noise; network grid: 0.10 below native, so a test that
    paired the network grid would give about -0.08 instead of +0.02.
    """
    tu = np.mean([fake_test_dice("transformer_unet", s) for s in (0, 1)], axis=0)
    rng = np.random.default_rng(7)
    native = np.clip(tu + 0.02 + rng.normal(0, 0.01, len(TEST_IMAGES)), 0, 1)
    return native - 0.10, native


def write_eval_folder(root: Path, checkpoint: Path | None = None, images=TEST_IMAGES) -> Path:
    """The bundle's evaluation outputs of the reference model (another dataset folder: only file names match)."""
    network, native = reference_dice()
    records = [
        {"image": f"/data/ds96/images/{n}", "study": n[:3], "network_dice": a, "native_dice": b,
         "pathology": "duplex" if k < 11 else "normal"}
        for k, (n, a, b) in enumerate(zip(images, network, native, strict=True))
    ]
    root.mkdir(parents=True)
    with (root / "metrics_per_image.csv").open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(records[0]))
        writer.writeheader()
        writer.writerows(records)
    info = {"network": "transformer_unet", "split": "test", "checkpoint": str(checkpoint or root / "model.pt")}
    summary = {"info": info, "mean": {"network_dice": float(np.mean(network))}, "subgroups": subgroup_means(records)}
    (root / "summary.json").write_text(json.dumps(summary))
    return root


def write_checkpoint(path: Path, size: int, fit: bool = True) -> torch.nn.Module:
    """A ``train.json``-style checkpoint: weights and the training rule (network, arguments, input size)."""
    net = networks.create_network("transformer_unet", in_channels=3, out_channels=1, img_size=(size, size), **TINY_TU)
    state = net.state_dict() if fit else {"not": torch.zeros(1)}
    settings = {"network_name": "transformer_unet", "network_kwargs": TINY_TU, "in_channels": 3,
                "image_size": [size, size]}
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"model": state, "settings": settings}, path)
    return net


def read_rows(out: Path) -> dict[str, dict[str, str]]:
    with (out / "table.csv").open(newline="") as f:
        return {r["network"]: r for r in csv.DictReader(f)}


class ReferenceRowCase(unittest.TestCase):
    VAL = {("unet", None): 0.8, ("transformer_unet", None): 0.8}
    CPU = {"unet": 60.0, "transformer_unet": 60.0}

    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.addCleanup(self.tmp.cleanup)
        self.root = Path(self.tmp.name)
        self.dataset = make_dataset(self.root / "ds", counts=(1, 1, 1), size=16)
        self.out = self.root / "results"
        self.argv = ["--dataset", str(self.dataset), "--out", str(self.out), "--networks", "transformer_unet",
                     "unet", *TINY_KWARGS, "--image-size", "64", "--epochs", "1", "--augment", "off", "--seeds", "0",
                     "1", "--quiet"]
        self.worker = FakeWorker(self.VAL, self.CPU)

    def run_cmd(self, extra=(), benchmark=False):
        argv = [*self.argv, *([] if benchmark else ["--no-benchmark"]), *extra]
        with mock.patch.object(cli.subprocess, "run", side_effect=self.worker):
            return run_main(argv)

    def reference(self, eval_dir: Path) -> list[str]:
        return ["--reference-row", f"{LABEL}={eval_dir}", "--reference-train", f"{LABEL}={TRAIN}"]


class TestReferenceRow(ReferenceRowCase):
    def test_row_from_the_evaluation_folder_in_a_run_and_in_report_only(self):
        checkpoint = self.root / "bundle" / "models" / "model.pt"
        write_checkpoint(checkpoint, 96)
        eval_dir = write_eval_folder(self.root / "eval384", checkpoint)
        network, native = reference_dice()
        for extra in ([], ["--report-only"]):  # the normal run's final report, then the table from the run folders
            code, log, err = self.run_cmd([*self.reference(eval_dir), *extra])
            self.assertEqual(code, 0, log + err)
            rows = read_rows(self.out)
            self.assertEqual(list(rows), ["transformer_unet", "unet", LABEL])
            row = rows[LABEL]
            self.assertEqual((row["origin"], row["network_grid"], row["augmentation"]), ("reference", "96x96",
                                                                                         "own recipe"))
            self.assertEqual((row["n_seeds"], row["seeds"], row["dice_ci95_low"]), ("1", "", ""))
            self.assertAlmostEqual(float(row["dice_mean"]), network.mean(), places=4)
            self.assertAlmostEqual(float(row["dice_native_mean"]), native.mean(), places=4)
            self.assertEqual((row["worst_subgroup"], row["worst_subgroup_n"]), ("pathology=duplex", "11"))
            self.assertAlmostEqual(float(row["worst_subgroup_dice"]), native[:11].mean(), places=4)
            self.assertAlmostEqual(float(row["train_cpu_s"]), 3.8 * 3600, places=1)
            self.assertEqual((row["epochs_run"], row["epochs_to_best"]), ("101", "91"))
            self.assertEqual((row["params_m"], row["gflops"], row["cpu_latency_ms"]), ("", "", ""))  # --no-benchmark
            self.assertEqual((rows["unet"]["origin"], rows["unet"]["network_grid"]), ("comparison", "64x64"))
            md = (self.out / "table.md").read_text()
            line = next(x for x in md.splitlines() if x.startswith(f"| {LABEL}"))
            self.assertIn(f"| {LABEL} (not trained here) | own recipe | {network.mean():.3f} (96x96 grid; one model: "
                          "no interval) |", line)
            self.assertIn("| 3.80 | 91 / 101 |", line)
            self.assertIn("| Dice (64x64 grid) |", md)
            self.assertIn("network-grid Dice is not comparable across grids, the native-grid Dice is", md)
            self.assertIn("training figures as stated in the model card", md)
            self.assertIn("costs not measured (--no-benchmark)", md)
            report = json.loads((self.out / "comparison.json").read_text())
            self.assertEqual(report["reference_rows"][LABEL]["checkpoint"], str(checkpoint))
        self.assertEqual(len(self.worker.specs), 4, "the reference row trains nothing")

    def test_paired_test_uses_the_native_grid_against_the_seed_mean(self):
        eval_dir = write_eval_folder(self.root / "eval384")
        code, log, err = self.run_cmd(self.reference(eval_dir))
        self.assertEqual(code, 0, log + err)
        row = read_rows(self.out)[LABEL]
        _, native = reference_dice()
        tu = np.mean([fake_test_dice("transformer_unet", s) for s in (0, 1)], axis=0)  # its native = network Dice
        mean, low, high, _ = t_interval(native - tu)
        self.assertAlmostEqual(float(row["dice_diff_vs_tu"]), mean, places=4)
        self.assertGreater(float(row["dice_diff_vs_tu"]), 0.0, "a network-grid pairing would be about -0.08")
        self.assertAlmostEqual(float(row["dice_diff_vs_tu_ci95_low"]), low, places=4)
        self.assertAlmostEqual(float(row["dice_diff_vs_tu_ci95_high"]), high, places=4)
        self.assertAlmostEqual(float(row["p_vs_tu"]), stats.wilcoxon(native - tu).pvalue, places=4)
        self.assertEqual((row["paired_grid"], row["paired_seeds"], row["n_paired_images"]), ("native", "0 1", "12"))
        self.assertEqual(read_rows(self.out)["unet"]["paired_grid"], "network")
        md = (self.out / "table.md").read_text()
        self.assertIn(f"{mean:+.3f} [{low:+.3f}, {high:+.3f}] (native grid)", md)
        self.assertIn("pair its native-grid Dice with `transformer_unet`'s (no augmentation, each image averaged over "
                      "seeds 0 1) on the same 12 test images", md)
        self.assertIn("its own grid (size not recorded: no readable checkpoint)", md)

    def test_costs_of_the_named_checkpoint(self):
        checkpoint = self.root / "weights" / "model.pt"
        net = write_checkpoint(checkpoint, 32)
        eval_dir = write_eval_folder(self.root / "eval", checkpoint)
        code, log, err = self.run_cmd(self.reference(eval_dir), benchmark=True)
        self.assertEqual(code, 0, log + err)
        row = read_rows(self.out)[LABEL]
        self.assertAlmostEqual(float(row["params_m"]), sum(p.numel() for p in net.parameters()) / 1e6, places=4)
        self.assertGreater(float(row["gflops"]), 0.0)
        self.assertNotEqual(row["params_m"], read_rows(self.out)["transformer_unet"]["params_m"], "its own size")
        md = (self.out / "table.md").read_text()
        self.assertIn(f"costs measured from {checkpoint} (transformer_unet at 32x32)", md)

    @parameterized.expand([("checkpoint_missing", None, "not found"), ("weights_do_not_fit", False, "do not fit")])
    def test_costs_not_measured_say_why(self, _, fit, fragment):
        checkpoint = self.root / "weights" / "model.pt"
        if fit is not None:
            write_checkpoint(checkpoint, 32, fit=fit)
        eval_dir = write_eval_folder(self.root / "eval", checkpoint)
        code, log, err = self.run_cmd(self.reference(eval_dir), benchmark=True)
        self.assertEqual(code, 0, log + err)
        self.assertEqual(read_rows(self.out)[LABEL]["params_m"], "")
        caption = (self.out / "table.md").read_text().splitlines()[0]
        self.assertIn("costs not measured: ", caption)
        self.assertIn(fragment, caption)


class TestReferenceRowBadInput(ReferenceRowCase):
    @parameterized.expand([
        ("folder_missing", "folder", None, "not found"),
        ("per_image_missing", "metrics_per_image.csv", None, "cannot be read"),
        ("per_image_empty", "metrics_per_image.csv", "", "has no rows"),
        ("summary_damaged", "summary.json", "{not json", "Expecting property name"),
    ])
    def test_one_line_naming_the_file_and_the_earlier_table_kept(self, _, target, content, fragment):
        eval_dir = write_eval_folder(self.root / "eval384")
        self.assertEqual(self.run_cmd()[0], 0)
        table = (self.out / "table.csv").read_bytes()
        bad = eval_dir if target == "folder" else eval_dir / target
        if target == "folder":
            for f in eval_dir.iterdir():
                f.unlink()
            eval_dir.rmdir()
        elif content is None:
            bad.unlink()
        else:
            bad.write_text(content)
        trained = len(self.worker.specs)
        for extra in (["--report-only"], ["--retrain"]):  # read before anything is trained or replaced
            code, _, err = self.run_cmd([*self.reference(eval_dir), *extra])
            assert_fault(self, code, err, 2, fragment, named_file=bad)
            self.assertEqual((self.out / "table.csv").read_bytes(), table, "the earlier table is kept")
        self.assertEqual(len(self.worker.specs), trained, "nothing trained")

    def test_other_test_images_are_refused(self):
        eval_dir = write_eval_folder(self.root / "eval384", images=[*TEST_IMAGES[:-1], "from_another_split.png"])
        self.assertEqual(self.run_cmd()[0], 0)
        table = (self.out / "table.csv").read_bytes()
        code, _, err = self.run_cmd([*self.reference(eval_dir), "--report-only"])
        assert_fault(self, code, err, 2, "were evaluated on different test images", named_file=eval_dir)
        self.assertEqual((self.out / "table.csv").read_bytes(), table)

    @parameterized.expand([
        ("no_label", ["--reference-row", "=somewhere"], "expected LABEL=EVAL_DIR"),
        ("label_is_a_network", ["--reference-row", "unet=EVAL"], "a compared network's name"),
        ("train_for_unknown_label", ["--reference-row", f"{LABEL}=EVAL", "--reference-train", 'other={}'],
         "not a --reference-row label"),
        ("train_unknown_key", ["--reference-row", f"{LABEL}=EVAL", "--reference-train", f'{LABEL}={{"cpu": 1}}'],
         "unknown key(s) cpu"),
        ("train_negative", ["--reference-row", f"{LABEL}=EVAL", "--reference-train",
                            f'{LABEL}={{"epochs_run": -1}}'], "must be a number >= 0"),
    ])
    def test_bad_option_values(self, _, extra, fragment):
        eval_dir = write_eval_folder(self.root / "EVAL")
        extra = [x.replace("=EVAL", f"={eval_dir}") for x in extra]
        code, _, err = self.run_cmd(extra)
        assert_fault(self, code, err, 2, fragment)
        self.assertEqual(self.worker.specs, [], "nothing trained")


if __name__ == "__main__":
    unittest.main()
