# Copyright (c) 2026 Renogram parenchyma bundle contributors.
# Licensed under the Apache License, Version 2.0 (http://www.apache.org/licenses/LICENSE-2.0).
"""Input spatial-size checks (like smp's ``check_input_shape``), written to be TorchScript-compatible."""

from __future__ import annotations

import torch

__all__ = ["check_input_size", "nearest_valid_size"]


def nearest_valid_size(size: int, divisor: int) -> int:
    """Nearest positive multiple of ``divisor`` to ``size`` (ties go up, so padding is enough).

    Args:
        size: a spatial extent in pixels.
        divisor: required divisor in pixels.
    """
    lower = (size // divisor) * divisor
    upper = lower + divisor
    if lower <= 0 or upper - size <= size - lower:
        return upper
    return lower


def check_input_size(x: torch.Tensor, divisor: int, name: str) -> None:
    """Raise ``ValueError`` unless ``x`` is ``(B, C, H, W)`` with H and W multiples of ``divisor``.

    The message names the nearest valid size, e.g. ``"... got 100x100; nearest valid size is 96x96"``.

    Args:
        x: input batch ``(B, C, H, W)``.
        divisor: H and W must be multiples of it (pixels).
        name: network name used in the message.
    """
    if x.dim() != 4:
        raise ValueError(name + " expects a (B, C, H, W) tensor, got " + str(x.dim()) + " dimensions.")
    h = x.shape[2]
    w = x.shape[3]
    if h % divisor != 0 or w % divisor != 0:
        raise ValueError(
            name
            + " needs H and W divisible by "
            + str(divisor)
            + ", got "
            + str(h)
            + "x"
            + str(w)
            + "; nearest valid size is "
            + str(nearest_valid_size(h, divisor))
            + "x"
            + str(nearest_valid_size(w, divisor))
            + " (pad or resize the input)."
        )
