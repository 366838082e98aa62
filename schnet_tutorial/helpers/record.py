"""A lesson's record of one run: its own folder (never overwritten), results.json, and the last line.

    run_dir = record.new_run(folder)        # folder/run_<date-time>
    record.finish(run_dir, result, details)  # results.json (settings, result, details); "result: ..."

The ``result:`` line is what the tour and the tests read: ``name=value`` pairs, units in the names.
"""

import datetime
import json
from pathlib import Path

import numpy as np

from common.settings import settings_used


def new_run(folder) -> Path:
    """A new folder folder/run_<date-time> (run_<date-time>_2, ... if taken) for this run's files."""
    from common.runs import new_run_dir

    return new_run_dir(Path(folder), "run_" + datetime.datetime.now().strftime("%Y%m%d-%H%M%S"))


def _plain(value):
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, np.ndarray)):
        return [_plain(v) for v in value]
    if isinstance(value, (np.floating, np.integer, np.bool_)):
        return value.item()
    return value if isinstance(value, (int, float, str, bool, type(None))) else str(value)


def finish(run_dir, result: dict, details: dict | None = None, digits: int = 3) -> None:
    """Write run_dir/results.json (the settings, ``result`` and ``details``) and print the result line:
    ``result: name=value ...``, floats rounded to ``digits`` decimals."""
    summary = {"settings": settings_used(), "result": result, **(details or {})}
    path = Path(run_dir) / "results.json"
    path.write_text(json.dumps(_plain(summary), indent=1), encoding="utf-8")
    fields = []
    for name, value in result.items():
        if isinstance(value, float):
            value = f"{round(value, digits):g}"
        fields.append(f"{name}={value}")
    print("result: " + " ".join(fields), flush=True)
