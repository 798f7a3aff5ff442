"""Loaded by pytest before Django (`-p hubbub.testing` in pyproject.toml).

Sets the environment the test settings are read from: a private data
directory, so tests never touch a real installation's database or keys.
"""

from __future__ import annotations

import os
import tempfile

os.environ.setdefault("HUBBUB_DATA_DIR", tempfile.mkdtemp(prefix="hubbub-test-"))
# Playwright's sync API runs an event loop in the test thread; the ORM calls
# the tests make between browser steps are still plain synchronous code.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
