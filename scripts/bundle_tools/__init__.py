# Copyright (c) 2026 Renogram parenchyma bundle contributors.
# Licensed under the Apache License, Version 2.0 (http://www.apache.org/licenses/LICENSE-2.0).
"""Packaging the bundle for use outside the repository: a self-contained export and MONAI's checks on it.

:mod:`~scripts.bundle_tools.export` copies ``bundle/`` with the code packages its configs name;
:mod:`~scripts.bundle_tools.verify` runs MONAI's bundle checks on the copy from outside the repository. Used by the
``scripts.export_bundle`` and ``scripts.monailabel_app`` commands; it imports no command, and only the standard
library and :mod:`custom_transforms.safe_files` at import time, so it works under a bare interpreter.
"""
