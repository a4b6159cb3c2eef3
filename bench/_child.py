"""Runs one side of one benchmark round in this fresh interpreter.

Usage (by the runner only): ``python _child.py module:function CTX_JSON RESULT_PATH``. The side
function gets the context dict (``workdir``, ``shared``, ``params``) and returns a dict, written
as JSON to RESULT_PATH; anything it prints goes to the round's log.
"""

from __future__ import annotations

import importlib
import json
import sys
from pathlib import Path


def main() -> None:
    func, ctx_json, out = sys.argv[1], sys.argv[2], sys.argv[3]
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    module_name, _, name = func.partition(":")
    fn = getattr(importlib.import_module(module_name), name)
    result = fn(json.loads(ctx_json))
    Path(out).write_text(json.dumps(result))


if __name__ == "__main__":
    main()
