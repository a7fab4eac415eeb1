from pathlib import Path

import pytest

from nlpia_lstm.config import load_config
from nlpia_lstm.errors import ConfigError

from conftest import REPO, write


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
    for path in (REPO / "experiments").glob("*.toml"):
        if "translate" not in path.name:
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
     "positive integer"),
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
