"""Data sets: IMDB and the English-Spanish pairs, found locally or downloaded and checked."""

import functools
import http.server
import threading
import types

import pytest

from nlpia_lstm import data
from nlpia_lstm.errors import DataError

from conftest import generated_pairs, write_zip

# --- IMDB ------------------------------------------------------------------------------------


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
    with pytest.raises(DataError, match="not a tar archive"):
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


def test_file_identity_follows_content_not_place(tmp_path, imdb_archive):
    copy = tmp_path / "elsewhere" / "aclImdb_v1.tar.gz"
    copy.parent.mkdir()
    copy.write_bytes(imdb_archive.read_bytes())
    assert data.file_identity(copy) == data.file_identity(imdb_archive)
    copy.write_bytes(imdb_archive.read_bytes() + b"\0")
    assert data.file_identity(copy) != data.file_identity(imdb_archive)


# --- English-Spanish pairs -------------------------------------------------------------------


def test_read_pairs_from_zip_and_text(tmp_path, monkeypatch):
    pairs = generated_pairs()
    archive = write_zip(tmp_path / "spa-eng.zip", pairs)
    assert data.read_pairs(archive) == pairs
    text = tmp_path / "spa.txt"
    text.write_text("Go.\tVe.\n\nHi.\tHola.\n", encoding="utf-8")
    assert data.read_pairs(text) == [("Go.", "Ve."), ("Hi.", "Hola.")]
    monkeypatch.setenv("NLPIA_LSTM_DATA", str(tmp_path))
    assert data.read_pairs(progress=False) == pairs


def test_read_pairs_rejects_bad_lines_and_missing_files(tmp_path):
    bad = tmp_path / "spa.txt"
    bad.write_text("Go.\tVe.\nno tab here\n", encoding="utf-8")
    with pytest.raises(DataError, match="line 2"):
        data.read_pairs(bad)
    with pytest.raises(DataError, match="no English-Spanish pairs"):
        data.read_pairs(tmp_path / "nowhere")
    bad.write_text("\n\n", encoding="utf-8")
    with pytest.raises(DataError, match="no sentence pairs"):
        data.read_pairs(bad)
    bad.write_bytes(b"Go.\t\xff\xfe\n")
    with pytest.raises(DataError, match="corrupt or unreadable"):
        data.read_pairs(bad)


def test_a_zip_without_spa_txt_is_refused(tmp_path):
    import zipfile

    archive = tmp_path / "spa-eng.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("spa-eng/_about.txt", "nothing else\n")
    with pytest.raises(DataError, match="no spa.txt inside the zip"):
        data.read_pairs(archive)


def test_spa_eng_path_accepts_the_file_or_a_folder_holding_it(tmp_path):
    archive = write_zip(tmp_path / "spa-eng.zip", generated_pairs())
    assert data.spa_eng_path(archive) == archive
    assert data.spa_eng_path(tmp_path) == archive
    extracted = tmp_path / "other" / "spa-eng" / "spa.txt"
    extracted.parent.mkdir(parents=True)
    extracted.write_text("Go.\tVe.\n", encoding="utf-8")
    assert data.spa_eng_path(tmp_path / "other") == extracted
    assert data.spa_eng_path(extracted.parent) == extracted
    with pytest.raises(DataError, match="expected spa-eng.zip or spa.txt"):
        data.spa_eng_path(tmp_path / "none")


# --- finding and downloading -----------------------------------------------------------------


def test_fetch_prefers_data_dir_then_cache(tmp_path, monkeypatch, isolated_cache):
    source = data.Source("thing.bin", "http://127.0.0.1:9/never-fetched/thing.bin", None)
    (isolated_cache / "thing.bin").write_bytes(b"cached")
    assert data.fetch(source) == isolated_cache / "thing.bin"
    (tmp_path / "thing.bin").write_bytes(b"local")
    monkeypatch.setenv(data.DATA_ENV, str(tmp_path))
    assert data.fetch(source) == tmp_path / "thing.bin"


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def web(tmp_path_factory, monkeypatch):
    """A web server on 127.0.0.1, in a thread, serving a fresh folder: ``(folder, base URL)``.

    pooch waits a few seconds between its retries of a failed download; not here.
    """
    import pooch.core

    folder = tmp_path_factory.mktemp("served")
    handler = functools.partial(_QuietHandler, directory=str(folder))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    monkeypatch.setattr(pooch.core, "time", types.SimpleNamespace(sleep=lambda seconds: None))
    try:
        yield folder, f"http://127.0.0.1:{server.server_port}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def test_fetch_downloads_and_checks_sha256(web, isolated_cache):
    folder, url = web
    payload = folder / "remote.bin"
    payload.write_bytes(b"some bytes" * 1000)
    good = data.Source("remote.bin", url + "remote.bin", data.sha256sum(payload))
    fetched = data.fetch(good, progress=False)
    assert fetched == isolated_cache / "remote.bin"
    assert fetched.read_bytes() == payload.read_bytes()
    payload.unlink()  # a second fetch is served by the cache
    assert data.fetch(good, progress=False) == fetched
    # A source without a published checksum (like spa-eng.zip) is downloaded as it is.
    (folder / "unchecked.bin").write_bytes(b"pairs")
    unchecked = data.Source("unchecked.bin", url + "unchecked.bin", None)
    assert data.fetch(unchecked, progress=False).read_bytes() == b"pairs"


def test_checksum_mismatch_keeps_nothing_in_the_cache(web, isolated_cache):
    folder, url = web
    (folder / "remote.bin").write_bytes(b"some bytes" * 1000)
    bad = data.Source("other.bin", url + "remote.bin", "0" * 64)
    with pytest.raises(DataError, match="checksum mismatch"):
        data.fetch(bad, progress=False)
    assert list(isolated_cache.iterdir()) == []


def test_failed_download_names_the_way_out(web, isolated_cache):
    _, url = web
    source = data.Source("gone.bin", url + "gone.bin", None)
    with pytest.raises(DataError, match="NLPIA_LSTM_DATA") as info:
        data.fetch(source, progress=False)
    assert "gone.bin" in str(info.value) and "\n" not in str(info.value)
    assert list(isolated_cache.iterdir()) == []
