"""Runs one side of one benchmark round in this fresh interpreter.

Usage (by the runner only): ``python _child.py module:function CTX_JSON RESULT_PATH``. The side
function gets the context dict (``workdir``, ``shared``, ``params``) and returns a dict, written
as JSON to RESULT_PATH; anything it prints goes to the round's log.
"""

from __future__ import annotations

import importlib
import json
import os
import sys
from pathlib import Path


def main() -> None:
    func, ctx_json, out = sys.argv[1], sys.argv[2], sys.argv[3]
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    # A baseline side (run.py --baseline) imports runio from another checkout, as do its children
    source = json.loads(ctx_json)["params"].get("source") or []
    for path in reversed(source):
        sys.path.insert(0, path)
    if source:
        os.environ["PYTHONPATH"] = os.pathsep.join([*source, os.environ.get("PYTHONPATH", "")])
    module_name, _, name = func.partition(":")
    fn = getattr(importlib.import_module(module_name), name)
    result = fn(json.loads(ctx_json))
    Path(out).write_text(json.dumps(result))


if __name__ == "__main__":
    main()
