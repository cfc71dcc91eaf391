"""Fixtures of the integration tests beyond the shared database (tests/conftest.py)."""

from __future__ import annotations

# `h`: the delivery worker against a fake bot in the process (tests/integration/delivery_harness.py).
from tests.integration.delivery_harness import h

__all__ = ["h"]
