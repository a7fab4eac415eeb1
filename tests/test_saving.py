"""One model-file format: NAME.keras with a JSON sidecar saying what kind of model it is."""

import json
import subprocess
import sys
import zipfile

import numpy as np
import pytest

from nlpia_lstm import saving
from nlpia_lstm.errors import ConfigError, DataError

from conftest import subprocess_env


@pytest.fixture(scope="module")
def tiny_model():
    import keras

    keras.utils.set_random_seed(0)
    inputs = keras.Input((3,))
    return keras.Model(inputs, keras.layers.Dense(2)(inputs))


def test_round_trip_keeps_the_weights_and_the_settings(tiny_model, tmp_path):
    path = tmp_path / "sub" / "m.keras"
    assert saving.save_model(tiny_model, path, "classifier", level="word",
                             words=["ñandú", "b"]) == path
    sidecar = saving.sidecar_path(path)
    assert sidecar == tmp_path / "sub" / "m.json"
    assert json.loads(sidecar.read_text(encoding="utf-8")) == {
        "format": "nlpia_lstm.classifier/1", "level": "word", "words": ["ñandú", "b"]}
    assert "ñandú" in sidecar.read_text(encoding="utf-8")  # readable, not \\u-escaped
    assert saving.read_sidecar(path, "classifier")["words"] == ["ñandú", "b"]
    model, meta = saving.load_model(path, "classifier")
    assert meta["level"] == "word"
    x = np.ones((2, 3), dtype="float32")
    np.testing.assert_allclose(model.predict(x, verbose=0), tiny_model.predict(x, verbose=0))


def test_every_kind_has_its_format_and_another_kind_is_refused(tiny_model, tmp_path):
    for kind in saving.KINDS:
        path = saving.save_model(tiny_model, tmp_path / f"{kind}.keras", kind)
        assert saving.read_sidecar(path, kind) == {"format": f"nlpia_lstm.{kind}/1"}
    with pytest.raises(DataError, match="not the settings of a classifier model") as info:
        saving.read_sidecar(tmp_path / "generator.keras", "classifier")
    assert "'nlpia_lstm.generator/1'" in str(info.value)
    with pytest.raises(DataError, match="not the settings of a translator model"):
        saving.load_model(tmp_path / "classifier.keras", "translator")
    with pytest.raises(ValueError, match="unknown model kind"):
        saving.save_model(tiny_model, tmp_path / "x.keras", "regressor")
    with pytest.raises(ConfigError, match="must end in .keras"):
        saving.save_model(tiny_model, tmp_path / "x.h5", "classifier")
    assert not (tmp_path / "x.h5").exists() and not (tmp_path / "x.json").exists()


def test_missing_files_say_how_to_make_them(tiny_model, tmp_path):
    with pytest.raises(DataError) as info:
        saving.read_sidecar(tmp_path / "none.keras", "generator")
    assert str(info.value) == (f"no generator model at {tmp_path / 'none.keras'}: train one "
                               "with 'nlpia-lstm train-generator --out MODEL.keras'")
    path = saving.save_model(tiny_model, tmp_path / "m.keras", "classifier")
    saving.sidecar_path(path).unlink()
    with pytest.raises(DataError, match="its settings file m.json is missing beside it"):
        saving.load_model(path, "classifier")
    saving.sidecar_path(path).write_text("{not json", encoding="utf-8")
    with pytest.raises(DataError, match="unreadable model settings"):
        saving.read_sidecar(path, "classifier")
    saving.sidecar_path(path).write_text("[1, 2]", encoding="utf-8")
    with pytest.raises(DataError, match="not the settings of a classifier model"):
        saving.read_sidecar(path, "classifier")


def test_a_corrupt_model_file_is_a_data_error(tmp_path):
    path = tmp_path / "corrupt.keras"
    path.write_text("not a model", encoding="utf-8")
    saving.sidecar_path(path).write_text('{"format": "nlpia_lstm.classifier/1"}',
                                         encoding="utf-8")
    with pytest.raises(DataError, match="not a Keras model file .* corrupt or cut short"):
        saving.read_sidecar(path, "classifier")  # found before Keras loads
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("config.json", "{not json")
    with pytest.raises(DataError, match="not a readable Keras model") as info:
        saving.load_model(path, "classifier")
    assert "\n" not in str(info.value)


def test_importing_saving_does_not_import_keras():
    code = ("import sys, nlpia_lstm.saving; "
            "print(any(m in sys.modules for m in ('keras', 'tensorflow', 'jax')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, env=subprocess_env())
    assert out.stdout.strip() == "False"
