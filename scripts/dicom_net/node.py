# Copyright (c) 2026 Renogram parenchyma bundle contributors.
# Licensed under the Apache License, Version 2.0 (http://www.apache.org/licenses/LICENSE-2.0).
"""A remote DICOM node (PACS) and one association with it: address, AE titles, timeouts, and one-line failures.

pynetdicom reports why an association failed (connection refused, the peer rejected the called AE title, a timeout)
only through its ``pynetdicom`` logger; :func:`associate` collects those records while it connects and raises
:class:`DicomNetError` with them in one line, so a command can print that line and exit 2.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

__all__ = [
    "DEFAULT_AET",
    "DEFAULT_CALLED_AET",
    "DEFAULT_HOST",
    "DEFAULT_PORT",
    "DicomNetError",
    "DicomNode",
    "DicomNodeError",
    "associate",
    "echo",
    "status_text",
]

#: our own AE title (the PACS must know it for C-FIND/C-GET; most accept any for C-STORE).
DEFAULT_AET = "RENOGRAM"
#: the PACS's AE title (Orthanc's default).
DEFAULT_CALLED_AET = "ORTHANC"
DEFAULT_HOST = "127.0.0.1"
#: Orthanc's default DICOM port (the registered DICOM port is 104, which needs root on most systems).
DEFAULT_PORT = 4242


class DicomNetError(RuntimeError):
    """Exchange with a DICOM node failed; ``str()`` is one line that names the node (or the item) and what failed."""


class DicomNodeError(DicomNetError):
    """No association with the node (unreachable, refused, rejected): nothing more can be done with it in this run."""


@dataclass(frozen=True)
class DicomNode:
    """Where the PACS listens and who we are.

    Args:
        host: host name or address. Defaults to ``"127.0.0.1"``.
        port: TCP port. Defaults to 4242.
        called_aet: the node's AE title. Defaults to ``"ORTHANC"``.
        aet: our calling AE title. Defaults to ``"RENOGRAM"``.
        timeout: seconds allowed to connect, to negotiate and for each DIMSE reply. Defaults to 30.
    """

    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    called_aet: str = DEFAULT_CALLED_AET
    aet: str = DEFAULT_AET
    timeout: float = 30.0

    def __str__(self) -> str:
        return f"{self.called_aet}@{self.host}:{self.port}"


class _Collect(logging.Handler):
    """Keeps the text of pynetdicom's warning and error records."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


def _why(lines: Sequence[str], assoc: Any) -> str:
    """The reason of a failed association, from pynetdicom's log lines."""
    text = " ".join(lines)
    if assoc.is_rejected:
        reason = next((ln.split(":", 1)[1].strip() for ln in lines if ln.startswith("Reason:")), "no reason given")
        return f"association rejected ({reason}); check the called AE title and that the node knows ours"
    if "unable to connect" in text:
        tcp = next((ln.split(":", 1)[1].strip() for ln in lines if ln.startswith("TCP Initialisation Error")), "")
        return f"cannot connect ({tcp or 'connection failed'}); check host and port"
    if assoc.is_aborted:
        # a node refusing our titles may abort instead of rejecting, or its rejection may race the socket's close
        # (seen with Orthanc on a loaded machine): the same advice either way
        return "association aborted by the node before it was accepted; check the called AE title and that the node " \
            "knows ours"
    if "timeout" in text.lower():
        return "no answer within the timeout; check host and port"
    return "association failed" + (f" ({lines[-1]})" if lines else "")


@contextmanager
def associate(
    node: DicomNode, contexts: Sequence[tuple[str, Sequence[str] | None]], roles: Sequence[str] = (),
    handlers: Sequence[tuple[Any, Any]] = (),
) -> Iterator[Any]:
    """An established association with ``node``, released (or aborted) on exit.

    Args:
        node: the remote node.
        contexts: the requested presentation contexts, ``(abstract syntax, transfer syntaxes)``; ``None`` gives
            pynetdicom's defaults (implicit and explicit VR little endian, ...). At most 128.
        roles: storage SOP classes for which we ask to act as SCP (C-GET sends its instances back over the same
            association as C-STORE requests). Defaults to none.
        handlers: pynetdicom event handlers ``(event, callable)``, e.g. ``(evt.EVT_C_STORE, on_store)``.

    Yields:
        The :class:`pynetdicom.association.Association`.

    Raises:
        DicomNodeError: the node cannot be reached, rejects the association or accepts none of the contexts.
    """
    from pynetdicom import AE, build_role

    ae = AE(ae_title=node.aet)
    ae.connection_timeout = ae.acse_timeout = ae.dimse_timeout = ae.network_timeout = node.timeout
    for abstract, syntaxes in contexts:
        ae.add_requested_context(abstract, syntaxes) if syntaxes else ae.add_requested_context(abstract)
    ext = [build_role(uid, scp_role=True) for uid in roles]
    logger = logging.getLogger("pynetdicom")
    collect = _Collect()
    logger.addHandler(collect)
    try:
        assoc = ae.associate(node.host, node.port, ae_title=node.called_aet, ext_neg=ext or None,
                             evt_handlers=list(handlers) or None)
    finally:
        logger.removeHandler(collect)
    if not assoc.is_established:
        raise DicomNodeError(f"{node}: {_why(collect.lines, assoc)}")
    if not assoc.accepted_contexts:
        assoc.release()
        raise DicomNodeError(f"{node}: the node accepted none of the requested presentation contexts")
    try:
        yield assoc
    except BaseException:
        if assoc.is_established:
            assoc.abort()
        raise
    if assoc.is_established:
        assoc.release()


def echo(node: DicomNode) -> None:
    """C-ECHO: check that ``node`` answers and accepts our AE title.

    Raises:
        DicomNetError: no association, or the echo was not answered with success.
    """
    from pynetdicom.sop_class import Verification

    with associate(node, [(Verification, None)]) as assoc:
        status = assoc.send_c_echo()
        if not status or status.Status != 0x0000:
            raise DicomNetError(f"{node}: C-ECHO was not answered with success ({status_text(status)})")


def status_text(status: Any) -> str:
    """``"status 0xA700"`` or ``"no reply"`` for a DIMSE response status dataset."""
    if status and "Status" in status:
        return f"status 0x{int(status.Status):04X}"
    return "no reply: connection lost or timed out, or the node does not know our AE title"
