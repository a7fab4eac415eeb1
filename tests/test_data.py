import tarfile

import pytest

from nlpia_lstm import data
from nlpia_lstm.errors import DataError


def test_archive_and_folder_read_the_same(imdb_folder, imdb_archive):
    from_folder = data.read_imdb(imdb_folder, ("train", "test", "unsup"), progress=False)
    from_archive = data.read_imdb(imdb_archive, ("train", "test", "unsup"), progress=False)
    assert from_folder == from_archive
    assert len(from_folder["train"]) == 80 and len(from_folder["test"]) == 40
    assert {label for label, _ in from_folder["train"]} == {0, 1}
    assert {label for label, _ in from_folder["unsup"]} == {-1}


def test_labels_follow_folders(imdb_folder):
    train = data.read_imdb(imdb_folder, progress=False)["train"]
    pos_text = (imdb_folder / "train" / "pos" / "0_0.txt").read_text(encoding="utf-8")
    assert (1, pos_text) in train and (0, pos_text) not in train


def test_parent_folder_is_accepted(imdb_folder):
    assert data.imdb_path(imdb_folder.parent) == imdb_folder


def test_unknown_split_and_missing_path(tmp_path, imdb_folder):
    with pytest.raises(DataError, match="unknown IMDB split"):
        data.read_imdb(imdb_folder, ("dev",))
    with pytest.raises(DataError, match="no IMDB data"):
        data.read_imdb(tmp_path / "nowhere")


def test_corrupt_archive_is_one_clear_error(tmp_path):
    broken = tmp_path / "aclImdb_v1.tar.gz"
    broken.write_bytes(b"\x1f\x8b\x08 this is not gzip")
    with pytest.raises(DataError, match="corrupt or unreadable"):
        data.read_imdb(broken)


def test_truncated_archive_is_one_clear_error(tmp_path, imdb_archive):
    cut = tmp_path / "aclImdb_v1.tar.gz"
    cut.write_bytes(imdb_archive.read_bytes()[:2000])
    with pytest.raises(DataError):
        data.read_imdb(cut)


def test_shuffle_split_is_seeded_80_20():
    train, val = data.shuffle_split(range(100), 0.2, seed=3)
    assert len(train) == 80 and len(val) == 20 and sorted(train + val) == list(range(100))
    assert data.shuffle_split(range(100), 0.2, seed=3) == (train, val)
    assert data.shuffle_split(range(100), 0.2, seed=4) != (train, val)
    train, val = data.shuffle_split(range(100), 0.2, seed=3, limit=10)
    assert len(train) == 8 and len(val) == 2
    with pytest.raises(DataError):
        data.shuffle_split(range(10), 1.0)


def test_fetch_prefers_data_dir_then_cache(tmp_path, monkeypatch, isolated_cache):
    source = data.Source("thing.bin", "file:///nonexistent/thing.bin", None)
    (isolated_cache / "thing.bin").write_bytes(b"cached")
    assert data.fetch(source) == isolated_cache / "thing.bin"
    (tmp_path / "thing.bin").write_bytes(b"local")
    monkeypatch.setenv(data.DATA_ENV, str(tmp_path))
    assert data.fetch(source) == tmp_path / "thing.bin"


def test_fetch_downloads_and_checks_sha256(tmp_path, isolated_cache):
    payload = tmp_path / "remote.bin"
    payload.write_bytes(b"some bytes" * 1000)
    good = data.Source("remote.bin", payload.as_uri(), data.sha256sum(payload))
    assert data.fetch(good, progress=False).read_bytes() == payload.read_bytes()

    bad = data.Source("other.bin", payload.as_uri(), "0" * 64)
    with pytest.raises(DataError, match="checksum mismatch"):
        data.fetch(bad, progress=False)
    assert not (isolated_cache / "other.bin").exists()


def test_failed_download_names_the_way_out(tmp_path):
    source = data.Source("gone.bin", (tmp_path / "gone.bin").as_uri(), None)
    with pytest.raises(DataError, match="NLPIA_LSTM_DATA"):
        data.fetch(source, progress=False)


def test_safe_extract_refuses_escaping_members(tmp_path, imdb_archive):
    evil = tmp_path / "evil.tar"
    (tmp_path / "x.txt").write_text("x")
    with tarfile.open(evil, "w") as tar:
        tar.add(tmp_path / "x.txt", arcname="../escaped.txt")
    with pytest.raises(DataError, match="unsafe member"):
        data.safe_extract(evil, tmp_path / "out")
    assert not (tmp_path / "escaped.txt").exists()
    out = data.safe_extract(imdb_archive, tmp_path / "ok")
    assert (out / "aclImdb" / "train" / "pos").is_dir()


def test_file_identity_follows_content_not_place(tmp_path, imdb_archive):
    copy = tmp_path / "elsewhere" / "aclImdb_v1.tar.gz"
    copy.parent.mkdir()
    copy.write_bytes(imdb_archive.read_bytes())
    assert data.file_identity(copy) == data.file_identity(imdb_archive)
    copy.write_bytes(imdb_archive.read_bytes() + b"\0")
    assert data.file_identity(copy) != data.file_identity(imdb_archive)
