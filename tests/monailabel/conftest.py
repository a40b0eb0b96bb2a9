# Copyright (c) 2026 Renogram parenchyma bundle contributors.
# Licensed under the Apache License, Version 2.0 (http://www.apache.org/licenses/LICENSE-2.0).
"""Records failed tests so that the MONAI Label server fixture can print the server log on teardown."""

from __future__ import annotations

import pytest

__all__ = ["pytest_runtest_makereport"]


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """Mark the session when a test of this folder fails in setup, call or teardown."""
    outcome = yield
    if outcome.get_result().failed:
        item.session.monailabel_failed = True
