# Copyright (c) 2026 Renogram parenchyma bundle contributors.
# Licensed under the Apache License, Version 2.0 (http://www.apache.org/licenses/LICENSE-2.0).
"""Run a bundle workflow over a folder of inputs where one bad input never stops the others.

Three pieces, wired in ``bundle/configs/inference.json`` so that the config reads like the pipeline::

    datalist -> SkipBadInputsDataset -> DataLoader(collate_fn=collate_skipping) -> SkipBadInputs -> evaluator
                                                                                       |
                                                              finish(output_dir): skipped.json, exit status

- :class:`SkipBadInputsDataset` is a :class:`monai.data.Dataset` that loads each item once; an item whose
  preprocessing raises :class:`~custom_transforms.errors.RenogramInputError` (unreadable, truncated, not NM, wrong
  shape, all-zero or flat study, ...) comes out as a small *skip marker* ``{SKIPPED_KEY: {"input", "reason"}}``
  instead of an exception. This happens inside the worker process when ``num_workers > 0``, so only plain strings
  cross the process boundary and nothing is read twice.
- :func:`collate_skipping` (the ``DataLoader``'s ``collate_fn``) collates the good items of a batch with MONAI's
  :func:`~monai.data.utils.list_data_collate` and carries the markers along under :data:`SKIPPED_KEY`; a batch can
  therefore hold fewer items than ``batch_size``, or none.
- :class:`SkipBadInputs` is what the evaluator iterates: it takes the markers out of each batch (one line on stderr
  per skipped input, naming the user's file and what is wrong), yields only batches that still hold items (an empty
  batch never reaches the network), and, with ``stop_on_error``, ends the iteration at the first bad input. It has no
  ``len()``, so the evaluator's epoch ends when the batches do. After the evaluator ran, :meth:`SkipBadInputs.finish`
  writes ``skipped.json`` (:class:`custom_transforms.safe_files.SkipList`) and raises :class:`BadInputExit` (exit
  status 2, one final line) when anything was skipped.

Errors other than :class:`RenogramInputError` (a bug, an out-of-memory error) are not input faults: they propagate as
before. Only the dataset/dataloader/evaluator path changes; ``preprocessing`` and ``postprocessing`` are untouched, so
a caller that applies them to one image itself (MONAI Label's ``BundleInferTask``) still gets the error for a bad
image and fails that request.

Folder-level faults (no inputs, an output folder overlapping the inputs, unusable weights) are raised by the config's
helpers as :class:`RenogramInputError`/:class:`~custom_transforms.safe_files.OutputOverlapError`;
:func:`custom_transforms.errors.exit_on_bad_input` turns them into the same one line and exit status 2 instead of a
traceback.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

from monai.data import Dataset
from monai.data.utils import list_data_collate

from custom_transforms.errors import BadInputExit, input_error
from custom_transforms.safe_files import SkipList

__all__ = [
    "SKIPPED_KEY",
    "is_skip_marker",
    "SkipBadInputsDataset",
    "collate_skipping",
    "SkipBadInputs",
]

#: key of a skip marker (a dataset item) and of the list of markers in a collated batch.
SKIPPED_KEY = "skipped_input"

logger = logging.getLogger(__name__)


def _say(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def is_skip_marker(item: Any) -> bool:
    """True when ``item`` is a skip marker of :class:`SkipBadInputsDataset`."""
    return isinstance(item, Mapping) and SKIPPED_KEY in item and len(item) == 1


def _item_input(item: Any, key: str) -> str:
    value = item.get(key) if isinstance(item, Mapping) else item
    return os.fspath(value) if isinstance(value, str | os.PathLike) else repr(value)


class SkipBadInputsDataset(Dataset):
    """A :class:`monai.data.Dataset` whose items that are bad input come out as skip markers, not exceptions.

    ``dataset[i]`` is the transformed item, or ``{SKIPPED_KEY: {"input": <the item's input path>, "reason": <the
    RenogramInputError message, naming the file>}}`` when ``transform`` raised a
    :class:`~custom_transforms.errors.RenogramInputError` for it (directly or wrapped by MONAI). Other exceptions
    propagate. A datalist item that already holds a reason string under :data:`SKIPPED_KEY` (``find_inputs`` marks
    inputs whose outputs would overwrite another's) is skipped without loading. Use with :func:`collate_skipping` and
    :class:`SkipBadInputs`.

    Args:
        data: the datalist (``[{"image": path}, ...]``).
        transform: the preprocessing. Defaults to None.
        input_key: key of an item's input path, named in the marker. Defaults to ``"image"``.

    Examples::

        >>> ds = SkipBadInputsDataset([{"image": "good.png"}, {"image": "broken.png"}], transform=preprocessing)
        >>> ds[1]
        {'skipped_input': {'input': 'broken.png', 'reason': 'broken.png: cannot be read as an image (...)'}}
    """

    def __init__(self, data: Any, transform: Callable | None = None, input_key: str = "image") -> None:
        super().__init__(data=data, transform=transform)
        self.input_key = input_key

    def _transform(self, index: int) -> Any:
        item = self.data[index]
        if isinstance(item, Mapping) and isinstance(item.get(SKIPPED_KEY), str):  # refused by the datalist's maker
            return {SKIPPED_KEY: {"input": _item_input(item, self.input_key), "reason": item[SKIPPED_KEY]}}
        try:
            return super()._transform(index)
        except Exception as exc:  # noqa: BLE001 - only input errors are kept, the rest is re-raised
            err = input_error(exc)
            if err is None:
                raise
            source = _item_input(item, self.input_key)
            reason = str(err)
            if source not in reason:  # e.g. an error about a file inside a frame folder, or "<array>"
                reason = f"{source}: {reason}"
            return {SKIPPED_KEY: {"input": source, "reason": reason}}


def collate_skipping(batch: list[Any]) -> dict[str, Any]:
    """``collate_fn`` for :class:`SkipBadInputsDataset` (dict items): collate the good items, keep the skip markers.

    Returns:
        :func:`monai.data.utils.list_data_collate` of the good items with the batch's markers as a list under
        :data:`SKIPPED_KEY`, or ``{SKIPPED_KEY: [...]}`` alone when every item was bad.
    """
    good = [b for b in batch if not is_skip_marker(b)]
    out = list_data_collate(good) if good else {}
    if not isinstance(out, dict):
        raise TypeError(f"collate_skipping takes dict items, got {type(good[0]).__name__}")
    out[SKIPPED_KEY] = [b[SKIPPED_KEY] for b in batch if is_skip_marker(b)]
    return out


def _batch_size(batch: Mapping[str, Any], key: str) -> int:
    value = batch.get(key, next(iter(batch.values())))
    shape = getattr(value, "shape", None)
    if shape is not None and len(shape) > 0:
        return int(shape[0])
    return len(value) if isinstance(value, list | tuple) else 1


def _as_bool(value: Any) -> bool:
    return str(value).strip().lower() in ("true", "1", "yes")


class SkipBadInputs:
    """The evaluator's data: a data loader's batches without the bad inputs, and the record of what was skipped.

    Iterating yields the loader's batches with the skip markers of :func:`collate_skipping` taken out; a batch left
    without items is not yielded. Each skipped input gets one line on stderr (``skipped <file>: <what is wrong>``)
    and an entry in :attr:`skip_list`. With ``stop_on_error`` the iteration ends at the first bad input (nothing of
    that batch is processed) and :meth:`finish` exits with that input's line only.

    There is deliberately no ``__len__``: the evaluator then takes the epoch to end when the batches do, however many
    were dropped (MONAI's ``Workflow`` and Ignite accept an iterable without length).

    Args:
        loader: the data loader (a ``DataLoader`` with ``collate_fn=collate_skipping``).
        stop_on_error: end at the first bad input; a bool or ``"true"``/``"false"`` (config overrides from the
            command line). Defaults to False.
        command: name recorded in ``skipped.json``. Defaults to ``"inference"``.
        input_key: batch key of the images, used to count the good items. Defaults to ``"image"``.
    """

    def __init__(
        self, loader: Iterable, stop_on_error: bool | str = False, command: str = "inference", input_key: str = "image"
    ) -> None:
        self.loader = loader
        self.stop_on_error = _as_bool(stop_on_error)
        self.command = command
        self.input_key = input_key
        self.skip_list = SkipList(command)
        self.done = 0
        self.stopped = False

    def __iter__(self) -> Iterator[dict[str, Any]]:
        self.skip_list, self.done, self.stopped = SkipList(self.command), 0, False
        for batch in self.loader:
            for entry in batch.pop(SKIPPED_KEY, []):
                self.skip_list.add(entry["input"], entry["reason"])
                if self.stop_on_error:
                    self.stopped = True
                    return
                _say(f"skipped {entry['reason']}")
            if batch:
                self.done += _batch_size(batch, self.input_key)
                yield batch

    def finish(self, output_dir: str | os.PathLike) -> dict[str, Any]:
        """After the evaluator ran: write ``<output_dir>/skipped.json``; exit with status 2 if anything was skipped.

        The file is written on every run (an empty list when every input was used), the folder made if needed.

        Returns:
            The ``skipped.json`` content, when nothing was skipped.

        Raises:
            BadInputExit: an input was skipped (one final line on stderr: how many, and where the list is), or
                ``stop_on_error`` stopped the run (the bad input's line).
        """
        out = Path(output_dir)
        out.mkdir(parents=True, exist_ok=True)
        self.skip_list.inputs = self.done + len(self.skip_list)
        path = self.skip_list.write(out)
        content = self.skip_list.as_dict()
        n_bad = len(self.skip_list)
        if self.stopped:
            entry = self.skip_list.entries[-1]
            message = f"{entry['reason']} (stop_on_error: stopped after {self.done} written; see {path})"
        elif n_bad:
            rest = f"the outputs of the other {self.done} are written" if self.done else "no output written"
            message = (
                f"{self.command}: {n_bad} of {self.skip_list.inputs} inputs skipped as bad input, listed with the "
                f"reasons in {path}; {rest}"
            )
        else:
            logger.info(f"{self.command}: all {self.done} inputs done; {path} lists none skipped")
            return content
        _say(message)
        raise BadInputExit(message, content)
