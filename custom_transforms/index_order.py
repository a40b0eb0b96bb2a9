# Copyright (c) 2026 Renogram parenchyma bundle contributors.
# Licensed under the Apache License, Version 2.0 (http://www.apache.org/licenses/LICENSE-2.0).
"""Hand a 2D ``(H, W)`` prediction to writers that expect MONAI's ``(x, y)`` index order (MONAI Label).

The project keeps 2D arrays in row-major ``(H, W)`` order (rows top to bottom, columns left to right;
:mod:`custom_transforms.renogram_image`). MONAI's image readers and writers use ``(x, y) = (W, H)`` by default, and
MONAI Label's result writer (``monailabel.transform.writer.write_itk``) always transposes a 2D array before ITK writes
it. Given the project's ``(H, W)`` mask it therefore returns a transposed PNG (``W x H``; on a square image the
kidneys silently swap axes). Before writing, MONAI Label also appends ``Restored``, which resizes the prediction
whenever its last axis disagrees with the last entry of the reference image's ``spatial_shape`` meta.

:class:`ToXYIndexOrderd` is the bundle's last inference post-transform (after ``SaveImaged``, which writes the
project's own ``(H, W)`` file): it transposes ``pred`` to ``(W, H)`` and records the reference image's
``spatial_shape`` as ``(W, H)`` too, so ``Restored`` is a no-op and MONAI Label's writer turns it back into an
``H x W`` image. MONAI has ``Transpose``, but nothing that keeps the reference metadata in step, hence this module.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from typing import Any

import numpy as np
from monai.config import KeysCollection, NdarrayOrTensor
from monai.data import MetaTensor
from monai.transforms import MapTransform, Transform
from monai.utils import TransformBackends

from custom_transforms.errors import RenogramInputError

__all__ = ["ToXYIndexOrder", "ToXYIndexOrderd", "ToXYIndexOrderD", "ToXYIndexOrderDict"]


class ToXYIndexOrder(Transform):
    """Transpose a 2D ``(H, W)`` array to MONAI's ``(x, y) = (W, H)`` index order.

    Input: ``(H, W)`` (numpy, torch or MetaTensor, any dtype). Output: ``(W, H)``, same type and dtype, contiguous.
    A MetaTensor keeps its metadata, with ``spatial_shape`` set to ``(W, H)``.

    Raises:
        RenogramInputError: the input is not 2D (e.g. still ``(1, H, W)``; squeeze the channel first).
    """

    backend = [TransformBackends.TORCH, TransformBackends.NUMPY]

    def __call__(self, img: NdarrayOrTensor) -> NdarrayOrTensor:
        """Args: img ``(H, W)``. Returns ``(W, H)``."""
        if img.ndim != 2:
            source = img.meta.get("filename_or_obj") if isinstance(img, MetaTensor) else None
            raise RenogramInputError(source, f"ToXYIndexOrder expects a 2D (H, W) array, got shape {tuple(img.shape)}")
        if isinstance(img, np.ndarray):
            return np.ascontiguousarray(img.T)
        out = img.transpose(0, 1).contiguous()
        if isinstance(out, MetaTensor):
            out.meta["spatial_shape"] = np.asarray(out.shape)
        return out


class ToXYIndexOrderd(MapTransform):
    """Dictionary-based wrapper of :py:class:`ToXYIndexOrder` that also updates the reference image's metadata.

    Args:
        keys: keys of ``(H, W)`` predictions to transpose. Usually ``"pred"``.
        ref_key: key of the MetaTensor whose ``spatial_shape`` MONAI Label's ``Restored`` compares against (the
            bundle's input key); its ``spatial_shape`` ``(H, W)`` becomes ``(W, H)``. None leaves it alone.
            Defaults to ``"image"``.
        allow_missing_keys: do not raise when a key is absent. Defaults to False.

    Raises:
        RenogramInputError: a prediction is not 2D, or differs in shape from the reference's ``spatial_shape``.
    """

    backend = ToXYIndexOrder.backend

    def __init__(self, keys: KeysCollection, ref_key: str | None = "image", allow_missing_keys: bool = False) -> None:
        super().__init__(keys, allow_missing_keys)
        self.ref_key = ref_key
        self.transposer = ToXYIndexOrder()

    def __call__(self, data: Mapping[Hashable, Any]) -> dict[Hashable, Any]:
        d = dict(data)
        ref = d.get(self.ref_key) if self.ref_key is not None else None
        ref_meta = ref.meta if isinstance(ref, MetaTensor) else None
        ref_shape = ref_meta.get("spatial_shape") if ref_meta is not None else None
        for key in self.key_iterator(d):
            if ref_shape is not None and d[key].ndim == 2 and tuple(int(s) for s in ref_shape) != tuple(d[key].shape):
                raise RenogramInputError(
                    ref_meta.get("filename_or_obj"),
                    f"{key} is {tuple(d[key].shape)} (H, W) but {self.ref_key} spatial_shape is "
                    f"{tuple(int(s) for s in ref_shape)}",
                )
            d[key] = self.transposer(d[key])
        if ref_shape is not None:  # a copy: the caller's reference image keeps its own metadata
            d[self.ref_key] = ref.clone()
            d[self.ref_key].meta["spatial_shape"] = np.asarray(ref_shape)[::-1].copy()
        return d


ToXYIndexOrderD = ToXYIndexOrderDict = ToXYIndexOrderd
