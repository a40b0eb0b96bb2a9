# Copyright (c) 2026 Renogram parenchyma bundle contributors.
# Licensed under the Apache License, Version 2.0 (http://www.apache.org/licenses/LICENSE-2.0).
"""The end of a multi-process run: barrier, the barrier's work kept, the process group destroyed."""

from __future__ import annotations

import shutil
import tempfile
import unittest
from pathlib import Path

import torch.distributed as dist

from custom_transforms import distributed


class TestEndProcessGroup(unittest.TestCase):
    def test_without_a_process_group_nothing_happens(self):
        self.assertFalse(dist.is_initialized())
        before = len(distributed._FINAL_BARRIER)
        self.assertFalse(distributed.end_process_group())
        self.assertEqual(len(distributed._FINAL_BARRIER), before)

    def test_group_destroyed_and_the_barrier_work_kept_from_python(self):
        tmp = Path(tempfile.mkdtemp(prefix="end_pg_"))
        self.addCleanup(shutil.rmtree, tmp, True)
        dist.init_process_group("gloo", init_method=(tmp / "store").as_uri(), rank=0, world_size=1)
        self.addCleanup(lambda: dist.destroy_process_group() if dist.is_initialized() else None)
        before = len(distributed._FINAL_BARRIER)
        self.assertTrue(distributed.end_process_group())
        self.assertFalse(dist.is_initialized())
        # the work object must stay referenced from Python: freed by gloo's worker thread during interpreter exit, it
        # aborts the process (the module docstring's core dump)
        self.assertEqual(len(distributed._FINAL_BARRIER), before + 1)
        self.assertTrue(distributed._FINAL_BARRIER[-1].is_completed())


if __name__ == "__main__":
    unittest.main()
