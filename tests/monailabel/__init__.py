# Copyright (c) 2026 Renogram parenchyma bundle contributors.
# Licensed under the Apache License, Version 2.0 (http://www.apache.org/licenses/LICENSE-2.0).
"""End-to-end tests of the exported bundle in a real MONAI Label server (marker ``monailabel``, own environment)."""

from __future__ import annotations

__all__: list[str] = []
