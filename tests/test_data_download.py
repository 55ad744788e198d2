"""BBBC038 nuclei that download themselves: resumable, checked, unpacked safely, offline errors that say what to do.

Every test talks to a local HTTP server on 127.0.0.1 (port 0, Range support) serving a small
zip in the BBBC038 layout that the test builds; ``GAN_LAB_NUCLEI_URL`` points the download at
it, so no test touches the network.
"""

from __future__ import annotations

import io
import re
import socket
import threading
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import pytest
from PIL import Image

from gan_lab import cli, data
from gan_lab.data import DataUnavailableError, download, load_nuclei, nuclei


def _png(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format="PNG")
    return buffer.getvalue()


def bbbc_zip(prefix: str = "", n: int = 3, broken: str | None = None, extra: dict | None = None) -> bytes:
    """A zip in stage1_train.zip's layout: <id>/images/<id>.png and <id>/masks/m<k>.png, 32×32 images."""
    rng = np.random.default_rng(0)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as zf:
        for i in range(n):
            image_id = f"img{i}"
            grey = (rng.random((32, 32)) * 40).astype(np.uint8)
            grey[4:12, 4:12] = 220
            rgb = np.repeat(grey[..., None], 3, axis=2)
            zf.writestr(f"{prefix}{image_id}/images/{image_id}.png", _png(rgb))
            mask = np.zeros((32, 32), np.uint8)
            mask[4:12, 4:12] = 255
            zf.writestr(f"{prefix}{image_id}/masks/m0.png", _png(mask))
            zf.writestr(f"{prefix}{image_id}/masks/m1.png", _png(np.flipud(mask)))
        for name, content in (extra or {}).items():
            zf.writestr(name, content)
        if broken:
            zf.writestr(broken, b"this is not a PNG")
    return buffer.getvalue()


class Server:
    """A local HTTP server for one file, with Range support, a request log and ways to misbehave."""

    def __init__(self, payload: bytes):
        self.payload = payload
        self.log: list[dict] = []
        self.truncate_next = False  # send the headers of the whole file, half the bytes, then close
        self.ignore_range = False  # answer 200 with the whole file even when asked for a range
        server = self

        class Handler(BaseHTTPRequestHandler):
            timeout = 10

            def log_message(self, *args):
                pass

            def do_GET(self):
                server.log.append({"path": self.path, "range": self.headers.get("Range")})
                if not self.path.endswith("/stage1_train.zip"):
                    self.send_error(404, "Not Found")
                    return
                body, total = server.payload, len(server.payload)
                match = re.fullmatch(r"bytes=(\d+)-", self.headers.get("Range") or "")
                if match and not server.ignore_range:
                    start = int(match.group(1))
                    if start >= total:
                        self.send_response(416)
                        self.send_header("Content-Range", f"bytes */{total}")
                        self.send_header("Content-Length", "0")
                        self.end_headers()
                        return
                    self.send_response(206)
                    self.send_header("Content-Range", f"bytes {start}-{total - 1}/{total}")
                    body = body[start:]
                else:
                    self.send_response(200)
                self.send_header("Content-Type", "application/zip")
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Accept-Ranges", "bytes")
                self.end_headers()
                if server.truncate_next:
                    server.truncate_next = False
                    body = body[: len(body) // 2]
                self.wfile.write(body)
                self.wfile.flush()
                self.close_connection = True

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/BBBC038/stage1_train.zip"
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=5)


@pytest.fixture
def local(monkeypatch, no_real_data):
    """(server, its URL set as GAN_LAB_NUCLEI_URL); DATA_DIR is an empty temporary folder."""
    monkeypatch.setattr(download, "TIMEOUT", 5)  # a stuck transfer fails the test in seconds
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    for name in ("http_proxy", "HTTP_PROXY"):
        monkeypatch.delenv(name, raising=False)
    server = Server(bbbc_zip())
    monkeypatch.setenv("GAN_LAB_NUCLEI_URL", server.url)
    yield server
    server.close()


def leftovers(folder):
    """Anything but a finished stage1_train/ left in ``folder``: partial files, staging folders, archives."""
    return sorted(p.name for p in folder.iterdir() if p.name != "stage1_train") if folder.is_dir() else []


def test_the_url_is_bbbc038s_and_can_be_overridden(monkeypatch):
    monkeypatch.delenv("GAN_LAB_NUCLEI_URL", raising=False)
    assert nuclei.archive_url() == nuclei.ARCHIVE_URL == "https://data.broadinstitute.org/bbbc/BBBC038/stage1_train.zip"
    monkeypatch.setenv("GAN_LAB_NUCLEI_URL", "http://127.0.0.1:9/mirror.zip")
    assert nuclei.archive_url() == "http://127.0.0.1:9/mirror.zip"


def test_download_unpack_and_load(local, no_real_data, capsys):
    loaded = data.load("nuclei", split="all", kind="all", size=16, download=True, fallback=False)
    folder = no_real_data / nuclei.DATASET
    assert loaded.is_real and loaded.source == f"real: {folder}"
    assert sorted(set(loaded.info["image_ids"])) == ["img0", "img1", "img2"] and len(loaded) == 3 * 4
    assert (folder / "stage1_train" / "img1" / "images" / "img1.png").is_file()
    assert len(list((folder / "stage1_train" / "img1" / "masks").glob("*.png"))) == 2
    assert leftovers(folder) == []  # the archive is deleted, no .part, no staging folder
    assert [r["range"] for r in local.log] == [None]
    assert "3 images in" in capsys.readouterr().out


def test_an_archive_with_a_stage1_train_folder_inside(local, tmp_path):
    local.payload = bbbc_zip(prefix="stage1_train/")
    loaded = load_nuclei(root=tmp_path / "nuclei", split="all", kind="all", tile=16, download=True)
    assert loaded.is_real and (tmp_path / "nuclei" / "stage1_train" / "img0" / "images" / "img0.png").is_file()


@pytest.mark.parametrize("ignore_range", [False, True], ids=["resumed", "server-without-ranges"])
def test_a_cut_transfer_resumes_where_it_stopped(local, tmp_path, ignore_range):
    root, size = tmp_path / "nuclei", len(local.payload)
    local.truncate_next = True
    with pytest.raises(DataUnavailableError, match="(stopped|interrupted) after .* it resumes from") as err:
        load_nuclei(root=root, download=True)
    assert local.url in str(err.value) and str(root) in str(err.value)
    part = root / "stage1_train.zip.part"
    assert part.stat().st_size == size // 2 and not (root / "stage1_train").exists()
    local.ignore_range = ignore_range
    loaded = load_nuclei(root=root, split="all", kind="all", tile=16, download=True)
    assert loaded.is_real and leftovers(root) == []
    assert [r["range"] for r in local.log] == [None, f"bytes={size // 2}-"]


def test_a_complete_part_file_is_finished_without_a_transfer(local, tmp_path):
    root = tmp_path / "nuclei"
    root.mkdir()
    (root / "stage1_train.zip.part").write_bytes(local.payload)  # cut off just before the rename
    assert load_nuclei(root=root, split="all", kind="all", tile=16, download=True).is_real
    assert [r["range"] for r in local.log] == [f"bytes={len(local.payload)}-"]  # answered 416: nothing left


def _outside_name():
    return bbbc_zip(extra={"../escaped.png": b"\x89PNG\r\n\x1a\n"})


@pytest.mark.parametrize("payload, message", [
    (lambda: b"<html>Not found, but with status 200</html>", "not a readable zip archive"),
    (lambda: bbbc_zip(prefix="x/y/"), "not the BBBC038 layout"),
    (lambda: bbbc_zip(extra={"img9/images/other.png": _png(np.zeros((8, 8), np.uint8))}),
     "img9 has no images/img9.png"),
    (lambda: bbbc_zip(broken="img1/masks/m2.png"), "img1/masks/m2.png is not a PNG image"),
    (_outside_name, "a path outside the folder"),
], ids=["not-a-zip", "wrong-layout", "image-missing", "not-a-png", "path-traversal"])
def test_a_wrong_archive_is_refused_and_nothing_is_left_half_unpacked(local, tmp_path, payload, message):
    local.payload = payload()
    root = tmp_path / "data" / "nuclei"
    with pytest.raises(DataUnavailableError, match=message) as err:
        load_nuclei(root=root, download=True)
    assert "The downloaded file was deleted" in str(err.value) and "GAN_LAB_NUCLEI_URL" in str(err.value)
    assert leftovers(root) == [] and not (root / "stage1_train").exists()
    assert not (tmp_path / "data" / "escaped.png").exists()


def test_a_second_run_downloads_nothing(local, tmp_path, capsys):
    root = tmp_path / "nuclei"
    first = load_nuclei(root=root, split="all", kind="all", tile=16, download=True)
    again = load_nuclei(root=root, split="all", kind="all", tile=16, download=True)
    assert data.fetch("nuclei", root=root) == root
    assert cli.main(["download", "nuclei", "--root", str(root)]) == 0
    assert len(local.log) == 1 and first.images.equal(again.images)
    assert f"nuclei: ready in {root}" in capsys.readouterr().out


def test_a_zip_put_there_by_hand_is_unpacked_without_downloading(local, tmp_path):
    root = tmp_path / "nuclei"
    root.mkdir()
    (root / "stage1_train.zip").write_bytes(local.payload)
    assert load_nuclei(root=root, split="all", kind="all", tile=16, download=True).is_real
    assert local.log == [] and (root / "stage1_train.zip").is_file()  # the user's file is kept


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_offline_names_the_url_and_the_folder(local, monkeypatch, no_real_data, capsys):
    url = f"http://127.0.0.1:{_closed_port()}/stage1_train.zip"  # connection refused
    monkeypatch.setenv("GAN_LAB_NUCLEI_URL", url)
    folder = no_real_data / nuclei.DATASET
    with pytest.raises(DataUnavailableError) as err:
        load_nuclei(download=True)
    message = str(err.value)
    assert f"Cannot download {url}" in message and "offline" in message
    assert f"put stage1_train.zip in {folder}" in message and nuclei.URL in message
    assert not (folder / "stage1_train").exists()
    # the notebooks' path: phantoms with a banner that says the same
    fallen = data.load("nuclei", size=16, n=4, download=True)
    assert not fallen.is_real and url in capsys.readouterr().out
    # the command line: one line, exit code 2
    assert cli.main(["download", "nuclei"]) == 2
    err_line = capsys.readouterr().err
    assert err_line.startswith("gan_lab download: error: Cannot download") and err_line.count("\n") == 1
    assert str(folder) in err_line


def test_an_http_error_is_named(local, tmp_path):
    url = local.url.replace("stage1_train.zip", "missing.zip")
    with pytest.raises(DataUnavailableError, match=f"Downloading {url} failed: the server answered HTTP 404"):
        download.download_file(url, tmp_path / "x.zip", fix="")
    assert list(tmp_path.iterdir()) == []


def test_without_download_nothing_is_fetched(local, no_real_data):
    with pytest.raises(DataUnavailableError, match="download=True"):
        load_nuclei()
    assert local.log == []


def test_download_medmnist_flags_through_the_medmnist_path(shared_data, capsys):
    assert cli.main(["download", "breastmnist", "adrenalmnist3d"]) == 0  # found: nothing is downloaded
    out = capsys.readouterr().out
    assert f"breastmnist: ready in {shared_data / 'medmnist' / 'breastmnist.npz'}" in out
    assert f"adrenalmnist3d: ready in {shared_data / 'medmnist' / 'adrenalmnist3d.npz'}" in out


def test_download_medmnist_errors_are_one_line(no_real_data, monkeypatch, capsys):
    from gan_lab.data import medmnist

    calls = []

    def offline(flag, size, dest):
        calls.append((flag, size, dest))
        raise DataUnavailableError(f"Download of {medmnist.file_name(flag, size)} failed.\nno network")

    monkeypatch.setattr(medmnist, "_download", offline)  # never the real network
    assert cli.main(["download", "pneumoniamnist", "--size", "64"]) == 2
    err = capsys.readouterr().err
    assert err == "gan_lab download: error: Download of pneumoniamnist_64.npz failed. no network\n"
    assert calls == [("pneumoniamnist", 64, no_real_data / "medmnist")]
    for argv, message in ((["download", "phantoms"], "nothing to download"),
                          (["download", "pneumonia"], "Did you mean 'pneumoniamnist'"),
                          (["download", "adrenalmnist3d", "--size", "64"], "reads at 28³")):
        assert cli.main(argv) == 2
        err = capsys.readouterr().err
        assert message in err and err.count("\n") == 1
