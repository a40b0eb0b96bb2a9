# Copyright (c) 2026 Renogram parenchyma bundle contributors.
# Licensed under the Apache License, Version 2.0 (http://www.apache.org/licenses/LICENSE-2.0).
"""Remove mask fragments that lie cranial or caudal of both kidneys: the bundle's post-processing of the network mask.

The network's binary parenchyma mask holds the two kidney bodies (its two largest 8-connected components) and, at
times, more components: true pieces of a kidney (a thin hydronephrotic rim broken into a ring of pieces, a scarred or
duplex kidney) or false fragments in another organ that takes up tracer (the hot liver or spleen of the real adult
study, the bladder, an injection site). :class:`RemoveExtrarenalFragments` removes a component that lies **entirely
outside the cranio-caudal band of the two kidney bodies** (the rows from the higher body's top to the lower body's
bottom) by more than :data:`BAND_MARGIN_MM` **and** more than :data:`GAP_MM` from both bodies; every other
component, and a mask of one or two components, is kept as it is. Pieces of a kidney lie within the kidneys' rows,
while the liver, spleen, heart and bladder lie above or below them.

Why this rule (the evidence: ``bundle/docs/results/fragments/components.csv``, the model card's "Post-processing"):
the 0.5.0 model's masks of the 250 test-split images (native grid and 384²) and of the 200 fresh seed-7000 studies
(native) hold 97 components besides the two bodies, 60 of them true pieces (>= 50 % inside the true label: thin-rim
hydronephrosis, scarred, dilated kidneys) and 37 false fragments; on the real study the 0.5.0 model has 1 fragment
(19 px, in the liver) and the 0.4.0 weights 8. Size does not separate the two (true pieces 0.4-674 mm², false
fragments 0.4-974 mm²), nor does the distance to the nearest body (true pieces up to 57.7 mm away, the real study's
liver fragment 63.3 mm, the 0.4.0 weights' one 59.5 mm, a 0.4.0 one 47.9 mm), nor the network's probability
(maximum 0.52-1.0 inside true pieces, 0.51-1.0 inside false ones), nor a lower threshold that would join a piece to
its kidney (hysteresis: the far true pieces join only at 1e-4 or below, the liver fragment at 1e-5). The
cranio-caudal band does: 56 of the 60 true pieces share a row with it, the other 4 lie 1.6-4.2 mm outside, while
the false fragments outside it lie 8.4-82.5 mm out (one 1.6 mm out, 1.6 mm from a body, stays). On these masks the
rule removes 10 components, all false (the real study's liver fragment, 6 of the 0.4.0 weights' 8, a 1-px one of
a test image on both grids, a 2-px one of a seed-7000 study) and no true piece. MONAI's ``RemoveSmallObjects`` (a
size rule) would remove true pieces before it removed the liver fragment, and
``KeepLargestConnectedComponent(num_components=2)`` all 60 true pieces, hence this transform; it uses SciPy's
``ndimage`` labels and distance transform. Limits: the evidence is simulated children plus one real adult; a
kidney piece or an ectopic kidney that is not among the two largest components and lies more than 6 mm above or
below both bodies would be removed.

Spacing: the rule is in millimetres. The array transform takes the ``(row, col)`` spacing of the mask's grid; without
one it reads a MetaTensor's own (its ``affine``, when its ``pixel_spacing_mm`` metadata is known, as for a DICOM
study through the bundle's loader and ``Invertd``). The dictionary transform can take the native matrix's spacing and
shape from data keys (``spacing_key``, ``shape_key``: the datalist's ``pixel_spacing_mm`` and ``native_shape``, for
PNG datasets, whose images carry no spacing) and scales it to the mask's grid. Where no spacing is known the mask is
returned unchanged.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Mapping, Sequence
from typing import Any

import numpy as np
from monai.config import KeysCollection, NdarrayOrTensor
from monai.data import MetaTensor
from monai.transforms import MapTransform, Transform
from monai.utils import TransformBackends, convert_to_dst_type, convert_to_numpy
from scipy import ndimage as ndi

__all__ = [
    "BAND_MARGIN_MM",
    "GAP_MM",
    "extrarenal_fragments",
    "suppress_fragments",
    "RemoveExtrarenalFragments",
    "RemoveExtrarenalFragmentsd",
    "RemoveExtrarenalFragmentsD",
    "RemoveExtrarenalFragmentsDict",
]

#: a component is outside the kidneys' cranio-caudal band when its nearest row is more than this (mm) above the higher
#: body's top row or below the lower body's bottom row. 6 mm, between the two classes of the evidence table: of the 60
#: true pieces (>= 50 % inside the true label) 56 share a row with the band and the other 4 lie 1.6-4.2 mm outside it
#: (the farthest a 1-px piece of a hydronephrotic upper pole, 4.2 mm above, 45 mm away); the false fragments outside
#: it lie 8.4-82.5 mm out (the real study's liver fragment 8.6 mm above, a seed-7000 one 8.4 mm below, the 0.4.0
#: weights' six on the real study 8.6-72.9 mm above), bar one 1.6 mm out that the gap keeps. The margin is about half
#: a native pixel (2.1-6.3 mm) either side.
BAND_MARGIN_MM = 6.0
#: ... and more than this (mm) from both bodies, so that a piece just beyond a body's pole is not removed (two of the
#: true pieces outside the band lie 1.6 and 2.8 mm from a body). 15 mm, the report QC's gap for a fragment
#: (``scripts.clinical.qc.FRAGMENT_GAP_MM``); the false fragments more than 6 mm outside the band lie 48.5-151.5 mm
#: from both bodies.
GAP_MM = 15.0

_STRUCTURE = np.ones((3, 3), bool)  # 8-connectivity, as the report's ROIs and QC label the mask


def _finite_spacing(spacing: Sequence[float] | None) -> tuple[float, float] | None:
    """``(row, col)`` mm, or None when missing, not finite or not positive."""
    if spacing is None:
        return None
    vals = [float(v) for v in np.asarray(convert_to_numpy(spacing), float).ravel()[:2]]
    if len(vals) != 2 or not all(math.isfinite(v) and v > 0 for v in vals):
        return None
    return vals[0], vals[1]


def extrarenal_fragments(
    mask: np.ndarray, spacing_mm: Sequence[float], band_margin_mm: float = BAND_MARGIN_MM, gap_mm: float = GAP_MM
) -> np.ndarray:
    """Boolean ``(H, W)`` map of the components of ``mask`` that the rule removes (see the module docstring).

    Args:
        mask: ``(H, W)`` mask, nonzero = parenchyma.
        spacing_mm: ``(row, col)`` pixel spacing of the mask's grid in mm.
        band_margin_mm: see :data:`BAND_MARGIN_MM`. Defaults to 6.0.
        gap_mm: see :data:`GAP_MM`. Defaults to 15.0.

    Returns:
        ``(H, W)`` bool, True on the pixels of the removed components (all False for one or two components).
    """
    m = np.asarray(mask) != 0
    lab, n = ndi.label(m, _STRUCTURE)
    out = np.zeros(m.shape, bool)
    if n <= 2:
        return out
    sy, sx = float(spacing_mm[0]), float(spacing_mm[1])
    sizes = ndi.sum_labels(m, lab, np.arange(1, n + 1))
    bodies = 1 + np.argsort(-sizes, kind="stable")[:2]  # the two largest; equal sizes: the first labelled
    rows = ndi.find_objects(lab)
    top = min(rows[b - 1][0].start for b in bodies)
    bottom = max(rows[b - 1][0].stop for b in bodies) - 1
    dist = ndi.distance_transform_edt(~np.isin(lab, bodies), sampling=(sy, sx))
    gaps = np.asarray(ndi.minimum(dist, lab, np.arange(1, n + 1)))
    for k in range(1, n + 1):
        if k in bodies:
            continue
        r0, r1 = rows[k - 1][0].start, rows[k - 1][0].stop - 1
        outside_mm = max(top - r1, r0 - bottom, 0) * sy
        if outside_mm > band_margin_mm and gaps[k - 1] > gap_mm:
            out |= lab == k
    return out


def suppress_fragments(
    probability: np.ndarray,
    spacing_mm: Sequence[float],
    thresholds: Sequence[float],
    keep: np.ndarray | None = None,
    band_margin_mm: float = BAND_MARGIN_MM,
    gap_mm: float = GAP_MM,
) -> np.ndarray:
    """A copy of ``probability`` with 0 on the components the rule removes from ``probability > t``, for each ``t``.

    Masks re-drawn from the network's probability at other thresholds (the report's DRF interval) then lack the
    fragments that the post-processed mask lacks, instead of bringing them back.

    Args:
        probability: ``(H, W)`` network probability.
        spacing_mm: ``(row, col)`` pixel spacing of its grid in mm.
        thresholds: the thresholds of the masks that will be drawn from it.
        keep: ``(H, W)`` mask whose pixels are never set to 0 (the post-processed mask). Defaults to None.
        band_margin_mm: see :data:`BAND_MARGIN_MM`. Defaults to 6.0.
        gap_mm: see :data:`GAP_MM`. Defaults to 15.0.
    """
    prob = np.array(probability, dtype=np.float32)
    drop = np.zeros(prob.shape, bool)
    for t in thresholds:
        drop |= extrarenal_fragments(prob > float(t), spacing_mm, band_margin_mm, gap_mm)
    if keep is not None:
        drop &= np.asarray(keep) == 0
    prob[drop] = 0.0
    return prob


class RemoveExtrarenalFragments(Transform):
    """Remove the mask components that lie cranial or caudal of both kidney bodies (see the module docstring).

    Input: a binary mask ``(C, H, W)`` or ``(H, W)`` (numpy, torch or MetaTensor; each channel on its own).
    Output: the same type, shape and dtype, with the removed components set to 0; a MetaTensor keeps its metadata.

    Args:
        band_margin_mm: how far (mm) outside the bodies' cranio-caudal band a component must lie. Defaults to
            :data:`BAND_MARGIN_MM` (6.0).
        gap_mm: how far (mm) from both bodies it must lie. Defaults to :data:`GAP_MM` (15.0).

    Example::

        >>> RemoveExtrarenalFragments()(mask, spacing_mm=(4.29, 4.29))  # (1, 128, 128) 0/1, liver fragment removed
    """

    backend = [TransformBackends.NUMPY, TransformBackends.TORCH]

    def __init__(self, band_margin_mm: float = BAND_MARGIN_MM, gap_mm: float = GAP_MM) -> None:
        if not (math.isfinite(band_margin_mm) and band_margin_mm >= 0 and math.isfinite(gap_mm) and gap_mm >= 0):
            raise ValueError(f"band_margin_mm and gap_mm must be finite and >= 0, got {band_margin_mm}, {gap_mm}")
        self.band_margin_mm = float(band_margin_mm)
        self.gap_mm = float(gap_mm)

    @staticmethod
    def spacing_of(img: Any) -> tuple[float, float] | None:
        """The ``(row, col)`` mm spacing of a MetaTensor's grid (its affine) when its ``pixel_spacing_mm`` is known."""
        if not isinstance(img, MetaTensor) or _finite_spacing(img.meta.get("pixel_spacing_mm")) is None:
            return None
        return _finite_spacing(img.pixdim[:2])

    def __call__(self, img: NdarrayOrTensor, spacing_mm: Sequence[float] | None = None) -> NdarrayOrTensor:
        """Remove the fragments of ``img``.

        Args:
            img: binary mask ``(C, H, W)`` or ``(H, W)``.
            spacing_mm: ``(row, col)`` spacing of ``img``'s grid in mm. Defaults to None: the MetaTensor's own
                (:meth:`spacing_of`); unknown: ``img`` is returned unchanged.
        """
        spacing = _finite_spacing(spacing_mm) or self.spacing_of(img)
        arr = convert_to_numpy(img)
        if spacing is None or arr.ndim not in (2, 3):
            return img
        planes = arr[None] if arr.ndim == 2 else arr
        drop = np.stack([extrarenal_fragments(p, spacing, self.band_margin_mm, self.gap_mm) for p in planes])
        if not drop.any():
            return img
        out = np.where(drop, np.zeros((), arr.dtype), planes).reshape(arr.shape)
        return convert_to_dst_type(out, img, dtype=arr.dtype)[0]


class RemoveExtrarenalFragmentsd(MapTransform):
    """Dictionary version of :class:`RemoveExtrarenalFragments`.

    Args:
        keys: the mask keys (e.g. ``pred``, ``pred_native``).
        spacing_key: data key of the native matrix's ``(row, col)`` spacing in mm (the datalist's
            ``pixel_spacing_mm``), used where present and finite. Defaults to None: the mask's own spacing
            (:meth:`RemoveExtrarenalFragments.spacing_of`).
        shape_key: data key of the native matrix's ``(H, W)`` (the datalist's ``native_shape``): the spacing from
            ``spacing_key`` is scaled by it over the mask's shape (a 384² mask of a 128² study: 128/384). Defaults
            to None: the spacing is the mask's grid's.
        band_margin_mm: see :data:`BAND_MARGIN_MM`. Defaults to 6.0.
        gap_mm: see :data:`GAP_MM`. Defaults to 15.0.
        allow_missing_keys: do not raise on missing keys. Defaults to False.
    """

    backend = RemoveExtrarenalFragments.backend

    def __init__(
        self,
        keys: KeysCollection,
        spacing_key: str | None = None,
        shape_key: str | None = None,
        band_margin_mm: float = BAND_MARGIN_MM,
        gap_mm: float = GAP_MM,
        allow_missing_keys: bool = False,
    ) -> None:
        super().__init__(keys, allow_missing_keys)
        self.spacing_key = spacing_key
        self.shape_key = shape_key
        self.transform = RemoveExtrarenalFragments(band_margin_mm, gap_mm)

    def _spacing(self, d: Mapping[Hashable, Any], img: Any) -> tuple[float, float] | None:
        """The spacing of ``img``'s grid from the data keys, or None to let the array transform read its own."""
        native = _finite_spacing(d.get(self.spacing_key)) if self.spacing_key else None
        if native is None:
            return None
        shape = d.get(self.shape_key) if self.shape_key else None
        if shape is None:
            return native
        h, w = (int(v) for v in np.asarray(convert_to_numpy(shape)).ravel()[:2])
        grid = np.asarray(img.shape)[-2:]
        return native[0] * h / int(grid[0]), native[1] * w / int(grid[1])

    def __call__(self, data: Mapping[Hashable, NdarrayOrTensor]) -> dict[Hashable, NdarrayOrTensor]:
        d = dict(data)
        for key in self.key_iterator(d):
            d[key] = self.transform(d[key], self._spacing(d, d[key]))
        return d


RemoveExtrarenalFragmentsD = RemoveExtrarenalFragmentsDict = RemoveExtrarenalFragmentsd
