# Copyright (c) 2026 Renogram parenchyma bundle contributors.
# Licensed under the Apache License, Version 2.0 (http://www.apache.org/licenses/LICENSE-2.0).
"""The study -> fused image -> network input chain, defined once and used by every caller.

The chain (the paper's preprocessing), with its parameters::

    study path, or (T, H, W) frames already loaded by LoadDynamicStudy(view)
      -> DropEarlyFrames(min_start_s)                       (T', H, W)
      -> FrameFusion(group_size | window_s, drop_partial)   (N, H, W) fused images          = StudyFusion
      -> SelectFusedImages(fused_index)                     (1, H, W)
      -> Pseudocolor(colormap, percentile)                  (3, H, W) RGB in [0, 1] (colormap None: (1, H, W))
                                                                                          = FusedImageInput
      -> MONAI Resized(spatial_size, bilinear)              (C, *spatial_size), invertible with Invertd

:class:`StudyFusion` and :class:`FusedImageInput` (array transforms, with :class:`StudyFusiond` and
:class:`FusedImageInputd`) are the two halves; :class:`FusedImageChain` is both on the native matrix.
Who uses it:

- ``scripts.prepare_dataset``: :func:`dynamic_study_transforms` once per study, then :func:`fused_image_transforms`
  per labelled fused image (the PNGs it writes are these tensors, rounded to uint8).
- the bundle (``train.json``, ``evaluate.json``, ``inference.json``; MONAI Label): ``LoadRenogramImaged`` runs
  :class:`FusedImageChain` on study inputs, its parameters given by the top-level config ids :data:`CHAIN_IDS`
  (same names as here), then the config's own ``Resized`` to ``image_size``.
- the clinical report: load a study once, hand the frames to the segmentation and to the analysis::

      from custom_transforms.pipeline import FusedImageChain
      chain = FusedImageChain.from_config(parser)    # parser: ConfigParser of inference.json (after overrides)
      frames = chain.load("study.dcm")               # (T, H, W) MetaTensor: LoadDynamicStudy(view)
      fused = chain.fuse(frames)                     # (N, H, W) MetaTensor, meta fused_start_s / fused_end_s
      image = chain(frames)                          # (C, H, W) network input on the native matrix
      item = parser.get_parsed_content("preprocessing")({"image": frames})   # the bundle's input, resized

  The bundle's ``preprocessing`` (``LoadRenogramImaged``) takes the loaded frames as well as a path; the frames are
  not modified, so the same MetaTensor feeds the analysis.

A dataset built by ``scripts.prepare_dataset`` records its options in ``datalist.json["options"]`` and writes
``bundle_args.json`` = :func:`bundle_overrides` of them, so the bundle runs the same chain on DICOM::

    python -m monai.bundle run --config_file bundle/configs/inference.json --args_file DATASET/bundle_args.json \\
        --dataset_dir MY_STUDIES --output_dir MY_MASKS
"""

from __future__ import annotations

import os
from collections.abc import Hashable, Mapping, Sequence
from typing import Any

import torch
from monai.config import KeysCollection
from monai.data import MetaTensor
from monai.transforms import Compose, MapTransform, Resized, Transform
from monai.utils import TransformBackends

from custom_transforms.array import DropEarlyFrames, FrameFusion, Pseudocolor, SelectFusedImages
from custom_transforms.errors import RenogramInputError
from custom_transforms.loading import LoadDynamicStudy

__all__ = [
    "DEFAULT_SPATIAL_SIZE",
    "CHAIN_IDS",
    "CHAIN_DEFAULTS",
    "FUSION_RULES",
    "BUNDLE_CHAIN",
    "StudyFusion",
    "FusedImageInput",
    "FusedImageChain",
    "StudyFusiond",
    "StudyFusionD",
    "StudyFusionDict",
    "FusedImageInputd",
    "FusedImageInputD",
    "FusedImageInputDict",
    "dynamic_study_transforms",
    "fused_image_transforms",
    "fused_image_pipeline",
    "bundle_overrides",
]

#: the network's input size (the paper's 384x384).
DEFAULT_SPATIAL_SIZE = (384, 384)
#: the chain's parameters and their defaults (the paper's preprocessing); also the bundle's config ids.
CHAIN_DEFAULTS: dict[str, Any] = {
    "view": None,
    "min_start_s": 60.0,
    "group_size": 7,
    "window_s": None,
    "drop_partial": True,
    "fused_index": 1,
    "colormap": "jet",
    "percentile": 99.5,
}
#: the bundle config ids that parameterise the chain (besides ``image_size``, the ``Resized`` target).
CHAIN_IDS = tuple(CHAIN_DEFAULTS)
#: Named fusion rules (chain ids that pick the fused image). ``paper``: sum 7 frames after the first minute, the 2nd
#: fused image -- its time window moves with the frame duration (2.2-8.4 min over the clinical protocols).
#: ``time_window``: sum the frames of minutes 1-3 (120 s windows from 60 s, the 1st) -- the same window under every
#: protocol, and the parenchyma still brighter than a dilated pelvis (``python -m scripts.compare_fusion_rules``).
FUSION_RULES: dict[str, dict[str, Any]] = {
    "paper": {"min_start_s": 60.0, "group_size": 7, "window_s": None, "drop_partial": True, "fused_index": 1},
    "time_window": {"min_start_s": 60.0, "group_size": 7, "window_s": 120.0, "drop_partial": True, "fused_index": 0},
}
#: The chain the bundle ships: its configs' ids and ``scripts.prepare_dataset``'s defaults.
BUNDLE_CHAIN: dict[str, Any] = dict(CHAIN_DEFAULTS, **FUSION_RULES["time_window"])


def _is_loaded_study(study: Any) -> bool:
    return isinstance(study, MetaTensor) and study.ndim == 3 and "frame_start_s" in study.meta


class StudyFusion(Transform):
    """A study (path, or ``(T, H, W)`` frames loaded by :class:`LoadDynamicStudy`) to its ``(N, H, W)`` fused images.

    load (paths only) -> :class:`DropEarlyFrames` ``(min_start_s)`` -> :class:`FrameFusion` ``(group_size`` or
    ``window_s, drop_partial)``. A loaded study is not modified.

    Args:
        view: view/detector read from a path (see :class:`LoadDynamicStudy`). Defaults to None (posterior).
        min_start_s: seconds dropped from the start. Defaults to 60.0.
        group_size: frames per fused image. Defaults to 7.
        window_s: fixed fusion windows (s) instead of groups. Defaults to None.
        drop_partial: drop a partial last group/window. Defaults to True.

    Raises:
        RenogramInputError: bad study (the message starts with its path).
        TypeError: an array that is not a loaded study (no ``frame_start_s`` in its meta).
    """

    backend = [TransformBackends.TORCH]

    def __init__(
        self,
        view: str | int | None = None,
        min_start_s: float = 60.0,
        group_size: int = 7,
        window_s: float | None = None,
        drop_partial: bool = True,
    ) -> None:
        self.loader = LoadDynamicStudy(view=view)
        self.drop = DropEarlyFrames(min_start_s=min_start_s)
        self.fusion = FrameFusion(group_size=group_size, window_s=window_s, drop_partial=drop_partial)

    def load(self, study: str | os.PathLike | MetaTensor) -> MetaTensor:
        """``(T, H, W)`` frames: a path is read with :class:`LoadDynamicStudy`, loaded frames are returned as given."""
        if _is_loaded_study(study):
            return study
        if isinstance(study, torch.Tensor | MetaTensor) or hasattr(study, "__array__"):
            raise TypeError(
                "a study is a file or folder path, or the (T, H, W) MetaTensor LoadDynamicStudy returns "
                f"(with frame_start_s in its meta); got {type(study).__name__}"
            )
        if not os.path.exists(study):
            raise RenogramInputError(study, "no such study file or folder")
        return self.loader(study)

    def __call__(self, study: str | os.PathLike | MetaTensor) -> MetaTensor:
        """Args: a study path or loaded ``(T, H, W)`` frames. Returns ``(N, H, W)`` float32 fused images."""
        return self.fusion(self.drop(self.load(study)))


class FusedImageInput(Transform):
    """One fused image of ``(N, H, W)`` as network input: select ``fused_index``, pseudocolor; native matrix.

    Output ``(3, H, W)`` RGB in [0, 1] (``colormap=None`` or ``"none"``: ``(1, H, W)`` grayscale), equal to the uint8
    levels / 255, so a PNG written from it round-trips exactly.

    Args:
        fused_index: 0-based fused image (negative counts from the end). Defaults to 1 (the paper's 2nd).
        colormap: OpenCV colormap, or None for grayscale. Defaults to ``"jet"``.
        percentile: full-scale percentile. Defaults to 99.5.
    """

    backend = [TransformBackends.TORCH]

    def __init__(self, fused_index: int = 1, colormap: str | int | None = "jet", percentile: float = 99.5) -> None:
        self.fused_index = int(fused_index)
        self.pseudocolor = Pseudocolor(colormap=colormap, percentile=percentile)

    def __call__(self, fused: MetaTensor, fused_index: int | None = None) -> MetaTensor:
        """Args: ``(N, H, W)`` fused images; fused_index: this call's index instead of the configured one."""
        index = self.fused_index if fused_index is None else int(fused_index)
        return self.pseudocolor(SelectFusedImages(indices=(index,))(fused))


class FusedImageChain(Transform):
    """The whole chain on the native matrix: a study (path or loaded frames) to its network input ``(C, H, W)``.

    :class:`StudyFusion` then :class:`FusedImageInput`; parameters as there (defaults :data:`CHAIN_DEFAULTS`).

    Examples::

        >>> chain = FusedImageChain(window_s=120.0, fused_index=2)
        >>> frames = chain.load("study.dcm")              # (T, H, W), once
        >>> chain.fuse(frames).shape, chain(frames).shape  # (N, H, W), (3, H, W)
    """

    backend = [TransformBackends.TORCH]

    def __init__(
        self,
        view: str | int | None = None,
        min_start_s: float = 60.0,
        group_size: int = 7,
        window_s: float | None = None,
        drop_partial: bool = True,
        fused_index: int = 1,
        colormap: str | int | None = "jet",
        percentile: float = 99.5,
    ) -> None:
        self.fusion = StudyFusion(view, min_start_s, group_size, window_s, drop_partial)
        self.input = FusedImageInput(fused_index, colormap, percentile)

    @classmethod
    def from_config(cls, parser: Any) -> FusedImageChain:
        """The chain a bundle config runs: the values of :data:`CHAIN_IDS` in a ``monai.bundle.ConfigParser``."""
        return cls(**{k: parser.get_parsed_content(k) if k in parser else v for k, v in CHAIN_DEFAULTS.items()})

    @property
    def fused_index(self) -> int:
        """The configured 0-based fused image."""
        return self.input.fused_index

    def load(self, study: str | os.PathLike | MetaTensor) -> MetaTensor:
        """``(T, H, W)`` frames of a study path (loaded frames are returned as given)."""
        return self.fusion.load(study)

    def fuse(self, study: str | os.PathLike | MetaTensor) -> MetaTensor:
        """``(N, H, W)`` fused images of a study path or loaded frames."""
        return self.fusion(study)

    def __call__(self, study: str | os.PathLike | MetaTensor, fused_index: int | None = None) -> MetaTensor:
        """Args: a study path or loaded frames; fused_index: this call's instead of the configured one."""
        return self.input(self.fusion(study), fused_index)


class StudyFusiond(MapTransform):
    """Dictionary-based wrapper of :py:class:`StudyFusion`: each key's study (path or frames) -> ``(N, H, W)``.

    Args:
        keys: keys holding study paths or loaded studies.
        view, min_start_s, group_size, window_s, drop_partial: as in :py:class:`StudyFusion`.
        allow_missing_keys: do not raise when a key is absent. Defaults to False.
    """

    backend = StudyFusion.backend

    def __init__(
        self,
        keys: KeysCollection,
        view: str | int | None = None,
        min_start_s: float = 60.0,
        group_size: int = 7,
        window_s: float | None = None,
        drop_partial: bool = True,
        allow_missing_keys: bool = False,
    ) -> None:
        super().__init__(keys, allow_missing_keys)
        self.transform = StudyFusion(view, min_start_s, group_size, window_s, drop_partial)

    def __call__(self, data: Mapping[Hashable, Any]) -> dict[Hashable, Any]:
        d = dict(data)
        for key in self.key_iterator(d):
            d[key] = self.transform(d[key])
        return d


class FusedImageInputd(MapTransform):
    """Dictionary-based wrapper of :py:class:`FusedImageInput`: each key's ``(N, H, W)`` -> ``(C, H, W)``.

    Args:
        keys: keys holding fused image stacks.
        fused_index, colormap, percentile: as in :py:class:`FusedImageInput`.
        allow_missing_keys: do not raise when a key is absent. Defaults to False.
    """

    backend = FusedImageInput.backend

    def __init__(
        self,
        keys: KeysCollection,
        fused_index: int = 1,
        colormap: str | int | None = "jet",
        percentile: float = 99.5,
        allow_missing_keys: bool = False,
    ) -> None:
        super().__init__(keys, allow_missing_keys)
        self.transform = FusedImageInput(fused_index, colormap, percentile)

    def __call__(self, data: Mapping[Hashable, Any]) -> dict[Hashable, Any]:
        d = dict(data)
        for key in self.key_iterator(d):
            d[key] = self.transform(d[key])
        return d


StudyFusionD = StudyFusionDict = StudyFusiond
FusedImageInputD = FusedImageInputDict = FusedImageInputd


def dynamic_study_transforms(
    keys: KeysCollection = "image",
    view: str | int | None = None,
    min_start_s: float = 60.0,
    group_size: int = 7,
    window_s: float | None = None,
    drop_partial: bool = True,
) -> list[MapTransform]:
    """The chain's first half as dictionary transforms: a study path (or loaded frames) to ``(N, H, W)``.

    Arguments as in :class:`StudyFusion`; ``keys`` defaults to ``"image"``.
    """
    return [StudyFusiond(keys, view, min_start_s, group_size, window_s, drop_partial)]


def fused_image_transforms(
    keys: KeysCollection = "image",
    fused_index: int = 1,
    colormap: str | int | None = "jet",
    percentile: float = 99.5,
    spatial_size: Sequence[int] | None = DEFAULT_SPATIAL_SIZE,
) -> list[MapTransform]:
    """The chain's second half: ``(N, H, W)`` to ``(C, *spatial_size)`` (:class:`FusedImageInput` + ``Resized``).

    Args:
        keys: keys holding fused image stacks. Defaults to ``"image"``.
        fused_index: 0-based fused image to use. Defaults to 1 (the paper's 2nd fused image).
        colormap: OpenCV colormap or None for grayscale. Defaults to ``"jet"``.
        percentile: normalisation percentile. Defaults to 99.5.
        spatial_size: output ``(H, W)`` (MONAI ``Resized``, bilinear, as the bundle configs); None keeps the native
            matrix. Defaults to ``(384, 384)``.
    """
    out: list[MapTransform] = [FusedImageInputd(keys, fused_index, colormap, percentile)]
    if spatial_size is not None:
        out.append(
            Resized(keys, spatial_size=tuple(int(s) for s in spatial_size), mode="bilinear", anti_aliasing=False)
        )
    return out


def fused_image_pipeline(
    keys: KeysCollection = "image",
    view: str | int | None = None,
    min_start_s: float = 60.0,
    group_size: int = 7,
    window_s: float | None = None,
    drop_partial: bool = True,
    fused_index: int = 1,
    colormap: str | int | None = "jet",
    percentile: float = 99.5,
    spatial_size: Sequence[int] | None = DEFAULT_SPATIAL_SIZE,
) -> Compose:
    """The whole chain as one compose: study path (or loaded frames) -> network input ``(C, *spatial_size)``.

    Arguments as in :func:`dynamic_study_transforms` and :func:`fused_image_transforms`. The trailing ``Resized`` is
    recorded in the MetaTensor's ``applied_operations``, so ``Invertd(keys="pred", transform=<this compose>,
    orig_keys="image")`` brings a prediction back to the study's native ``(H, W)``.

    Examples::

        >>> pre = fused_image_pipeline(fused_index=2)
        >>> img = pre({"image": "study.dcm"})["image"]   # MetaTensor (3, 384, 384)
    """
    return Compose(
        dynamic_study_transforms(keys, view, min_start_s, group_size, window_s, drop_partial)
        + fused_image_transforms(keys, fused_index, colormap, percentile, spatial_size)
    )


def bundle_overrides(options: Mapping[str, Any]) -> dict[str, Any]:
    """Bundle config overrides that run the chain a dataset was built with (``datalist.json["options"]``).

    ``scripts.prepare_dataset`` writes them to ``DATASET/bundle_args.json`` (give it to ``monai.bundle run
    --args_file``); with a ``ConfigParser``: ``parser.update(bundle_overrides(datalist["options"]))``.

    Args:
        options: the dataset's options: ``size`` ``[H, W]``, ``colormap`` (None for grayscale), ``percentile``,
            ``min_start_s``, ``group_size``, ``window_s``, ``drop_partial``, ``view``, ``fused`` (labelled fused
            images; the first becomes ``fused_index``). Missing keys keep the bundle's defaults.

    Returns:
        ``{config id: value}`` for :data:`CHAIN_IDS`, ``image_size`` and ``in_channels`` (1 for a grayscale dataset,
        else 3). ``colormap`` None is written ``"none"``, as ``--colormap none`` on the command line.
    """
    out: dict[str, Any] = {}
    for key in ("view", "min_start_s", "group_size", "window_s", "drop_partial", "percentile"):
        if key in options:
            out[key] = options[key]
    if "fused" in options and len(options["fused"]):
        out["fused_index"] = int(options["fused"][0])
    if "colormap" in options:
        gray = options["colormap"] is None or str(options["colormap"]).lower() == "none"
        out["colormap"] = "none" if gray else options["colormap"]
        out["in_channels"] = 1 if gray else 3
    if "size" in options:
        out["image_size"] = [int(s) for s in options["size"]]
    return out
