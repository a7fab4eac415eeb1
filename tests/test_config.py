"""Experiment configs, grid and translation: defaults, expansion, paths and clear errors."""

import typing
from dataclasses import dataclass
from pathlib import Path

import pytest

from nlpia_lstm import config
from nlpia_lstm.config import (
    load_config,
    load_translation_config,
    parse_config,
    parse_translation_config,
)
from nlpia_lstm.errors import ConfigError

from conftest import REPO, write

# --- grid configs ----------------------------------------------------------------------------


def test_published_grid_config():
    exp = load_config(REPO / "experiments" / "table_19b.toml")
    assert exp.name == "table_19b" and exp.seeds == (0, 1, 2)
    assert exp.cells == tuple(("birnn", u, 1) for u in (50, 40, 30, 20, 10, 5, 1)) + (
        ("lstm", 50, 1),)
    t = exp.training
    assert (t.epochs, t.batch_size, t.maxlen, t.dropout, t.optimizer) == (2, 32, 400, 0.2,
                                                                          "rmsprop")
    assert exp.data.val_fraction == 0.2 and exp.data.score_test
    assert exp.vectors.path is None and exp.vectors.word2vec.vector_size == 300


def test_every_shipped_config_is_valid():
    paths = sorted((REPO / "experiments").glob("*.toml"))
    assert len(paths) > 2
    for path in paths:
        if "translate" in path.name:
            assert load_translation_config(path).model.variants, path
        else:
            assert load_config(path).cells, path


def test_lists_expand_and_paths_are_relative_to_the_config(tmp_path):
    cfg = write(tmp_path / "c.toml", '''name = "x"
[data]
path = "imdb"
[vectors]
path = "vec.bin"
[[models]]
arch = ["lstm", "gru"]
units = [4, 2]
depth = [1, 2]
''')
    exp = load_config(cfg)
    assert len(exp.cells) == 8 and ("gru", 2, 2) in exp.cells
    assert Path(exp.data.path) == tmp_path / "imdb"
    assert Path(exp.vectors.path) == tmp_path / "vec.bin"


@pytest.mark.parametrize(("text", "message"), [
    ('name = "x"\n[[models]]\narch = "lstm"\nunits = [0]\n', "positive integers"),
    ('name = "x"\n[[models]]\narch = "cnn"\nunits = [5]\n', "unknown architecture"),
    ('name = "x"\n[training]\nepoch = 2\n[[models]]\narch = "lstm"\nunits = 5\n',
     "unknown key"),
    ('name = "x"\n[training]\nepochs = "2"\n[[models]]\narch = "lstm"\nunits = 5\n',
     "must be int"),
    ('name = "x"\n[training]\nbatch_size = 0\n[[models]]\narch = "lstm"\nunits = 5\n',
     "training.batch_size must be a positive integer, got 0"),
    ('name = "x"\n[training]\ndropout = -0.1\n[[models]]\narch = "lstm"\nunits = 5\n',
     "training.dropout must be a non-negative number, got -0.1"),
    ('name = "x"\n[training]\noptimizer = "sgdx"\n[[models]]\narch = "lstm"\nunits = 5\n',
     "unknown training.optimizer 'sgdx'"),
    ('name = "x"\n[training]\nbackend = "theano"\n[[models]]\narch = "lstm"\nunits = 5\n',
     "unknown training.backend 'theano'; choose from tensorflow, jax, torch"),
    ('name = "x"\n[training]\nmaxlen = 100000000000\n[[models]]\narch = "lstm"\n'
     'units = 5\n', "training.maxlen must be at most 100,000"),
    ('name = "x"\n[data]\nval_fraction = 1.5\n[[models]]\narch = "lstm"\nunits = 5\n',
     "val_fraction"),
    ('name = "x"\nseeds = []\n[[models]]\narch = "lstm"\nunits = 5\n', "seeds"),
    ('name = "x"\n', "at least one"),
    ('[[models]]\narch = "lstm"\nunits = 5\n', "needs a name"),
    ('name = "x"\n[[models]]\narch = "lstm"\n', "keys arch and units"),
    ('name = "x"\nunits = 3\n[[models]]\narch = "lstm"\nunits = 5\n', "unknown top-level"),
    ('name = "x\n', "not valid TOML"),
])
def test_malformed_configs_are_clear_errors(tmp_path, text, message):
    with pytest.raises(ConfigError, match=message):
        load_config(write(tmp_path / "bad.toml", text))


def test_missing_config(tmp_path):
    with pytest.raises(ConfigError, match="no config file"):
        load_config(tmp_path / "nope.toml")


def test_optimizer_names_are_those_keras_knows():
    exp = parse_config({"name": "x", "training": {"optimizer": "Adam", "maxlen": 100_000},
                        "models": [{"arch": "lstm", "units": 2}]})
    assert (exp.training.optimizer, exp.training.maxlen) == ("Adam", 100_000)
    assert "sgd" in config.OPTIMIZERS and "rmsprop" in config.OPTIMIZERS


def _char(**data) -> dict:
    return {"name": "c", "data": {"level": "char", **data},
            "models": [{"arch": "lstm", "units": 2}]}


def test_char_level_config_validation():
    word = parse_config({"name": "w", "models": [{"arch": "lstm", "units": 2}]})
    assert word.data.level == "word" and word.data.valid_chars is None
    assert parse_config(_char()).data.level == "char"
    with pytest.raises(ConfigError, match="data.level"):
        parse_config(_char() | {"data": {"level": "chars"}})
    with pytest.raises(ConfigError, match="vectors"):
        parse_config(_char() | {"vectors": {"limit": 10}})
    with pytest.raises(ConfigError, match="valid_chars"):
        parse_config({"name": "w", "data": {"valid_chars": "ab"},
                      "models": [{"arch": "lstm", "units": 2}]})
    with pytest.raises(ConfigError, match="ASCII"):
        parse_config(_char(valid_chars="\u00e9"))


# --- translation configs ---------------------------------------------------------------------


def test_translation_config_defaults_and_errors(tmp_path):
    exp = parse_translation_config({"name": "t", "model": {"variants": "every_step"},
                                    "data": {"path": "pairs.zip"}}, base=tmp_path)
    assert exp.model.variants == ("every_step",)
    assert exp.data.path == str(tmp_path / "pairs.zip")
    assert exp.decoding.beam_width == 4
    assert parse_translation_config({"name": "t"}).model.variants == config.VARIANTS
    for raw, message in [
        ({"name": "t", "model": {"variants": ["bahdanau"]}}, "variants"),
        ({"name": "t", "data": {"vocabulary": "bpe"}},
         "data.vocabulary must be one of word, sentencepiece"),
        ({"name": "t", "data": {"vocabulary": "sentencepiece", "vocab_size": 4}},
         "data.vocab_size must be at least 8"),
        ({"name": "t", "training": {"time_limit_minutes": -1}},
         "training.time_limit_minutes must be a non-negative number"),
        ({"name": "t", "model": {"attention_dim": 0}}, "model.attention_dim must be a positive"),
        ({"name": "t", "training": {"epochs": 0}},
         "training.epochs must be a positive integer, got 0"),
        ({"name": "t", "training": {"learning_rate": 0}},
         "training.learning_rate must be a positive number, got 0.0"),
        ({"name": "t", "training": {"epoch": 3}}, "unknown key"),
        ({"name": "t", "data": {"test_fraction": 0.6, "val_fraction": 0.5}}, "sum"),
        ({"name": "t", "model": {"dropout": 1.0}}, "model.dropout"),
        ({"model": {}}, "needs a name"),
        ({"name": "t", "grid": {}}, "unknown top-level"),
    ]:
        with pytest.raises(ConfigError, match=message):
            parse_translation_config(raw)
    with pytest.raises(ConfigError, match="no config file"):
        load_translation_config(tmp_path / "missing.toml")


def test_an_attention_config_with_sentencepiece_validates(tmp_path):
    exp = load_translation_config(write(tmp_path / "t.toml", """name = "t"
[data]
vocabulary = "sentencepiece"
vocab_size = 4000
[model]
variants = ["attention"]
attention_dim = 64
[training]
time_limit_minutes = 25
"""))
    assert exp.model.variants == ("attention",) and exp.model.attention_dim == 64
    assert (exp.data.vocabulary, exp.data.vocab_size) == ("sentencepiece", 4000)
    assert exp.training.time_limit_minutes == 25.0
    assert parse_translation_config({"name": "t"}).data.vocabulary == "word"


def test_repository_translation_config_is_valid():
    exp = load_translation_config(REPO / "experiments" / "translate_spa.toml")
    assert exp.name == "translate_spa"
    assert exp.model.variants == ("attention", "init", "every_step")
    assert (exp.data.vocabulary, exp.data.max_tokens, exp.data.max_pairs) == (
        "sentencepiece", 10, 0)
    assert 0 < exp.training.time_limit_minutes <= 60


# --- the validator ---------------------------------------------------------------------------


@dataclass(frozen=True)
class _Optionals:
    count: typing.Optional[int] = None  # noqa: UP045 (the old spelling must work too)
    ratio: float | None = None
    names: tuple[str, ...] = ()
    size: typing.Optional[config.Positive[int]] = None  # noqa: UP045


def test_table_values_reads_optional_fields_as_their_type():
    values = config.table_values(_Optionals, {"count": 3, "ratio": 1, "names": "a"}, "t")
    assert values == {"count": 3, "ratio": 1.0, "names": ("a",)}
    assert type(values["ratio"]) is float
    assert config.table_values(_Optionals, {"names": ["a", "b"]}, "t") == {"names": ("a", "b")}
    with pytest.raises(ConfigError, match="t.count must be int, got '3'"):
        config.table_values(_Optionals, {"count": "3"}, "t")
    with pytest.raises(ConfigError, match="t.count must be a non-negative integer, got -1"):
        config.table_values(_Optionals, {"count": -1}, "t")
    assert config.table_values(_Optionals, {"count": 0, "size": 2}, "t") == {"count": 0,
                                                                              "size": 2}
    with pytest.raises(ConfigError, match="t.size must be a positive integer, got 0"):
        config.table_values(_Optionals, {"size": 0}, "t")
    with pytest.raises(ConfigError, match="unknown key"):
        config.table_values(_Optionals, {"counts": 1}, "t")
