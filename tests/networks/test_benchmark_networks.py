# Copyright (c) 2026 Renogram parenchyma bundle contributors.
# Licensed under the Apache License, Version 2.0 (http://www.apache.org/licenses/LICENSE-2.0).
"""scripts.benchmarking.network_costs (FLOP counting of fused attention, one-network measurement) and the
scripts.benchmark_networks command (target ratios, CLI errors)."""

from __future__ import annotations

import contextlib
import io
import unittest

import torch

from networks import TransformerUNet
from scripts import benchmark_networks as bench
from scripts.benchmarking import network_costs


class TestBenchmarkNetworks(unittest.TestCase):
    def test_fused_attention_flops_are_counted(self) -> None:
        # the plain counter reports 0 for CPU fused attention; ours must match the unfused (explicit matmul) count
        kw = {
            "img_size": 128,
            "patch_size": 16,
            "encoder_channels": (8, 8, 8),
            "hidden_size": 32,
            "num_layers": 2,
            "num_heads": 2,
            "mlp_dim": 64,
        }
        torch.manual_seed(0)
        fused = TransformerUNet(use_flash_attention=True, **kw).eval()
        plain = TransformerUNet(use_flash_attention=False, **kw).eval()
        x = torch.rand(1, 3, 128, 128)
        self.assertAlmostEqual(network_costs.count_gflops(fused, x), network_costs.count_gflops(plain, x), places=6)

    def test_measure_infer_record(self) -> None:
        threads = torch.get_num_threads()
        try:
            rec = network_costs.measure(network_costs.REFERENCE_NAME, "infer", 64, 1, 2, 2, 1)
        finally:
            torch.set_num_threads(threads)  # measure() sets the process-wide thread count
        self.assertAlmostEqual(rec["params_m"], 0.660281, places=5)  # MONAI UNet 16..256, no residual units, 3->1
        self.assertGreater(rec["gflops_per_image"], 0.0)
        self.assertGreater(rec["latency_ms_b1"], 0.0)

    def test_measure_train_record_with_the_recipes_step(self) -> None:
        threads = torch.get_num_threads()
        try:
            fast = network_costs.measure(network_costs.REFERENCE_NAME, "train", 32, 1, 1, 2, 1,
                                         autocast="bfloat16", channels_last=True)
            plain = network_costs.measure(network_costs.REFERENCE_NAME, "train", 32, 1, 1, 2, 1)
        finally:
            torch.set_num_threads(threads)
        self.assertEqual((fast["train_autocast"], fast["train_channels_last"]), ("bfloat16", True))
        self.assertEqual((plain["train_autocast"], plain["train_channels_last"]), (None, False))
        self.assertAlmostEqual(fast["train_ms_per_image"], 1e3 * fast["train_step_s"] / 2)

    def test_ratios(self) -> None:
        rows = [
            {"network": "transformer_unet", "gflops_per_image": 2.0, "latency_ms_b1": 30.0, "latency_ms_b1_min": 20.0},
            {"network": network_costs.REFERENCE_NAME, "latency_ms_b1": 20.0, "latency_ms_b1_min": 10.0},
            {"network": "unetr", "latency_ms_b1": 300.0, "latency_ms_b1_min": 200.0},
        ]
        out = bench._ratios(rows)
        self.assertTrue(out["gflops_ok"])
        self.assertAlmostEqual(out["latency_vs_unet_ref"], 1.5)
        self.assertTrue(out["latency_vs_unet_ref_ok"])
        self.assertAlmostEqual(out["latency_vs_unetr_from_min"], 0.1)

    def test_cli_errors_exit_2_one_line(self) -> None:
        for argv in (["--networks", "transunet"], ["--size", "0"], ["--autocast", "int8"]):
            err = io.StringIO()
            with contextlib.redirect_stderr(err), self.assertRaises(SystemExit) as ctx:
                bench.main(argv)
            self.assertEqual(ctx.exception.code, 2)
            self.assertEqual(len(err.getvalue().strip().splitlines()), 1, err.getvalue())


if __name__ == "__main__":
    unittest.main()
