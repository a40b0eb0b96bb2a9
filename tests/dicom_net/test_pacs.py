# Copyright (c) 2026 Renogram parenchyma bundle contributors.
# Licensed under the Apache License, Version 2.0 (http://www.apache.org/licenses/LICENSE-2.0).
"""``python -m scripts.pacs`` against a real Orthanc server: store simulated studies, find them, fetch them, store a
SEG back, find it at series level and read it back with highdicom; and, once ``renal_function --dicom`` exists, the
whole flow through the report.

The server is started once per class on free 127.0.0.1 ports with its own storage (:mod:`tests.dicom_net.orthanc`)
and stopped by its PID; skipped with a reason when Orthanc is not installed.
"""

from __future__ import annotations

import json
import shutil
import tempfile
import unittest
from pathlib import Path

import numpy as np
from parameterized import parameterized
from PIL import Image

from scripts.dicom_net import DicomNode, collect_files, find, instance_file_name
from scripts.pacs import STORED_FILE, main, parse_args
from tests.clinical.renal_fixtures import HAVE_SIMULATOR, make_tiny_bundle, simulate
from tests.dicom_net.orthanc import HAVE_ORTHANC, SKIP_REASON, OrthancServer
from tests.dicom_net.seg_fixture import HAVE_HIGHDICOM, make_seg, read_seg_masks
from tests.faults.harness import assert_no_leftovers, run_main, run_module


def _node_args(node: DicomNode) -> list[str]:
    return ["--host", node.host, "--port", str(node.port), "--called-aet", node.called_aet, "--aet", node.aet]


def _dataset(path: Path):
    import pydicom

    return pydicom.dcmread(path)


class TestPacsOptions(unittest.TestCase):
    """Parsing and defaults, no server."""

    def test_defaults(self) -> None:
        args = parse_args(["echo"])
        self.assertEqual((args.host, args.port, args.called_aet, args.aet), ("127.0.0.1", 4242, "ORTHANC", "RENOGRAM"))

    @parameterized.expand([
        ("fetch_without_uids", ["fetch", "--out", "o"]),
        ("fetch_without_out", ["fetch", "1.2.3"]),
        ("bad_port", ["echo", "--port", "0"]),
        ("bad_timeout", ["find", "--timeout", "0"]),
        ("no_action", []),
    ])
    def test_refused(self, _name: str, argv: list[str]) -> None:
        code, _, err = run_main(main, argv)
        self.assertEqual(code, 2, err)

    def test_instance_file_name(self) -> None:
        self.assertEqual(instance_file_name("SEG", "1.2.3"), "SEG-1.2.3.dcm")
        self.assertEqual(instance_file_name("", "1.2/../3"), "OT-1.2_.._3.dcm")

    def test_collect_files_folder_pattern(self) -> None:
        tmp = Path(tempfile.mkdtemp(prefix="pacs_collect_"))
        self.addCleanup(shutil.rmtree, tmp, ignore_errors=True)
        for rel in ("r/a/seg.dcm", "r/a/report.dcm", "r/a/report.json", "r/.hidden/x.dcm", "r/b/seg.dcm"):
            (tmp / rel).parent.mkdir(parents=True, exist_ok=True)
            (tmp / rel).write_bytes(b"")
        files, bad = collect_files([tmp / "r", tmp / "r/a/seg.dcm", tmp / "missing", tmp / "r/a/report.json"])
        names = [f.relative_to(tmp).as_posix() for f in files]
        self.assertEqual(names, ["r/a/report.dcm", "r/a/seg.dcm", "r/b/seg.dcm", "r/a/report.json"])
        self.assertEqual([b["input"] for b in bad], [str(tmp / "missing")])


class TestAssociationFailureReason(unittest.TestCase):
    """A refused association reads the same whether the node rejected it or aborted it (a race on a loaded machine)."""

    @parameterized.expand([["rejected", True, False, ["Reason: Called AE title not recognised"]],
                           ["aborted", False, True, []]])
    def test_refusal_gives_the_title_advice(self, _name, rejected, aborted, lines):
        from types import SimpleNamespace

        from scripts.dicom_net.node import _why

        why = _why(lines, SimpleNamespace(is_rejected=rejected, is_aborted=aborted))
        self.assertIn("check the called AE title", why)
        self.assertIn(_name, why)

    def test_connection_failure_is_not_a_title_problem(self):
        from types import SimpleNamespace

        from scripts.dicom_net.node import _why

        why = _why(["TCP Initialisation Error: Connection refused", "unable to connect"],
                   SimpleNamespace(is_rejected=False, is_aborted=True))
        self.assertIn("cannot connect", why)


@unittest.skipUnless(HAVE_ORTHANC, SKIP_REASON)
@unittest.skipUnless(HAVE_SIMULATOR and HAVE_HIGHDICOM, "needs scripts.simulation and highdicom")
class TestPacsOrthanc(unittest.TestCase):
    @classmethod
    def setUpClass(cls) -> None:
        cls.tmp = Path(tempfile.mkdtemp(prefix="pacs_e2e_"))
        cls.addClassCleanup(shutil.rmtree, cls.tmp, ignore_errors=True)
        cls.sim = cls.tmp / "sim"
        cls.studies = [simulate(cls.sim, name, i) / "study.dcm" for i, name in enumerate(("p1", "p2"))]
        cls.uids = [str(_dataset(s).StudyInstanceUID) for s in cls.studies]
        cls.server = OrthancServer().start()
        cls.addClassCleanup(cls.server.stop)
        cls.node = cls.server.node
        code, out, err = run_main(main, ["store", str(cls.sim), "--out", str(cls.tmp / "log0"), *_node_args(cls.node)])
        if code != 0:
            raise AssertionError(f"storing the studies failed ({code}): {err}{out}")

    def _run(self, *argv: str) -> tuple[int, str, str]:
        return run_main(main, [*argv, *_node_args(self.node)])

    def test_echo(self) -> None:
        code, out, err = self._run("echo")
        self.assertEqual(code, 0, err)
        self.assertIn("answers C-ECHO", out)

    def test_store_record(self) -> None:
        log = self.tmp / "log0"
        stored = json.loads((log / STORED_FILE).read_text())
        self.assertEqual(sorted(s["file"] for s in stored["stored"]), sorted(map(str, self.studies)))
        self.assertEqual(sorted(s["study_instance_uid"] for s in stored["stored"]), sorted(self.uids))
        skipped = json.loads((log / "skipped.json").read_text())
        self.assertEqual((skipped["inputs"], skipped["done"], skipped["skipped"]), (2, 2, []))

    @parameterized.expand([("tsv",), ("json",), ("uid",)])
    def test_find_studies(self, fmt: str) -> None:
        code, out, err = self._run("find", "--modality", "NM", "--format", fmt)
        self.assertEqual(code, 0, err)
        if fmt == "json":
            found = [row["StudyInstanceUID"] for row in json.loads(out)]
        elif fmt == "uid":
            found = out.split()
        else:
            header, *rows = out.splitlines()
            column = header.split("\t").index("StudyInstanceUID")
            found = [row.split("\t")[column] for row in rows]
        self.assertEqual(sorted(found), sorted(self.uids))

    def test_find_by_patient_and_series(self) -> None:
        rows = find(self.node, "study", patient_id="p2")
        self.assertEqual([r["StudyInstanceUID"] for r in rows], [self.uids[1]])
        series = find(self.node, "series", study_uid=self.uids[0])
        self.assertEqual([s["Modality"] for s in series], ["NM"])

    def test_fetch_studies(self) -> None:
        out = self.tmp / "fetched"
        uid_file = self.tmp / "uids.txt"
        uid_file.write_text(f"# studies\n{self.uids[1]}\n\n")
        code, stdout, err = self._run("fetch", self.uids[0], "--uid-file", str(uid_file), "--out", str(out))
        self.assertEqual(code, 0, err)
        for uid, study in zip(self.uids, self.studies, strict=True):
            files = sorted(p.name for p in (out / uid).iterdir())
            self.assertEqual(files, ["study.dcm"])
            self.assertEqual(_dataset(out / uid / "study.dcm"), _dataset(study))  # every element, pixels included
        self.assertEqual(json.loads((out / "skipped.json").read_text())["skipped"], [])
        assert_no_leftovers(self, out)

    def test_seg_round_trip(self) -> None:
        """A SEG stored into the study, found at series level (modality SEG), fetched with the study, read back."""
        work = self.tmp / "seg_round_trip"
        labels = np.asarray(Image.open(self.studies[0].parent / "parenchyma.png"))
        (work / "reports" / "p1").mkdir(parents=True)
        seg = make_seg(self.studies[0], labels, work / "reports" / "p1" / "seg.dcm")
        code, _, err = self._run("store", str(work / "reports"), "--out", str(work / "log"))
        self.assertEqual(code, 0, err)
        code, out, err = self._run("find", "--level", "series", "--modality", "SEG", "--format", "json")
        self.assertEqual(code, 0, err)
        rows = json.loads(out)
        self.assertEqual([(r["StudyInstanceUID"], r["SeriesInstanceUID"]) for r in rows],
                         [(self.uids[0], str(_dataset(seg).SeriesInstanceUID))])
        code, _, err = self._run("fetch", self.uids[0], "--out", str(work / "fetched"))
        self.assertEqual(code, 0, err)
        folder = work / "fetched" / self.uids[0]
        seg_name = instance_file_name("SEG", str(_dataset(seg).SOPInstanceUID))
        self.assertEqual(sorted(p.name for p in folder.iterdir()), sorted([seg_name, "study.dcm"]))
        masks = read_seg_masks(folder / seg_name)
        np.testing.assert_array_equal(masks["left kidney"], labels == 1)
        np.testing.assert_array_equal(masks["right kidney"], labels == 2)

    def test_overwrite_replaces_a_fetched_study(self) -> None:
        out = self.tmp / "refetch"
        self.assertEqual(self._run("fetch", self.uids[1], "--out", str(out))[0], 0)
        (out / self.uids[1] / "stale.txt").write_text("old")
        code, _, err = self._run("fetch", self.uids[1], "--out", str(out), "--overwrite")
        self.assertEqual(code, 0, err)
        self.assertEqual(sorted(p.name for p in (out / self.uids[1]).iterdir()), ["study.dcm"])
        assert_no_leftovers(self, out)

    def test_as_module(self) -> None:
        proc = run_module("scripts.pacs", ["find", "--format", "uid", *_node_args(self.node)])
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertEqual(sorted(proc.stdout.split()), sorted(self.uids))


@unittest.skipUnless(HAVE_ORTHANC, SKIP_REASON)
@unittest.skipUnless(HAVE_SIMULATOR and HAVE_HIGHDICOM, "needs scripts.simulation and highdicom")
class TestPacsReportFlow(unittest.TestCase):
    """The issue's flow on its own server: what it stores does not meet the other tests' queries."""

    def setUp(self) -> None:
        self.tmp = Path(tempfile.mkdtemp(prefix="pacs_flow_"))
        self.addCleanup(shutil.rmtree, self.tmp, ignore_errors=True)
        self.sim = self.tmp / "sim"
        studies = [simulate(self.sim, name, i) / "study.dcm" for i, name in enumerate(("f1", "f2"))]
        self.uids = [str(_dataset(s).StudyInstanceUID) for s in studies]
        self.server = OrthancServer().start()
        self.addCleanup(self.server.stop)
        self.node = self.server.node

    def _run(self, *argv: str) -> tuple[int, str, str]:
        return run_main(main, [*argv, *_node_args(self.node)])

    def test_full_flow_through_the_report(self) -> None:
        """Store NM -> fetch -> renal_function --dicom -> store seg.dcm + report.dcm -> find SEG -> fetch -> the SEG
        read back equals the one the report wrote, segment by segment."""
        from scripts import renal_function

        work = self.tmp
        bundle = make_tiny_bundle(work / "bundle")
        code, _, err = self._run("store", str(self.sim))
        self.assertEqual(code, 0, err)
        code, _, err = self._run("fetch", *self.uids, "--out", str(work / "fetched"))
        self.assertEqual(code, 0, err)
        reports = work / "reports"
        code, _, err = run_main(renal_function.main, [str(work / "fetched"), "--out", str(reports), "--dicom",
                                                      "--bundle-dir", str(bundle), "--quiet"])
        self.assertEqual(code, 0, err)
        code, _, err = self._run("store", str(reports), "--out", str(work / "log"))
        self.assertEqual(code, 0, err)
        stored = json.loads((work / "log" / STORED_FILE).read_text())["stored"]
        series = find(self.node, "series", modality="SEG")
        for uid in self.uids:
            names = {Path(s["file"]).name for s in stored if s["study_instance_uid"] == uid}
            self.assertLessEqual({"seg.dcm", "report.dcm"}, names)
            self.assertIn(uid, {s["StudyInstanceUID"] for s in series})
            seg_uid = str(_dataset(reports / uid / "seg.dcm").SOPInstanceUID)
            code, _, err = self._run("fetch", uid, "--out", str(work / "again"))
            self.assertEqual(code, 0, err)
            fetched = read_seg_masks(work / "again" / uid / instance_file_name("SEG", seg_uid))
            written = read_seg_masks(reports / uid / "seg.dcm")
            self.assertEqual(sorted(fetched), sorted(written))
            for label, mask in written.items():
                np.testing.assert_array_equal(fetched[label], mask, err_msg=f"{uid}: segment {label}")
