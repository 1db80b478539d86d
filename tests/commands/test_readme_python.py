"""The README's "Use it from Python" example runs as a new user would run it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from conftest import clean_env

README = Path(__file__).parents[2] / "README.md"


def test_the_readme_python_example_runs() -> None:
    section = README.read_text().split("## Use it from Python", 1)[1]
    code = section.split("```python\n", 1)[1].split("```", 1)[0]
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, env=clean_env(), timeout=30
    )
    assert done.stderr == b""
    assert done.returncode == 0
    lines = done.stdout.decode().splitlines()
    assert lines[0] == "Hello, library"
    assert lines[-3] == "stop"
    assert lines[-2] == "tool said: 4"  # add(2, 2): "Hello, library" has two words
    assert lines[-1] == "DataError 65"
