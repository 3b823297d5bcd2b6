"""Build hook (hatchling's default ``hatch_build.py``): an editable install compiles the package's
bytecode once, as pip does for a regular install.

An editable install leaves the package in the source tree, where Python writes ``__pycache__`` on
first import — unless PYTHONDONTWRITEBYTECODE is set (container images commonly set it): then every
``cnncalc`` command compiles all its modules again, about 0.3 s a start. Bytecode written here is
read as usual and ignored once a source file changes.
"""

from __future__ import annotations

import compileall
from pathlib import Path
from typing import Any

from hatchling.builders.hooks.plugin.interface import BuildHookInterface


class CustomBuildHook(BuildHookInterface):
    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        if version == "editable":
            compileall.compile_dir(Path(self.root) / "cnncalc", quiet=2)
