"""Run a measurement over the code of another git revision, in a subprocess, in the same bench run.

`measure_at(rev, "bench.state", "measure(10, 200)")` extracts `oms`, `streams`,
`processors` and `schemas` at `rev` (`git archive`) into a temporary tree,
puts it first on `sys.path` (this checkout's `bench` after it) and prints
the JSON of the call's result; the benches use it to show today's figure
beside a baseline's, measured on the same machine under the same load.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tarfile
import tempfile
from io import BytesIO
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def measure_at(rev: str, module: str, call: str) -> dict | None:
    """The result of `module.call` over the code at `rev`; None when git cannot give that code or the
    call fails there."""
    archive = subprocess.run(["git", "archive", rev, "oms", "streams", "processors", "schemas"], cwd=ROOT,
                             capture_output=True)
    if archive.returncode != 0:
        return None
    with tempfile.TemporaryDirectory() as tree:
        with tarfile.open(fileobj=BytesIO(archive.stdout)) as tar:
            tar.extractall(tree, filter="data")
        name = call.split("(", 1)[0]
        code = (f"import sys, json; sys.path[:0] = [{tree!r}, {str(ROOT)!r}]; from {module} import {name}; "
                f"print(json.dumps({call}))")
        run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tree)
        if run.returncode != 0:
            return None
        return json.loads(run.stdout.strip().splitlines()[-1])
