"""Fixtures of the integration tests beyond the shared database (tests/conftest.py)."""

from __future__ import annotations

# `h`: the delivery worker against a fake bot in the process (tests/support/delivery.py).
from tests.support.delivery import h

__all__ = ["h"]
