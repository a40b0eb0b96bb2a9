# Copyright (c) 2026 Renogram parenchyma bundle contributors.
# Licensed under the Apache License, Version 2.0 (http://www.apache.org/licenses/LICENSE-2.0).
"""scripts.clinical.studies.find_studies: which entries of a folder are studies (none dropped silently)."""

from __future__ import annotations

import tempfile
import unittest
from pathlib import Path

from custom_transforms.errors import RenogramInputError
from scripts.clinical.studies import find_studies


class TestFindStudies(unittest.TestCase):
    def test_layouts(self):
        with tempfile.TemporaryDirectory() as tmp:
            root = Path(tmp)
            (root / "a.dcm").write_bytes(b"")
            (root / "b.nii.gz").write_bytes(b"")
            (root / "README.txt").write_text("not a study")
            (root / "sim1").mkdir()
            (root / "sim1" / "study.dcm").write_bytes(b"")
            (root / "sim1" / "parenchyma.png").write_bytes(b"")
            (root / "frames").mkdir()
            (root / "frames" / "timing.json").write_text("{}")
            fetched = root / "1.2.3"  # scripts.pacs fetch: a study with two NM instances
            fetched.mkdir()
            for name in ("NM-1.2.3.4.dcm", "NM-1.2.3.5.dcm", ".hidden.dcm", "notes.txt"):
                (fetched / name).write_bytes(b"")
            (root / ".sim-tmp-x").mkdir()
            (root / ".sim-tmp-x" / "study.dcm").write_bytes(b"")
            found = [p.relative_to(root).as_posix() for p in find_studies(root)]
            self.assertEqual(found, ["1.2.3/NM-1.2.3.4.dcm", "1.2.3/NM-1.2.3.5.dcm", "a.dcm", "b.nii.gz", "frames",
                                     "sim1/study.dcm"])

    def test_no_study_names_the_folder(self):
        with tempfile.TemporaryDirectory() as tmp:
            (Path(tmp) / "labels").mkdir()
            with self.assertRaisesRegex(RenogramInputError, "holds no study"):
                find_studies(tmp)


if __name__ == "__main__":
    unittest.main()
