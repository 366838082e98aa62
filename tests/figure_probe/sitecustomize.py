"""Test-only (tests/conftest.py puts this folder on PYTHONPATH of the scripts it runs): with
ML_TUTORIAL_FIGURE_LOG set, every figure a script saves is checked with figure_check.figure_defects
and one JSON line per saved figure is appended to that file (name, defects). matplotlib is patched
only when a script imports it."""

import os
import sys

if os.environ.get("ML_TUTORIAL_FIGURE_LOG"):
    import importlib.abc
    import importlib.util

    def _patch(figure_module):
        import json
        import weakref

        from figure_check import figure_defects

        savefig = figure_module.Figure.savefig
        checked = weakref.WeakSet()  # a figure saved twice (figures/ and the run's folder): checked once

        def checked_savefig(self, fname, *args, **kwargs):
            if isinstance(fname, (str, os.PathLike)) and self not in checked:  # not a movie's frames
                checked.add(self)
                try:
                    defects = figure_defects(self)
                except Exception as err:  # the check itself broke: say so, let the script go on
                    defects = [f"the figure check failed: {err!r}"]
                line = {"figure": str(fname), "defects": defects}
                with open(os.environ["ML_TUTORIAL_FIGURE_LOG"], "a", encoding="utf-8") as log:
                    log.write(json.dumps(line) + "\n")
            return savefig(self, fname, *args, **kwargs)

        figure_module.Figure.savefig = checked_savefig

    class _PatchOnImport(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path, target=None):
            if name != "matplotlib.figure":
                return None
            sys.meta_path.remove(self)
            spec = importlib.util.find_spec(name)
            exec_module = spec.loader.exec_module

            def exec_and_patch(module):
                exec_module(module)
                _patch(module)

            spec.loader.exec_module = exec_and_patch
            return spec

    sys.meta_path.insert(0, _PatchOnImport())
