# Copyright (c) 2026 Renogram parenchyma bundle contributors.
# Licensed under the Apache License, Version 2.0 (http://www.apache.org/licenses/LICENSE-2.0).
"""The items a bundle run iterates: one split of a dataset's ``datalist.json``, or the inputs found in a folder.

``train.json``/``evaluate.json`` read their splits with :func:`load_datalist`; ``inference.json`` finds its inputs with
:func:`find_inputs`. Both return MONAI data dicts (``{"image": path, ...}``) and name the file or folder at fault in a
:class:`~custom_transforms.errors.RenogramInputError`, where MONAI's own readers raise bare ``KeyError``s.
"""

from __future__ import annotations

import os
from pathlib import Path

from custom_transforms.errors import RenogramInputError
from custom_transforms.renogram_image import IMAGE_SUFFIXES
from custom_transforms.safe_files import check_output_separate
from custom_transforms.skip_bad_inputs import SKIPPED_KEY

__all__ = ["STUDY_SUFFIXES", "load_datalist", "find_inputs"]

#: suffixes of dynamic-study files picked up by :func:`find_inputs` (besides :data:`IMAGE_SUFFIXES`).
STUDY_SUFFIXES = (".dcm", ".nii", ".nii.gz")


def load_datalist(datalist_file: str | os.PathLike, split: str, base_dir: str | os.PathLike) -> list[dict]:
    """Read one split of a decathlon-style datalist, paths made absolute against ``base_dir``.

    ``image``/``label`` are joined to ``base_dir`` always, other string values (``label_native``) when the joined path
    exists (MONAI's :func:`monai.data.load_decathlon_datalist` rules).

    Args:
        datalist_file: the JSON file (``scripts.prepare_dataset`` writes ``<dataset>/datalist.json``).
        split: ``"training"``, ``"validation"`` or ``"test"``.
        base_dir: folder the relative paths start from (the dataset folder).

    Returns:
        The split's items (non-empty).

    Raises:
        RenogramInputError: the file is missing or unreadable, or the split is absent or empty; the message names the
            file and the split.
    """
    from monai.data import load_decathlon_datalist

    path = Path(datalist_file)
    if not path.is_file():
        where = Path(base_dir)
        state = "does not exist" if not where.exists() else "holds no datalist.json"
        raise RenogramInputError(
            path,
            f"datalist not found (dataset_dir {where} {state}); build it with "
            "`python -m scripts.prepare_dataset --studies STUDIES --out DATASET` and pass --dataset_dir DATASET",
        )
    try:
        items = load_decathlon_datalist(str(path), is_segmentation=True, data_list_key=split, base_dir=str(base_dir))
    except (ValueError, KeyError, TypeError, OSError) as exc:
        raise RenogramInputError(path, f"cannot read split {split!r} ({exc})") from None
    if not items:
        raise RenogramInputError(path, f"split {split!r} is empty")
    return items


def _output_stem(path: Path) -> str:
    """The name ``SaveImaged`` gives an input's outputs (``<stem>_mask.png``): the file name without its extension."""
    stem, ext = os.path.splitext(path.name)
    return os.path.splitext(stem)[0] if ext.lower() == ".gz" else stem


def find_inputs(folder: str | os.PathLike, output_dir: str | os.PathLike | None = None) -> list[dict[str, str]]:
    """Inference inputs in ``folder``, sorted by name, as ``{"image": path}``: fused images, dynamic-study files, and
    sub-folders of frames (those holding ``timing.json`` or ``timing.csv``).

    Everything else is not an input and is left alone: hidden names (``.x``), other files (a README, the
    ``skipped.json`` of an earlier run), other sub-folders (``labels/``). Two inputs whose outputs would have the same
    name (``s1.dcm`` and ``s1.png`` both give ``s1_mask.png``): the first by name is used, the later ones carry a
    reason under :data:`~custom_transforms.skip_bad_inputs.SKIPPED_KEY`, so that
    :class:`~custom_transforms.skip_bad_inputs.SkipBadInputsDataset` skips them instead of overwriting a mask.

    Args:
        folder: the input folder (``dataset_dir``).
        output_dir: where the masks go; when given, it may not be, contain or lie inside ``folder``
            (:func:`custom_transforms.safe_files.check_output_separate`): masks mixed with the inputs would be taken
            as inputs by the next run, and an input named like ``<stem>_mask.png`` would be overwritten.

    Raises:
        RenogramInputError: the folder is missing or holds no input (the message says what it holds instead).
        OutputOverlapError: ``output_dir`` overlaps ``folder``.
    """
    root = Path(folder)
    if not root.is_dir():
        raise RenogramInputError(root, "dataset_dir is not a folder" if root.exists() else "dataset_dir does not exist")
    if output_dir is not None:
        check_output_separate(
            output_dir, [root], out_option="--output_dir",
            consequence="masks written there would mix with the inputs (and could overwrite an input named like "
            "<stem>_mask.png)",
        )
    suffixes = IMAGE_SUFFIXES + STUDY_SUFFIXES
    entries = sorted(p for p in root.iterdir() if not p.name.startswith("."))
    files = [
        p
        for p in entries
        if (p.is_file() and p.name.lower().endswith(suffixes))
        or (p.is_dir() and any((p / t).is_file() for t in ("timing.json", "timing.csv")))
    ]
    if not files:
        noun = "entry" if len(entries) == 1 else "entries"
        others = f"; it holds {len(entries)} other {noun}, e.g. {entries[0].name}" if entries else " (it is empty)"
        raise RenogramInputError(
            root,
            f"dataset_dir holds no input ({', '.join(suffixes)} files, or frame folders with timing.json){others}",
        )
    items: list[dict[str, str]] = []
    first_of: dict[str, Path] = {}
    for p in files:
        item = {"image": str(p)}
        stem = _output_stem(p)
        if stem in first_of:
            item[SKIPPED_KEY] = (
                f"{p}: its mask would be {stem}_mask.png, the same as that of {first_of[stem].name} (used instead); "
                "rename one of them"
            )
        else:
            first_of[stem] = p
        items.append(item)
    return items
