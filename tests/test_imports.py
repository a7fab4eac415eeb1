"""The package as a whole: every module imports on its own, and the light ones stay light."""

import json
import subprocess
import sys

from conftest import REPO, subprocess_env

MODULES = sorted(
    ".".join(path.relative_to(REPO).with_suffix("").parts).removesuffix(".__init__")
    for path in (REPO / "nlpia_lstm").rglob("*.py") if path.stem != "__main__"
)
# Importing these does not import TensorFlow, Keras or JAX: data preparation, configs and the
# command line's argument checks run without the backend's start-up time.
LIGHT = [
    "nlpia_lstm", "nlpia_lstm.errors", "nlpia_lstm.config", "nlpia_lstm.data",
    "nlpia_lstm.preprocessing", "nlpia_lstm.tokens", "nlpia_lstm.vectors", "nlpia_lstm.inputs",
    "nlpia_lstm.results", "nlpia_lstm.saving", "nlpia_lstm.grid", "nlpia_lstm.generation",
    "nlpia_lstm.gates.reference", "nlpia_lstm.translation.text",
    "nlpia_lstm.translation.experiment", "nlpia_lstm.cli",
]


def run_python(code: str) -> str:
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env=subprocess_env(), cwd=REPO, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout.strip().splitlines()[-1]


def test_the_module_list_is_complete():
    assert {"nlpia_lstm", "nlpia_lstm.cli", "nlpia_lstm.tokens", "nlpia_lstm.inputs",
            "nlpia_lstm.results", "nlpia_lstm.saving", "nlpia_lstm.gates.review",
            "nlpia_lstm.translation.model"} <= set(MODULES)
    assert set(LIGHT) <= set(MODULES)


def test_light_modules_do_not_import_tensorflow_or_keras():
    code = f"""
import importlib, json, sys
heavy = []
for name in {LIGHT!r}:
    importlib.import_module(name)
    if any(m in sys.modules for m in ("tensorflow", "keras", "jax")):
        heavy.append(name)
        break
print(json.dumps(heavy))
"""
    assert json.loads(run_python(code)) == []


def test_every_module_imports_on_its_own_so_there_is_no_import_cycle():
    """Each module is imported first, into an interpreter holding none of the package.

    A cycle of top-level imports fails for one of its modules, whichever comes first.
    """
    code = f"""
import importlib, json, sys
failures = {{}}
for name in {MODULES!r}:
    for loaded in [m for m in sys.modules if m == "nlpia_lstm" or m.startswith("nlpia_lstm.")]:
        del sys.modules[loaded]
    try:
        importlib.import_module(name)
    except Exception as exc:
        failures[name] = f"{{type(exc).__name__}}: {{exc}}"
print(json.dumps(failures))
"""
    assert json.loads(run_python(code)) == {}
