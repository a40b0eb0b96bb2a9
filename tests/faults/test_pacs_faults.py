# Copyright (c) 2026 Renogram parenchyma bundle contributors.
# Licensed under the Apache License, Version 2.0 (http://www.apache.org/licenses/LICENSE-2.0).
"""Fault injection for ``python -m scripts.pacs`` against a real Orthanc: a study not on the node, a node that
rejects the called AE title or does not know ours, a port nothing listens on, bad files among good ones, a study
folder that exists, an instance the node cannot send.

Each case: exit 2 -> one error line naming what failed (the study UID, the node ``AET@host:port`` or the file) ->
nothing half-written (no study folder, no build-aside folder) and nothing half-stored (the node holds exactly the
good files) -> the inputs unchanged (checksums).
"""

from __future__ import annotations

import json
import shutil
import tempfile
import unittest
from pathlib import Path
from unittest import mock

from parameterized import parameterized

from scripts.dicom_net import find
from scripts.pacs import STORED_FILE, main
from tests.clinical.renal_fixtures import HAVE_SIMULATOR, simulate, truncated_copy
from tests.dicom_net.orthanc import HAVE_ORTHANC, SKIP_REASON, OrthancServer, free_port
from tests.faults.harness import assert_fault, assert_no_leftovers, run_main, run_module, tree_checksum

UNKNOWN_UID = "1.2.826.0.1.3680043.8.498.999999"

# name, node overrides, fragment of the error line, what it must name ({called}: the called AET used)
NODE_FAULTS = [
    # Orthanc rejects the association, or on a loaded machine its rejection races the socket's close and reads as an
    # abort: both messages name the node and give the same advice (scripts.dicom_net.node._why)
    ("wrong_called_aet", {"--called-aet": "NOTORTHANC"}, "check the called AE title", "NOTORTHANC@127.0.0.1"),
    ("wrong_port", {"--port": "{free}"}, "cannot connect", "127.0.0.1:{free}"),
]


@unittest.skipUnless(HAVE_ORTHANC, SKIP_REASON)
@unittest.skipUnless(HAVE_SIMULATOR, "scripts.simulation not available")
class TestPacsFaults(unittest.TestCase):
    @classmethod
    def setUpClass(cls) -> None:
        cls.tmp = Path(tempfile.mkdtemp(prefix="pacs_faults_"))
        cls.addClassCleanup(shutil.rmtree, cls.tmp, ignore_errors=True)
        cls.good = simulate(cls.tmp / "src", "good", 0) / "study.dcm"
        import pydicom

        cls.uid = str(pydicom.dcmread(cls.good, stop_before_pixels=True).StudyInstanceUID)
        cls.server = OrthancServer().start()
        cls.addClassCleanup(cls.server.stop)
        cls.node = cls.server.node
        code, _, err = run_main(main, ["store", str(cls.good), *cls._node_args()])
        if code != 0:
            raise AssertionError(err)

    @classmethod
    def _node_args(cls, **overrides: str) -> list[str]:
        opts = {"--host": cls.node.host, "--port": str(cls.node.port), "--called-aet": cls.node.called_aet,
                "--aet": cls.node.aet, "--timeout": "10"}
        opts.update(overrides)
        return [v for kv in opts.items() for v in kv]

    def setUp(self) -> None:
        self.work = Path(tempfile.mkdtemp(prefix="case_", dir=self.tmp))

    def _instances(self) -> int:
        return sum(int(r["NumberOfStudyRelatedInstances"] or 0) for r in find(self.node, "study"))

    def test_fetch_unknown_study(self) -> None:
        out = self.work / "out"
        code, _, err = run_main(main, ["fetch", UNKNOWN_UID, "--out", str(out), *self._node_args()])
        assert_fault(self, code, err, 2, "study not found", UNKNOWN_UID)
        self.assertEqual(sorted(p.name for p in out.iterdir()), ["skipped.json"])
        skipped = json.loads((out / "skipped.json").read_text())
        self.assertEqual([s["input"] for s in skipped["skipped"]], [UNKNOWN_UID])
        assert_no_leftovers(self, out)

    def test_fetch_unknown_among_known(self) -> None:
        """The good study is fetched whole, the unknown one listed; exit 2 at the end."""
        out = self.work / "out"
        code, _, err = run_main(main, ["fetch", UNKNOWN_UID, self.uid, "--out", str(out), *self._node_args()])
        assert_fault(self, code, err, 2, "study not found", UNKNOWN_UID)
        self.assertEqual(sorted(p.name for p in out.iterdir()), sorted(["skipped.json", self.uid]))
        self.assertEqual([p.name for p in (out / self.uid).iterdir()], ["study.dcm"])

    @parameterized.expand(
        [["too_long", "--aet", "A" * 17], ["blank", "--called-aet", "   "], ["backslash", "--aet", "A\\B"]]
    )
    def test_bad_ae_title_is_refused_before_connecting(self, _name: str, option: str, title: str) -> None:
        code, _, err = run_main(main, ["echo", *self._node_args(), option, title])
        assert_fault(self, code, err, 2, "is not a DICOM AE title", option, max_lines=2)  # argparse: usage + error

    def test_fetch_stop_at_first(self) -> None:
        out = self.work / "out"
        code, _, err = run_main(main, ["fetch", UNKNOWN_UID, self.uid, "--out", str(out), "--on-error", "stop",
                                       *self._node_args()])
        assert_fault(self, code, err, 2, "study not found", UNKNOWN_UID)
        self.assertEqual(sorted(p.name for p in out.iterdir()), ["skipped.json"])
        listed = json.loads((out / "skipped.json").read_text(encoding="utf-8"))
        self.assertEqual(listed["done"], 0)  # the study after the stop was not fetched, so it is not counted done
        self.assertEqual([e["input"] for e in listed["skipped"]], [UNKNOWN_UID, self.uid])
        self.assertIn("not attempted (--on-error stop", listed["skipped"][1]["reason"])

    @parameterized.expand(NODE_FAULTS)
    def test_fetch_node_refuses(self, _name: str, overrides: dict, fragment: str, named: str) -> None:
        free = str(free_port())
        overrides = {k: v.format(free=free) for k, v in overrides.items()}
        out = self.work / "out"
        code, _, err = run_main(main, ["fetch", self.uid, "--out", str(out), *self._node_args(**overrides)])
        assert_fault(self, code, err, 2, fragment, named.format(free=free))
        self.assertFalse(out.exists(), "a refused fetch wrote its --out")
        assert_no_leftovers(self, out)

    @parameterized.expand(NODE_FAULTS)
    def test_store_node_refuses(self, _name: str, overrides: dict, fragment: str, named: str) -> None:
        free = str(free_port())
        overrides = {k: v.format(free=free) for k, v in overrides.items()}
        other = simulate(self.work / "in", "other", 3) / "study.dcm"
        before, count = tree_checksum(self.work / "in"), self._instances()
        out = self.work / "log"
        code, _, err = run_main(main, ["store", str(other), "--out", str(out), *self._node_args(**overrides)])
        assert_fault(self, code, err, 2, fragment, named.format(free=free))
        self.assertEqual(self._instances(), count, "something was stored")
        self.assertFalse(out.exists())
        self.assertEqual(tree_checksum(self.work / "in"), before)

    def test_find_and_fetch_with_an_aet_the_node_does_not_know(self) -> None:
        code, _, err = run_main(main, ["find", *self._node_args(**{"--aet": "STRANGER"})])
        assert_fault(self, code, err, 2, "does not know our AE title", str(self.node))
        out = self.work / "out"
        code, _, err = run_main(main, ["fetch", self.uid, "--out", str(out), *self._node_args(**{"--aet": "STRANGER"})])
        assert_fault(self, code, err, 2, "does not know our AE title", self.uid)
        self.assertFalse((out / self.uid).exists())
        assert_no_leftovers(self, out)

    def test_store_folder_with_bad_files(self) -> None:
        """A non-DICOM file and a truncated copy in a folder: skipped and listed, the good files stored."""
        folder = self.work / "in"
        good = [simulate(folder, name, i + 4) / "study.dcm" for i, name in enumerate(("s1", "s2"))]
        (folder / "notes.dcm").write_text("not a DICOM file")
        truncated_copy(good[0], folder / "s1_cut.dcm")
        before, count = tree_checksum(folder), self._instances()
        out = self.work / "log"
        code, _, err = run_main(main, ["store", str(folder), "--out", str(out), *self._node_args()])
        assert_fault(self, code, err, 2, "not a DICOM file", folder / "notes.dcm", max_lines=2)
        assert_fault(self, code, err, 2, "truncated", folder / "s1_cut.dcm", max_lines=2)
        stored = json.loads((out / STORED_FILE).read_text())["stored"]
        self.assertEqual(sorted(s["file"] for s in stored), sorted(map(str, good)))
        skipped = json.loads((out / "skipped.json").read_text())
        self.assertEqual(sorted(s["input"] for s in skipped["skipped"]),
                         sorted([str(folder / "notes.dcm"), str(folder / "s1_cut.dcm")]))
        self.assertEqual((skipped["inputs"], skipped["done"]), (4, 2))
        self.assertEqual(self._instances(), count + 2, "the node holds more or fewer than the good files")
        self.assertEqual(tree_checksum(folder), before)
        assert_no_leftovers(self, out)

    def test_store_out_inside_the_input(self) -> None:
        folder = simulate(self.work / "in", "s", 7)
        code, _, err = run_main(main, ["store", str(self.work / "in"), "--out", str(folder / "log"),
                                       *self._node_args()])
        assert_fault(self, code, err, 2, "lies inside the input", folder / "log")
        self.assertFalse((folder / "log").exists())

    def test_fetch_existing_folder_kept(self) -> None:
        out = self.work / "out"
        (out / self.uid).mkdir(parents=True)
        (out / self.uid / "mine.txt").write_text("the user's")
        before = tree_checksum(out / self.uid)
        code, _, err = run_main(main, ["fetch", self.uid, "--out", str(out), *self._node_args()])
        assert_fault(self, code, err, 2, "exists already", self.uid)
        self.assertEqual(tree_checksum(out / self.uid), before)

    def test_fetch_invalid_uid(self) -> None:
        out = self.work / "out"
        code, _, err = run_main(main, ["fetch", "../../escape", "--out", str(out), *self._node_args()])
        assert_fault(self, code, err, 2, "not a valid StudyInstanceUID", "../../escape")
        self.assertEqual(sorted(p.name for p in out.iterdir()), ["skipped.json"])

    def test_fetch_instance_the_node_cannot_send(self) -> None:
        """NM not among the storage classes we accept: the node's sub-operation fails, no study folder is left."""
        from scripts.dicom_net import retrieve

        out = self.work / "out"
        classes = tuple(c for c in retrieve.RETRIEVE_SOP_CLASSES if c != "NuclearMedicineImageStorage")
        with mock.patch.object(retrieve, "RETRIEVE_SOP_CLASSES", classes):
            code, _, err = run_main(main, ["fetch", self.uid, "--out", str(out), *self._node_args()])
        assert_fault(self, code, err, 2, "not received", self.uid)
        self.assertEqual(sorted(p.name for p in out.iterdir()), ["skipped.json"])
        assert_no_leftovers(self, out)

    def test_wrong_port_as_module(self) -> None:
        port = str(free_port())
        proc = run_module("scripts.pacs", ["echo", *self._node_args(**{"--port": port})])
        assert_fault(self, proc.returncode, proc.stderr, 2, "cannot connect", f"127.0.0.1:{port}")
