# Copyright (c) 2026 Renogram parenchyma bundle contributors.
# Licensed under the Apache License, Version 2.0 (http://www.apache.org/licenses/LICENSE-2.0).
"""Exchange with a DICOM node (a PACS): check it answers, send results, query it, fetch studies.

Usage::

    python -m scripts.pacs echo --host pacs.example.org --port 104 --called-aet PACS --aet RENOGRAM
    python -m scripts.pacs store REPORTS/ --out STORE_LOG        # every *.dcm below: seg.dcm, report.dcm per study
    python -m scripts.pacs find --modality NM                    # studies (tab-separated, header line)
    python -m scripts.pacs find --level series --study-uid 1.2.3 --modality SEG --format json
    python -m scripts.pacs fetch 1.2.3 1.2.4 --out FETCHED       # FETCHED/<uid>/study.dcm, ...
    python -m scripts.pacs find --modality NM --format uid | python -m scripts.pacs fetch --uid-file - --out FETCHED

Every subcommand takes ``--host`` (default 127.0.0.1), ``--port`` (4242, Orthanc's default), ``--called-aet`` (the
node's AE title, ORTHANC), ``--aet`` (ours, RENOGRAM; the node must list it for find and fetch) and ``--timeout``
(seconds to connect and for each reply, 30). The library is :mod:`scripts.dicom_net`.

store: files as given, folders searched for ``*.dcm`` (``--pattern``). Every file is read whole first; a file that
is not DICOM, lacks its UIDs or is truncated is never sent. The others go over one association. With ``--out``:
``OUT/stored.json`` (``{"command", "node", "stored": [{"file", "sop_instance_uid", "study_instance_uid",
"sop_class_uid"}]}``) and ``OUT/skipped.json`` (the files not stored, with the reason). find: one row per study (or
series) on stdout. fetch: C-FIND then C-GET of each study into ``OUT/<StudyInstanceUID>/`` (the one NM instance as
``study.dcm``, so ``python -m scripts.renal_function OUT`` reports them all; others
``<Modality>-<SOPInstanceUID>.dcm``), built aside and renamed when complete, and ``OUT/skipped.json`` (studies not
fetched, with the reason).

Errors print one line ``pacs: error: <what>: <reason>`` on stderr naming the file, study or node
(``AET@host:port``) that failed: a node that cannot be reached or rejects the association, a study not on the node,
a bad file. Nothing is left half-written (a study folder appears complete or not at all) and a file is either stored
whole or not sent. Exit codes: 0 everything done; 2 bad input, a refused option or an unreachable node (for several
files or studies: after all the others are done, when any was skipped; with ``--on-error stop`` at the first).
``--out`` may not be, contain or lie inside an input of store.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path
from typing import Any

from custom_transforms.safe_files import (
    SKIPPED_FILE,
    SkipList,
    atomic_write_json,
    check_output_folder,
    check_output_separate,
)
from scripts.dicom_net import (
    DEFAULT_AET,
    DEFAULT_CALLED_AET,
    DEFAULT_HOST,
    DEFAULT_PORT,
    LEVELS,
    RETURN_KEYS,
    DicomNetError,
    DicomNode,
    DicomNodeError,
    collect_files,
    echo,
    fetch_study,
    find,
    store_files,
)

__all__ = ["STORED_FILE", "main", "parse_args"]

PROG = "pacs"
#: record of a store run written into ``--out``.
STORED_FILE = "stored.json"


class _HelpFormatter(argparse.ArgumentDefaultsHelpFormatter, argparse.RawDescriptionHelpFormatter):
    """Option defaults shown, the epilog kept as written."""


def _epilog() -> str:
    text = "\n\n".join(__doc__.split("\n\n")[2:])
    return re.sub(r":\w+:`([^`]+)`", r"\1", text).replace("``", "")


def _node_options(ap: argparse.ArgumentParser) -> None:
    ap.add_argument("--host", default=DEFAULT_HOST, help="the node's host name or address")
    ap.add_argument("--port", type=int, default=DEFAULT_PORT, help="the node's DICOM port")
    ap.add_argument("--called-aet", default=DEFAULT_CALLED_AET, help="the node's AE title")
    ap.add_argument("--aet", default=DEFAULT_AET, help="our AE title (the node must know it for find and fetch)")
    ap.add_argument("--timeout", type=float, default=30.0, help="seconds to connect and to wait for each reply")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options (see the module docstring)."""
    ap = argparse.ArgumentParser(prog="python -m scripts.pacs", description=__doc__.split("\n\n")[0],
                                 epilog=_epilog(), formatter_class=_HelpFormatter)
    sub = ap.add_subparsers(dest="action", required=True, metavar="{echo,store,find,fetch}")
    p = sub.add_parser("echo", help="check that the node answers (C-ECHO)", formatter_class=_HelpFormatter)
    _node_options(p)
    p = sub.add_parser("store", help="send DICOM files (C-STORE)", formatter_class=_HelpFormatter)
    p.add_argument("inputs", nargs="+", metavar="FILE_OR_FOLDER", help="DICOM files, or folders searched for --pattern")
    p.add_argument("--pattern", default="*.dcm", help="files taken from a folder (recursively)")
    p.add_argument("--out", help=f"folder for {STORED_FILE} and {SKIPPED_FILE} (what was stored, what not)")
    _node_options(p)
    p = sub.add_parser("find", help="query studies or series (C-FIND)", formatter_class=_HelpFormatter)
    p.add_argument("--level", choices=LEVELS, default="study", help="query level")
    p.add_argument("--patient-id", default="", help="PatientID to match (* and ? are wildcards)")
    p.add_argument("--study-uid", default="", help="StudyInstanceUID to match")
    p.add_argument("--modality", default="", help="Modality (series) or ModalitiesInStudy (study), e.g. NM or SEG")
    p.add_argument("--format", choices=("tsv", "json", "uid"), default="tsv",
                   help="tsv: a header and one tab-separated row per match; json: a list of objects; uid: the "
                   "StudyInstanceUID (or SeriesInstanceUID) per line, for fetch --uid-file -")
    _node_options(p)
    p = sub.add_parser("fetch", help="fetch whole studies (C-FIND + C-GET) into OUT/<uid>/",
                       formatter_class=_HelpFormatter)
    p.add_argument("study_uids", nargs="*", metavar="STUDY_UID", help="StudyInstanceUIDs to fetch")
    p.add_argument("--uid-file", help="file with one StudyInstanceUID per line ('-': standard input)")
    p.add_argument("--out", required=True, help=f"folder receiving <uid>/ per study and {SKIPPED_FILE}")
    p.add_argument("--overwrite", action="store_true", help="replace a study folder that exists already")
    p.add_argument("--on-error", choices=("skip", "stop"), default="skip",
                   help=f"a study that cannot be fetched: list it in {SKIPPED_FILE} and go on (exit 2 at the end), "
                   "or stop at the first (exit 2)")
    _node_options(p)
    args = ap.parse_args(argv)
    if not 0 < args.port < 65536:
        ap.error("--port must be between 1 and 65535")
    if args.timeout <= 0:
        ap.error("--timeout must be > 0")
    for option, title in (("--aet", args.aet), ("--called-aet", args.called_aet)):
        # DICOM AE titles: 1-16 characters of the default repertoire, not only spaces, no backslash (PS3.5 AE)
        if not title.strip() or len(title) > 16 or "\\" in title or not title.isascii() or not title.isprintable():
            ap.error(f"{option} {title!r} is not a DICOM AE title (1 to 16 printable ASCII characters, no backslash)")
    if args.action == "fetch" and not (args.study_uids or args.uid_file):
        ap.error("fetch needs STUDY_UID arguments or --uid-file")
    return args


def _error(message: Any) -> None:
    print(f"{PROG}: error: {message}", file=sys.stderr)


def _node(args: argparse.Namespace) -> DicomNode:
    return DicomNode(args.host, args.port, called_aet=args.called_aet, aet=args.aet, timeout=args.timeout)


def _store(args: argparse.Namespace, node: DicomNode) -> int:
    out = Path(args.out) if args.out else None
    if out is not None:
        try:
            check_output_separate(out, args.inputs, consequence="the store record would be written among the inputs")
            check_output_folder(out)
        except ValueError as exc:
            _error(exc)
            return 2
    files, missing = collect_files(args.inputs, args.pattern)
    try:
        result = store_files(node, files)
    except DicomNetError as exc:  # no association: nothing was stored
        _error(exc)
        return 2
    skip = SkipList(f"{PROG} store")
    for entry in [*missing, *result.failed]:
        skip.add(entry["input"], entry["reason"])
        _error(entry["reason"])
    skip.inputs = len(result.stored) + len(skip)
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        atomic_write_json(out / STORED_FILE, {"command": f"{PROG} store", "node": str(node), "stored": result.stored})
        skip.write(out)
    print(f"{len(result.stored)} file(s) stored to {node}; {len(skip)} not stored"
          + (f" (see {out / SKIPPED_FILE})" if out is not None else ""))
    return 2 if len(skip) else 0


def _find(args: argparse.Namespace, node: DicomNode) -> int:
    try:
        rows = find(node, args.level, patient_id=args.patient_id, study_uid=args.study_uid, modality=args.modality)
    except DicomNetError as exc:
        _error(exc)
        return 2
    keys = RETURN_KEYS[args.level]
    if args.format == "json":
        print(json.dumps(rows, indent=2))
    elif args.format == "uid":
        uid_key = "StudyInstanceUID" if args.level == "study" else "SeriesInstanceUID"
        for row in rows:
            print(row[uid_key])
    else:
        print("\t".join(keys))
        for row in rows:
            print("\t".join(row[k] for k in keys))
    return 0


def _study_uids(args: argparse.Namespace) -> list[str]:
    """The UIDs from the arguments and ``--uid-file`` (blank lines and ``#`` comments ignored), each once."""
    uids = list(args.study_uids)
    if args.uid_file:
        text = sys.stdin.read() if args.uid_file == "-" else Path(args.uid_file).read_text(encoding="utf-8")
        uids += [line.split("#", 1)[0].strip() for line in text.splitlines()]
    return list(dict.fromkeys(u for u in uids if u))


def _fetch(args: argparse.Namespace, node: DicomNode) -> int:
    from pydicom.uid import RE_VALID_UID

    out = Path(args.out)
    try:
        check_output_folder(out)
        uids = _study_uids(args)
    except (ValueError, OSError) as exc:
        _error(exc if isinstance(exc, ValueError) else f"{args.uid_file}: cannot read --uid-file ({exc})")
        return 2
    if not uids:
        _error(f"{args.uid_file}: --uid-file holds no StudyInstanceUID")
        return 2
    skip = SkipList(f"{PROG} fetch")
    skip.inputs = len(uids)
    fetched = 0
    for number, uid in enumerate(uids):
        try:
            if len(uid) > 64 or not RE_VALID_UID.match(uid):  # (UID(uid).is_valid warns on stderr first)
                raise DicomNetError(f"{uid}: not a valid StudyInstanceUID (digits and dots, at most 64 characters)")
            folder = fetch_study(node, uid, out, overwrite=args.overwrite)
        except DicomNodeError as exc:  # the node is gone: the remaining studies cannot be fetched either
            _error(exc)
            if fetched:
                for rest in uids[number:]:
                    skip.add(rest, f"{rest}: not fetched, {exc}")
                skip.write(out)
            return 2
        except (DicomNetError, OSError) as exc:
            skip.add(uid, str(exc))
            _error(exc)
            if args.on_error == "stop":  # the studies not tried are listed too, so that done counts only fetches
                for rest in uids[number + 1:]:
                    skip.add(rest, f"{rest}: not attempted (--on-error stop after {uid})")
                break
            continue
        fetched += 1
        print(f"{uid}: {len(list(folder.iterdir()))} instance(s) in {folder}")
    out.mkdir(parents=True, exist_ok=True)
    listed = skip.write(out)
    print(f"{fetched} study folder(s) fetched from {node} into {out}; {len(skip)} skipped (see {listed})")
    return 2 if len(skip) else 0


def main(argv: list[str] | None = None) -> int:
    """Run the command; returns the exit code (0 ok, 2 bad input, refused option or unreachable node)."""
    args = parse_args(argv)
    node = _node(args)
    if args.action == "echo":
        try:
            echo(node)
        except DicomNetError as exc:
            _error(exc)
            return 2
        print(f"{node} answers C-ECHO from {node.aet}")
        return 0
    return {"store": _store, "find": _find, "fetch": _fetch}[args.action](args, node)


if __name__ == "__main__":
    sys.exit(main())
