# Copyright (c) 2026 Renogram parenchyma bundle contributors.
# Licensed under the Apache License, Version 2.0 (http://www.apache.org/licenses/LICENSE-2.0).
"""Study -> report in one process, as four steps a caller can time: load, segment, analyse, write.

:class:`StudyReporter` is what ``scripts.renal_function`` and ``scripts.benchmark_report`` run. The study is read
once (:func:`scripts.clinical.study.load_study` with the bundle's chain when the model segments), the same frames go
to the model (:class:`scripts.clinical.segment.BundleSegmenter`, built on first use and kept: one network for every
study) and to the analysis, whose figure shows the fused image the model saw; the mask is an array throughout.
With ``dicom=True`` the report folder of a DICOM study also gets ``seg.dcm`` and ``report.dcm``
(:mod:`scripts.clinical.dicom_outputs`); a study that is not DICOM gets the other files only
(:meth:`StudyReporter.writes_dicom` says which).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from custom_transforms.errors import RenogramInputError
from scripts.clinical.analysis import AnalysisSettings, RenalAnalysis, analyse_loaded
from scripts.clinical.report import write_report
from scripts.clinical.study import LoadedStudy, load_study

__all__ = ["StudyReporter"]


class StudyReporter:
    """Reports of studies with one set of settings, segmented by the bundle's model or by a given mask.

    Args:
        settings: analysis options. Defaults to :class:`scripts.clinical.analysis.AnalysisSettings`.
        bundle_dir: bundle whose ``inference.json`` and weights segment the studies. Defaults to ``"bundle"``.
        fused_index: 0-based fused image segmented and shown. Defaults to None: the model's training rule (see
            :class:`scripts.clinical.segment.BundleSegmenter`); with a given mask, the paper's (1).
        overrides: more config overrides for the bundle (e.g. ``device``). Defaults to None.
        dicom: also write the DICOM SEG and the report as DICOM for DICOM studies. Defaults to False.

    Example::

        reporter = StudyReporter(AnalysisSettings())
        study = reporter.load("study.dcm")
        result = reporter.analyse(study, reporter.segment(study))
        reporter.write(result, "out/study")
    """

    def __init__(
        self,
        settings: AnalysisSettings | None = None,
        bundle_dir: str | os.PathLike = "bundle",
        fused_index: int | None = None,
        overrides: dict[str, Any] | None = None,
        dicom: bool = False,
    ) -> None:
        self.settings = settings or AnalysisSettings()
        self.bundle_dir = bundle_dir
        self.fused_index = None if fused_index is None else int(fused_index)
        self.overrides = overrides
        self.dicom = bool(dicom)
        self._segmenter: Any = None

    @property
    def segmenter(self) -> Any:
        """The bundle's segmenter, built (network and weights loaded) on first use, then kept.

        Raises:
            scripts.clinical.segment.MissingModelError: no inference config or weights in the bundle.
        """
        if self._segmenter is None:
            from scripts.clinical import segment

            self._segmenter = segment.BundleSegmenter(self.bundle_dir, fused_index=self.fused_index,
                                                      overrides=self.overrides)
        return self._segmenter

    @property
    def model_source(self) -> str:
        """How the report names the model's masks (``model (<weights>)``)."""
        return f"model ({self.segmenter.weights})"

    def chain(self, with_model: bool) -> Any:
        """The study -> fused image chain: the bundle's when the model segments, else the paper's with
        :attr:`fused_index`."""
        if with_model:
            chain = getattr(self.segmenter, "chain", None)
            if chain is not None:
                return chain
        from custom_transforms.pipeline import FusedImageChain

        return FusedImageChain() if self.fused_index is None else FusedImageChain(fused_index=self.fused_index)

    def load(self, path: str | os.PathLike, with_model: bool = True) -> LoadedStudy:
        """Read a study once (with the chain of :meth:`chain`).

        Raises:
            RenogramInputError: bad study (named); MissingModelError when the model is needed and absent.
        """
        return load_study(path, self.chain(with_model))

    def segment(self, study: LoadedStudy) -> np.ndarray:
        """The model's ``(H, W)`` 0/1 mask of a loaded study.

        Raises:
            RenogramInputError: the model found no kidney (the study is named).
        """
        return self.segment_with_probability(study)[0]

    def segment_with_probability(self, study: LoadedStudy) -> tuple[np.ndarray, np.ndarray]:
        """The mask of :meth:`segment` and the network's ``(H, W)`` probability behind it (for the DRF interval).

        Raises:
            RenogramInputError: the model found no kidney (the study is named).
        """
        mask, probability = self.segmenter.segment_with_probability(study)
        if not mask.any():
            raise RenogramInputError(
                study.path,
                "the bundle's model found no kidney in this study (empty mask); check the study or pass --mask",
            )
        return mask, probability

    def analyse(self, study: LoadedStudy, mask: np.ndarray, mask_file: str | os.PathLike | None = None,
                probability: np.ndarray | None = None) -> RenalAnalysis:
        """The analysis of a loaded study with a mask array (its figure shows :meth:`chain`'s fused image).

        Args:
            study: the loaded study. mask: ``(H, W)`` mask.
            mask_file: the file the mask was read from; None for the model's mask (an error about the mask then
                names the study, the report names the weights).
            probability: the network's probability behind the model's mask (:meth:`segment_with_probability`):
                the DRF interval re-draws the mask from it; None: it moves the mask's boundary.
        """
        if mask_file is not None:
            result = analyse_loaded(study, mask, self.settings, self.chain(False), os.fspath(mask_file),
                                    probability)
        else:
            result = analyse_loaded(study, mask, self.settings, self.chain(True), "array", probability)
            result.report["settings"]["mask_source"] = self.model_source
        # what the DICOM outputs need besides the report: the frames read and where the mask came from
        result.extra["source_frames"] = study.meta.get("source_frames")
        result.extra["mask_from_file"] = mask_file is not None
        return result

    def writes_dicom(self, study: str | os.PathLike) -> bool:
        """Whether :meth:`write` gives this study ``seg.dcm`` and ``report.dcm`` (``dicom`` on, a DICOM source)."""
        from custom_transforms.dicom_seg import is_dicom_source

        return self.dicom and is_dicom_source(study)

    def write(self, result: RenalAnalysis, out_dir: str | os.PathLike) -> dict[str, str]:
        """The report files in ``out_dir`` (:func:`scripts.clinical.report.write_report`), with the DICOM objects
        when :meth:`writes_dicom`."""
        source = result.report["study"]["file"]
        dicom = None
        if source and self.writes_dicom(source):
            from custom_transforms.dicom_seg import bundle_algorithm
            from scripts.clinical.dicom_outputs import DicomOutputs

            from_file = bool(result.extra.get("mask_from_file"))
            frames = result.extra.get("source_frames")
            dicom = DicomOutputs(source, bundle_algorithm(self.bundle_dir), from_file, frames)
        return write_report(result, out_dir, dicom)

    def report(self, path: str | os.PathLike, mask_file: str | os.PathLike | None = None) -> RenalAnalysis:
        """Load, segment (unless ``mask_file`` is given) and analyse one study.

        Raises:
            RenogramInputError: bad study or mask (named); MissingModelError without ``mask_file`` and a model.
        """
        if mask_file is not None:
            from scripts.clinical.rois import read_mask

            study = self.load(path, with_model=False)
            return self.analyse(study, read_mask(mask_file), mask_file)
        if not Path(path).exists():
            raise RenogramInputError(Path(path), "no such file")
        study = self.load(path)
        mask, probability = self.segment_with_probability(study)
        return self.analyse(study, mask, probability=probability)
