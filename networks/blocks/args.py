# Copyright (c) 2026 Renogram parenchyma bundle contributors.
# Licensed under the Apache License, Version 2.0 (http://www.apache.org/licenses/LICENSE-2.0).
"""Constructor-argument helpers shared by every network factory."""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["check_spatial_dims", "to_2tuple"]


def check_spatial_dims(spatial_dims: int, name: str) -> None:
    """Raise ``ValueError`` unless ``spatial_dims == 2`` (every network here is 2D).

    Args:
        spatial_dims: requested number of spatial dimensions.
        name: network name used in the message.
    """
    if spatial_dims != 2:
        raise ValueError(f"{name} is 2D only: spatial_dims must be 2, got {spatial_dims!r}.")


def to_2tuple(value: int | Sequence[int], arg: str = "img_size") -> tuple[int, int]:
    """Turn an int or a 2-sequence of positive ints into ``(H, W)`` (pixels).

    Args:
        value: ``384`` or ``[384, 384]``.
        arg: argument name used in the error message.

    Raises:
        ValueError: not an int or 2-sequence of positive ints.
    """
    if isinstance(value, bool):
        raise ValueError(f"{arg} must be an int or a sequence of 2 ints, got {value!r}.")
    if isinstance(value, int):
        out = (value, value)
    elif (
        isinstance(value, Sequence)
        and len(value) == 2
        and all(isinstance(v, int) and not isinstance(v, bool) for v in value)
    ):
        out = (int(value[0]), int(value[1]))
    else:
        raise ValueError(f"{arg} must be an int or a sequence of 2 ints (H, W), got {value!r}.")
    if min(out) <= 0:
        raise ValueError(f"{arg} must be positive, got {value!r}.")
    return out
