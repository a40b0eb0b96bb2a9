# Copyright (c) 2026 Renogram parenchyma bundle contributors.
# Licensed under the Apache License, Version 2.0 (http://www.apache.org/licenses/LICENSE-2.0).
"""Token sequence -> stack of MONAI ``TransformerBlock`` (MHSA + MLP + LayerNorm), returning ``(x, hidden_states)``.

Tokens are ``(B, N, hidden_size)``. Global self-attention: every token attends to all N tokens. The return value
mirrors ``monai.networks.nets.ViT.forward`` so that skip taps can be chosen by index rather than hard-coded.
"""

from __future__ import annotations

import torch
from monai.networks.blocks import TransformerBlock
from torch import nn

__all__ = ["TransformerEncoder"]


class TransformerEncoder(nn.Module):
    """``num_layers`` pre-norm transformer blocks followed by a final LayerNorm.

    Args:
        hidden_size: token dimension D.
        num_layers: number of transformer blocks.
        num_heads: attention heads; ``hidden_size % num_heads`` must be 0.
        mlp_dim: hidden width of each block's MLP.
        dropout_rate: dropout in attention and MLP, in [0, 1]. Defaults to 0.0.
        qkv_bias: bias in the q/k/v projection. Defaults to True.
        use_flash_attention: use ``torch.nn.functional.scaled_dot_product_attention`` (fused; faster on CPU too).
            Defaults to True.
    """

    def __init__(
        self,
        hidden_size: int,
        num_layers: int,
        num_heads: int,
        mlp_dim: int,
        dropout_rate: float = 0.0,
        qkv_bias: bool = True,
        use_flash_attention: bool = True,
    ) -> None:
        super().__init__()
        self.blocks = nn.ModuleList(
            [
                TransformerBlock(
                    hidden_size,
                    mlp_dim,
                    num_heads,
                    dropout_rate=dropout_rate,
                    qkv_bias=qkv_bias,
                    use_flash_attention=use_flash_attention,
                )
                for _ in range(num_layers)
            ]
        )
        self.norm = nn.LayerNorm(hidden_size)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """Run the blocks on ``x`` ``(B, N, D)``; return the normed output and every block's output (1-based tap k is
        ``hidden_states[k - 1]``)."""
        hidden_states: list[torch.Tensor] = []
        for block in self.blocks:
            x = block(x)
            hidden_states.append(x)
        return self.norm(x), hidden_states
