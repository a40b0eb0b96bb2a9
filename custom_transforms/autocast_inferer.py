# Copyright (c) 2026 Renogram parenchyma bundle contributors.
# Licensed under the Apache License, Version 2.0 (http://www.apache.org/licenses/LICENSE-2.0).
"""The training step's network call in reduced precision and/or ``channels_last`` memory format, on CPU or GPU.

MONAI's ``SupervisedTrainer(amp=True)`` is CUDA-only (``torch.autocast("cuda")`` and a ``GradScaler``), so a CPU
training run cannot use bf16 through it. :class:`AutocastInferer` is the MONAI ``Inferer`` that ``train#inferer``
uses when ``autocast_dtype`` or ``channels_last`` is set in ``bundle/configs/train.json``: the forward pass runs under
``torch.autocast(device_type=<the input's device type>, dtype=...)`` and the logits come back as float32, so the loss,
the metrics and the saved weights stay float32 (autocast never changes the parameters' dtype). Validation,
evaluation and inference keep MONAI's plain ``SimpleInferer`` (fp32).

Measured on two quiet CPU cores (``TransformerUNet``, batch 8, 384², one training step): fp32 49 ms/image,
``channels_last`` 38, bf16 autocast 30, both 22.6 ms/image (``python -m scripts.benchmark_networks --autocast
bfloat16 --channels-last``).
"""

from __future__ import annotations

from typing import Any

import torch
from monai.inferers import Inferer

__all__ = ["AUTOCAST_DTYPES", "autocast_dtype", "AutocastInferer"]

#: the names ``autocast_dtype`` accepts (None, ``"none"`` and ``"float32"`` mean no autocast).
AUTOCAST_DTYPES: dict[str, torch.dtype | None] = {
    "bfloat16": torch.bfloat16,
    "bf16": torch.bfloat16,
    "float16": torch.float16,
    "fp16": torch.float16,
    "float32": None,
    "fp32": None,
    "none": None,
}


def autocast_dtype(value: str | torch.dtype | None) -> torch.dtype | None:
    """The autocast dtype named by ``value`` (``"bfloat16"``, ``"float16"``, a ``torch.dtype``), or None for fp32.

    Raises:
        ValueError: an unknown name; the message lists the accepted ones.
    """
    if value is None or isinstance(value, torch.dtype):
        return None if value == torch.float32 else value
    key = str(value).strip().lower()
    if key not in AUTOCAST_DTYPES:
        raise ValueError(f"autocast_dtype {value!r} is not one of {sorted(AUTOCAST_DTYPES)} (or null)")
    return AUTOCAST_DTYPES[key]


class AutocastInferer(Inferer):
    """Run ``network(inputs)`` under ``torch.autocast`` and/or with ``channels_last`` inputs; return float32 logits.

    The autocast device type follows the input's device (``"cpu"`` or ``"cuda"``), so the same config trains on both.
    With ``channels_last`` the 4-D input batch is converted to ``torch.channels_last``; the network itself should be
    moved once with ``network.to(memory_format=torch.channels_last)`` (``train.json``'s ``network`` does this when
    ``channels_last`` is true). The memory format changes strides only: a ``state_dict`` saved from such a network
    loads unchanged into a plain fp32 network.

    Args:
        dtype: the autocast dtype, ``"bfloat16"`` or ``"float16"`` (see :data:`AUTOCAST_DTYPES`); None (or
            ``"float32"``) runs in fp32. Defaults to ``"bfloat16"``.
        channels_last: convert 4-D inputs to ``torch.channels_last``. Defaults to False.

    Examples::

        >>> inferer = AutocastInferer("bfloat16", channels_last=True)
        >>> logits = inferer(torch.rand(2, 3, 64, 64), network)  # float32, shape (2, 1, 64, 64)
    """

    def __init__(self, dtype: str | torch.dtype | None = "bfloat16", channels_last: bool = False) -> None:
        super().__init__()
        self.dtype = autocast_dtype(dtype)
        self.channels_last = str(channels_last).strip().lower() in ("true", "1", "yes")

    def __call__(self, inputs: torch.Tensor, network: Any, *args: Any, **kwargs: Any) -> torch.Tensor:
        """The float32 logits of ``network(inputs, *args, **kwargs)``."""
        if self.channels_last and inputs.ndim == 4:
            inputs = inputs.contiguous(memory_format=torch.channels_last)
        if self.dtype is None:
            out = network(inputs, *args, **kwargs)
        else:
            with torch.autocast(device_type=inputs.device.type, dtype=self.dtype):
                out = network(inputs, *args, **kwargs)
        return out.float() if isinstance(out, torch.Tensor) else out
