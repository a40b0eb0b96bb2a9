# Copyright (c) 2026 Renogram parenchyma bundle contributors.
# Licensed under the Apache License, Version 2.0 (http://www.apache.org/licenses/LICENSE-2.0).
"""The bundle's metadata against MONAI's schemas (offline), the network against it, and the shipped checkpoint."""

from __future__ import annotations

import json
import unittest

import torch
from parameterized import parameterized

from tests.bundle.bundle_fixtures import BUNDLE, CONFIGS, SCHEMA_DIR

SCHEMAS = ["meta_schema_20220324.json", "meta_schema_20240725.json"]


class TestMetadata(unittest.TestCase):
    def setUp(self) -> None:
        self.meta = json.loads((CONFIGS / "metadata.json").read_text())

    @parameterized.expand([[s] for s in SCHEMAS])
    def test_validates_against_schema_offline(self, schema_name):
        import jsonschema

        path = SCHEMA_DIR / schema_name
        if not path.is_file():
            self.skipTest(f"{path} not available")
        schema = json.loads(path.read_text())
        jsonschema.validate(instance=self.meta, schema=schema)
        broken = dict(self.meta)
        broken.pop("network_data_format")
        with self.assertRaises(jsonschema.ValidationError):
            jsonschema.validate(instance=broken, schema=schema)

    def test_monai_label_contract(self):
        image = self.meta["network_data_format"]["inputs"]["image"]
        pred = self.meta["network_data_format"]["outputs"]["pred"]
        self.assertEqual(image["spatial_shape"], [384, 384])  # length 2 -> MONAI Label "dimension" 2
        self.assertEqual(image["num_channels"], 3)
        self.assertEqual(image["value_range"], [0, 1])
        self.assertEqual(pred["num_channels"], 1)
        labels = {v: int(k) for k, v in pred["channel_def"].items() if v != "background"}
        self.assertEqual(labels, {"renal_parenchyma": 1})

    def test_versions_match_the_environment(self):
        import ignite
        import monai

        self.assertEqual(self.meta["monai_version"], monai.__version__)
        self.assertEqual(self.meta["pytorch_version"], torch.__version__.split("+")[0])
        self.assertEqual(self.meta["required_packages_version"]["pytorch-ignite"], ignite.__version__)
        self.assertEqual(self.meta["optional_packages_version"], self.meta["required_packages_version"])

    def test_eval_metrics_come_from_the_shipped_summary(self):
        summary = BUNDLE / "docs" / "results" / "summary.json"
        if not summary.is_file():
            self.assertEqual(self.meta.get("eval_metrics", {}), {}, "eval_metrics without a results summary")
            return
        means = json.loads(summary.read_text())["mean"]
        for key, value in self.meta["eval_metrics"].items():
            self.assertAlmostEqual(value, round(means[key], 4), places=4, msg=key)


class TestNetwork(unittest.TestCase):
    def test_verify_net_in_out(self):
        from monai.bundle import verify_net_in_out

        verify_net_in_out(
            net_id="network_def",
            meta_file=str(CONFIGS / "metadata.json"),
            config_file=str(CONFIGS / "inference.json"),
            bundle_root=str(BUNDLE),
            device="cpu",
        )

    def test_shipped_checkpoint_loads_strictly(self):
        ckpt = BUNDLE / "models" / "model.pt"
        if not ckpt.is_file():
            self.skipTest("no trained checkpoint shipped in bundle/models/model.pt yet")
        from monai.bundle import ConfigParser

        parser = ConfigParser()
        parser.read_config(str(CONFIGS / "inference.json"))
        parser["bundle_root"] = str(BUNDLE)
        net = parser.get_parsed_content("network_def")
        state = torch.load(ckpt, map_location="cpu", weights_only=True)
        # a model.pt trained by this bundle holds {"model", "settings"}; older ones a plain state_dict
        net.load_state_dict(state["model"] if "settings" in state else state, strict=True)


if __name__ == "__main__":
    unittest.main()
