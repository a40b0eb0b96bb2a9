# Copyright (c) 2026 Renogram parenchyma bundle contributors.
# Licensed under the Apache License, Version 2.0 (http://www.apache.org/licenses/LICENSE-2.0).
"""Pieces shared by the networks of this package (input-size checks, decoder stages, argument helpers)."""

from __future__ import annotations

from .args import check_spatial_dims, to_2tuple
from .decoder import DecoderStage, conv_stage
from .input_size import check_input_size, nearest_valid_size
from .transformer_encoder import TransformerEncoder

__all__ = [
    "DecoderStage",
    "TransformerEncoder",
    "check_input_size",
    "check_spatial_dims",
    "conv_stage",
    "nearest_valid_size",
    "to_2tuple",
]
