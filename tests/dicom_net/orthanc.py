# Copyright (c) 2026 Renogram parenchyma bundle contributors.
# Licensed under the Apache License, Version 2.0 (http://www.apache.org/licenses/LICENSE-2.0).
"""A real Orthanc server for the DICOM network tests: own config, storage and free ports on 127.0.0.1.

:class:`OrthancServer` writes an Orthanc JSON config into a temporary folder (``DicomAet``, ``DicomPort`` and
``HttpPort`` on free 127.0.0.1 ports, ``StorageDirectory``/``IndexDirectory`` in the folder, no plugins, remote
access off, the called AE title checked, and our AE title registered in ``DicomModalities`` so that Orthanc answers
its C-FIND and C-GET), starts ``Orthanc config.json`` as a subprocess, waits until it answers a C-ECHO, and stops it
by its PID (terminate, wait, kill). The Debian package's own service (``/etc/orthanc``, port 4242) is not used and
does not need to run. Tests are skipped with a reason when Orthanc is not installed (:data:`HAVE_ORTHANC`), except under
``RENOGRAM_REQUIRE_DICOM_TOOLS=1`` (CI), where they fail.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

from scripts.dicom_net import DicomNetError, DicomNode, echo

__all__ = ["ORTHANC", "HAVE_ORTHANC", "SKIP_REASON", "TEST_AET", "OrthancServer", "free_port"]

ORTHANC = shutil.which("Orthanc") or ("/usr/sbin/Orthanc" if os.access("/usr/sbin/Orthanc", os.X_OK) else None)
#: under CI's ``RENOGRAM_REQUIRE_DICOM_TOOLS=1`` (set by ``.ci/run``) a missing Orthanc fails the tests instead of
#: skipping them, so CI can never pass without the PACS round trip.
REQUIRED = os.environ.get("RENOGRAM_REQUIRE_DICOM_TOOLS") == "1"
HAVE_ORTHANC = ORTHANC is not None or REQUIRED
SKIP_REASON = "Orthanc is not installed (Debian package orthanc; .ci/run installs it)"
#: our AE title, known to the test server.
TEST_AET = "RENOGRAMTEST"
#: the test server's AE title.
SERVER_AET = "ORTHANCTEST"


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class OrthancExited(RuntimeError):
    """Orthanc stopped during its start (e.g. its port was taken meanwhile)."""


class OrthancServer:
    """One Orthanc process with its own folder; :meth:`start` it, :meth:`stop` it (also on garbage paths).

    Args:
        startup_timeout: seconds to wait for the first C-ECHO answer. Defaults to 60.
    """

    def __init__(self, startup_timeout: float = 60.0) -> None:
        self.startup_timeout = startup_timeout
        self.folder = Path(tempfile.mkdtemp(prefix="orthanc_test_"))
        self.dicom_port = free_port()
        self.http_port = free_port()
        self.process: subprocess.Popen | None = None
        self.node = DicomNode("127.0.0.1", self.dicom_port, called_aet=SERVER_AET, aet=TEST_AET, timeout=10)

    def config(self) -> dict:
        """The Orthanc configuration this server runs with."""
        storage = str(self.folder / "storage")
        return {
            "Name": "renogram-test",
            "StorageDirectory": storage,
            "IndexDirectory": storage,
            "DicomAet": SERVER_AET,
            "DicomPort": self.dicom_port,
            "HttpPort": self.http_port,
            "HttpServerEnabled": False,
            "RemoteAccessAllowed": False,
            "AuthenticationEnabled": False,
            "DicomCheckCalledAet": True,
            "DicomAlwaysAllowEcho": True,
            "DicomAlwaysAllowStore": True,
            "DicomCheckModalityHost": False,
            "DicomModalities": {"renogram": [TEST_AET, "127.0.0.1", free_port()]},
            "Plugins": [],
            "StorageCompression": False,
            "ConcurrentJobs": 1,
            "LimitFindResults": 0,
            "LimitFindInstances": 0,
        }

    def start(self, attempts: int = 3) -> OrthancServer:
        """Write the config, start Orthanc and wait until it answers a C-ECHO from :data:`TEST_AET`.

        A free port can be taken by another process between :func:`free_port` and Orthanc's bind; Orthanc then exits
        at once, and the start is tried again on new ports (``attempts`` times in all).
        """
        if ORTHANC is None:
            raise RuntimeError(SKIP_REASON + "; RENOGRAM_REQUIRE_DICOM_TOOLS=1 asks for it")
        for attempt in range(attempts):
            try:
                return self._start_once()
            except OrthancExited:
                if attempt == attempts - 1:
                    raise
                self.dicom_port, self.http_port = free_port(), free_port()
                self.node = DicomNode("127.0.0.1", self.dicom_port, called_aet=SERVER_AET, aet=TEST_AET, timeout=10)
        raise AssertionError("unreachable")

    def _start_once(self) -> OrthancServer:
        path = self.folder / "config.json"
        path.write_text(json.dumps(self.config(), indent=2), encoding="utf-8")
        log = (self.folder / "orthanc.log").open("wb")
        self.process = subprocess.Popen([ORTHANC, str(path)], cwd=self.folder, stdout=log, stderr=subprocess.STDOUT)
        log.close()
        deadline = time.monotonic() + self.startup_timeout
        quick = DicomNode(self.node.host, self.node.port, self.node.called_aet, self.node.aet, timeout=2)
        while True:
            if self.process.poll() is not None:
                raise OrthancExited(f"Orthanc exited with {self.process.returncode}: {self.log_tail()}")
            try:
                echo(quick)
                return self
            except DicomNetError:
                if time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError(
                        f"Orthanc did not answer within {self.startup_timeout} s: {self.log_tail()}"
                    ) from None
                time.sleep(0.1)

    def log_tail(self, chars: int = 2000) -> str:
        """The end of Orthanc's log."""
        log = self.folder / "orthanc.log"
        return log.read_text(errors="replace")[-chars:] if log.exists() else ""

    def stop(self) -> None:
        """Stop Orthanc by its PID (terminate, wait, kill) and delete its folder."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=20)
        self.process = None
        shutil.rmtree(self.folder, ignore_errors=True)
