# Copyright (c) 2026 Renogram parenchyma bundle contributors.
# Licensed under the Apache License, Version 2.0 (http://www.apache.org/licenses/LICENSE-2.0).
"""Parenchyma masks for dynamic studies from the project's MONAI bundle (``bundle/configs/inference.json``), in process.

:class:`BundleSegmenter` reads the bundle's inference config with :class:`monai.bundle.ConfigParser` (no second copy
of the preprocessing), builds ``network_def`` and loads ``<ckpt_dir>/model.pt`` once (after the bundle's own
:func:`custom_transforms.checkpoints.check_checkpoint`), then segments each study in memory the way the bundle's
evaluator does: the config's ``preprocessing`` on the study's own path (so a bad study is named in the error), a batch
of one, the ``inferer`` in eval mode without gradients, and the config's ``activation``, ``invert``, ``discretize``,
``fragments`` (:mod:`custom_transforms.fragments`, switched by ``remove_fragments``) and ``cast`` post-transforms.
The mask is on the study's native matrix and equals, pixel for pixel, the ``<name>_mask.png`` that
``python -m monai.bundle run --config_file bundle/configs/inference.json`` writes; no temporary folder, no PNG round
trip.

The segmenter has no preprocessing ids of its own: it takes the rule the weights were trained with (the
:data:`~custom_transforms.checkpoints.TRAINING_RULE_IDS` that ``train.json`` records in ``model.pt``) over
``inference.json``'s values, so the study is fused, colored and sized as in training and the network is the trained
one. An id the caller sets explicitly (``fused_index``, ``overrides``) that differs from the record is refused in one
line (:func:`~custom_transforms.checkpoints.check_training_rule`); weights without a record use ``inference.json``'s
ids, as before.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from custom_transforms.errors import RenogramInputError, input_error
from scripts.clinical.study import LoadedStudy

__all__ = ["MissingModelError", "BundleSegmenter", "POST_TRANSFORM_IDS", "segment_study", "segment_studies"]

#: config ids of the post-transforms applied to the network output, in order (``fragments`` and ``cast`` are optional:
#: a bundle config without them is run without them).
POST_TRANSFORM_IDS = ("activation", "invert", "discretize", "fragments", "cast")
_OPTIONAL_POST_IDS = ("fragments", "cast")


class MissingModelError(RenogramInputError):
    """The bundle has no inference config, no trained weights, or weights that do not fit its network: no study can
    be segmented (a batch stops with this one line instead of skipping every study)."""


class BundleSegmenter:
    """Segment studies with the bundle's inference config and weights; the network is built and loaded once.

    Args:
        bundle_dir: bundle folder holding ``configs/inference.json`` and ``models/model.pt``. Defaults to ``bundle``.
        fused_index: 0-based fused image the model segments. Defaults to None: the one the weights were trained on
            (recorded in ``model.pt``), else ``inference.json``'s (1, the paper's 2nd fused image).
        overrides: extra config overrides, as ``--id value`` pairs of ``monai.bundle run`` (e.g. ``network_def``,
            ``image_size``, ``ckpt_dir``, ``device``).

    Raises:
        MissingModelError: no ``inference.json`` or no ``model.pt`` (in ``ckpt_dir``, by default ``models/``), or an
            explicitly set id differs from the rule the weights were trained with (both named).
        RenogramInputError: the weights do not fit ``network_def`` or cannot be read (the checkpoint is named).

    Example::

        seg = BundleSegmenter("bundle")
        mask = seg("study.dcm")  # (H, W) uint8 0/1 on the study's matrix
    """

    def __init__(
        self,
        bundle_dir: str | os.PathLike = "bundle",
        fused_index: int | None = None,
        overrides: dict[str, Any] | None = None,
    ) -> None:
        import torch
        from monai.bundle import ConfigParser

        from custom_transforms.checkpoints import (
            TRAINING_RULE_IDS,
            check_checkpoint,
            check_training_rule,
            recorded_training_rule,
        )
        from custom_transforms.fragments import RemoveExtrarenalFragmentsd
        from custom_transforms.pipeline import FusedImageChain

        root = Path(bundle_dir)
        config = root / "configs" / "inference.json"
        if not config.is_file():
            raise MissingModelError(config, "bundle inference config not found; pass a mask file with --mask")
        parser = ConfigParser()
        parser.read_config(str(config))
        explicit = dict(overrides or {})
        if fused_index is not None:
            explicit["fused_index"] = int(fused_index)
        parser.update({"bundle_root": str(root), **explicit})
        weights = Path(parser.get_parsed_content("ckpt_dir")) / "model.pt"
        if not weights.is_file():
            raise MissingModelError(
                weights,
                "no trained model in the bundle (train it first, see the README); or pass a mask file with --mask",
            )
        # the weights' own rule replaces inference.json's ids; the caller's explicit ids are kept and checked below
        rule = recorded_training_rule(weights) or {}
        parser.update({k: v for k, v in rule.items() if k not in explicit})
        try:
            check_training_rule(weights, {k: parser.get_parsed_content(k) for k in TRAINING_RULE_IDS if k in parser})
        except RenogramInputError as exc:
            raise MissingModelError(exc.path, exc.problem) from None
        self.bundle_dir = root
        self.weights = weights
        #: the preprocessing ids recorded with the weights (empty for weights without a record).
        self.training_rule = rule
        self.fused_index = int(parser.get_parsed_content("fused_index"))
        self.device = torch.device(parser.get_parsed_content("device"))
        network = parser.get_parsed_content("network_def").to(self.device)
        try:  # weights that do not fit make every study fail alike: a model error, not a bad study
            check_checkpoint(weights, network)
        except RenogramInputError as exc:
            raise MissingModelError(exc.path, exc.problem) from None
        # the checkpoint layouts MONAI's CheckpointLoader accepts with load_dict {"model": network}
        state = torch.load(weights, map_location=self.device, weights_only=True)
        if isinstance(state, dict) and isinstance(state.get("model"), dict):
            state = state["model"]
        network.load_state_dict(state, strict=True)
        self.network = network.eval()
        self.preprocessing = parser.get_parsed_content("preprocessing")
        #: the bundle's study -> fused image chain (its config ids): load studies with it, show its fused image.
        self.chain = FusedImageChain.from_config(parser)
        self.inferer = parser.get_parsed_content("inferer")
        from monai.transforms import Compose

        post = [parser.get_parsed_content(i) for i in POST_TRANSFORM_IDS if i not in _OPTIONAL_POST_IDS or i in parser]
        # split where the probability is on the native grid (after ``invert``, before ``discretize``): the mask is
        # the two halves in turn, and the probability between them is kept for the DRF interval
        split = POST_TRANSFORM_IDS.index("discretize")
        self._to_probability = Compose(post[:split])
        self._to_mask = Compose(post[split:])
        # the fragment rule of the mask (``remove_fragments`` on), also applied to the probability's re-drawn masks
        fragments = parser.get_parsed_content("fragments") if "fragments" in parser else None
        self._fragment_rule = fragments.transform if isinstance(fragments, RemoveExtrarenalFragmentsd) else None

    def __call__(self, study: str | os.PathLike | LoadedStudy) -> np.ndarray:
        """Parenchyma mask ``(H, W)`` uint8 0/1 of one study on its native matrix.

        Args:
            study: a study path, or a study loaded once with :attr:`chain` (its frames are not modified).

        Raises:
            RenogramInputError: the study is missing or cannot be read (the user's path is named); other errors are
                not input faults and propagate.
        """
        return self._segment(study)[0]

    def segment_with_probability(self, study: str | os.PathLike | LoadedStudy) -> tuple[np.ndarray, np.ndarray]:
        """The mask of :meth:`__call__` and the network's probability ``(H, W)`` float32 on the native matrix (the
        config's ``activation`` and ``invert``; the mask is its ``discretize`` and ``fragments``), for the DRF interval
        (:mod:`scripts.clinical.drf_interval`). With the fragment rule on, the probability is 0 on the components the
        rule removes from the masks the interval re-draws (:func:`custom_transforms.fragments.suppress_fragments` at
        :data:`~scripts.clinical.drf_interval.PROBABILITY_THRESHOLDS` and 0.5; never inside the mask), so that those
        masks do not bring back a fragment the mask lacks."""
        mask, prob, spacing = self._segment(study)
        rule = self._fragment_rule
        if rule is not None and spacing is not None:
            from custom_transforms.fragments import suppress_fragments
            from scripts.clinical.drf_interval import PROBABILITY_THRESHOLDS

            prob = suppress_fragments(prob, spacing, (*PROBABILITY_THRESHOLDS, 0.5), mask, rule.band_margin_mm,
                                      rule.gap_mm)
        return mask, prob

    def _segment(
        self, study: str | os.PathLike | LoadedStudy
    ) -> tuple[np.ndarray, np.ndarray, tuple[float, float] | None]:
        """``(mask, probability, the probability grid's (row, col) spacing in mm or None)`` of one study (see
        :meth:`__call__`)."""
        import torch
        from monai.data import decollate_batch, list_data_collate
        from monai.networks import eval_mode

        from custom_transforms.fragments import RemoveExtrarenalFragments

        if isinstance(study, LoadedStudy):
            image: Any = study.image
        else:
            if not Path(study).exists():
                raise RenogramInputError(Path(study), "no such file")
            image = os.fspath(study)
        try:
            item = self.preprocessing({"image": image})
            batch = list_data_collate([item])  # what the config's DataLoader (batch_size 1) hands the evaluator
            inputs = batch["image"].to(self.device)
            with eval_mode(self.network), torch.no_grad():
                pred = self.inferer(inputs, self.network)
            out = decollate_batch({"image": inputs, "pred": pred}, detach=True)[0]
            out = self._to_probability(out)
            spacing = RemoveExtrarenalFragments.spacing_of(out["pred"])
            prob = out["pred"].detach().cpu().numpy() if hasattr(out["pred"], "detach") else np.asarray(out["pred"])
            prob = np.array(prob[0], np.float32)  # a copy: the mask transforms must not change it
            out = self._to_mask(out)
        except Exception as exc:  # a bad study is a RenogramInputError naming it; anything else is a bug: re-raised
            err = input_error(exc)
            if err is None:
                raise
            raise err from None
        mask = out["pred"]
        mask = mask.detach().cpu().numpy() if hasattr(mask, "detach") else np.asarray(mask)
        return (mask[0] > 0).astype(np.uint8), prob, spacing


def segment_studies(
    study_paths: Sequence[str | os.PathLike],
    bundle_dir: str | os.PathLike = "bundle",
    fused_index: int | None = None,
    overrides: dict[str, Any] | None = None,
) -> list[np.ndarray]:
    """Segment several studies with one network (see :class:`BundleSegmenter`).

    Args:
        study_paths: dynamic study files (DICOM, NIfTI) or frame folders.
        bundle_dir: bundle folder holding ``configs/inference.json`` and ``models/model.pt``. Defaults to ``bundle``.
        fused_index: 0-based fused image the model segments. Defaults to None (the weights' training rule; see
            :class:`BundleSegmenter`).
        overrides: extra config overrides (e.g. ``network_def`` for a non-default network).

    Returns:
        One ``(H, W)`` uint8 0/1 mask per study, in order, on the study's native matrix.

    Raises:
        MissingModelError: no ``inference.json`` or no ``models/model.pt`` in ``bundle_dir``.
        RenogramInputError: a study could not be segmented (named).
    """
    paths = [Path(p) for p in study_paths]
    for p in paths:
        if not p.exists():
            raise RenogramInputError(p, "no such file")
    segmenter = BundleSegmenter(bundle_dir, fused_index, overrides)
    return [segmenter(p) for p in paths]


def segment_study(
    study_path: str | os.PathLike,
    bundle_dir: str | os.PathLike = "bundle",
    fused_index: int | None = None,
    overrides: dict[str, Any] | None = None,
) -> np.ndarray:
    """Parenchyma mask ``(H, W)`` uint8 0/1 of one study from the bundle's model (see :class:`BundleSegmenter`)."""
    return segment_studies([study_path], bundle_dir, fused_index, overrides)[0]
