"""Fetching and unpacking dataset archives: resumable, with a progress bar, unpacked safely.

- :func:`download_file` streams a URL into ``<target>.part`` with a ``tqdm.auto`` bar and
  renames it to ``target`` once every byte has arrived. An interrupted transfer keeps its
  ``.part`` file; the next call asks the server for the rest (HTTP ``Range``) instead of
  starting over, and starts over when the server does not support ranges.
- :func:`zip_members` lists a zip archive's files after refusing anything that could write
  outside the target folder (absolute paths, ``..``, drive letters, symbolic links) and
  archives whose unpacked size is implausible; :func:`extract` writes the chosen members,
  checking each one's size and CRC.

Every failure is a :class:`~gan_lab.data.errors.DataUnavailableError` whose message names the
URL or file and says how to fix it (``fix``, supplied by the dataset).
"""

from __future__ import annotations

import http.client
import os
import re
import shutil
import stat
import urllib.error
import urllib.request
import zipfile
from pathlib import Path, PurePosixPath

from tqdm.auto import tqdm

from .errors import DataUnavailableError

CHUNK = 1 << 16
#: seconds without a byte from the server before a download gives up (it resumes on the next call)
TIMEOUT = 60
#: the most an archive may unpack to (a guard against zip bombs); BBBC038 stage1_train is far below
MAX_UNPACKED = 8 << 30
_CONTENT_RANGE = re.compile(r"bytes\s+(\d+)-(\d+)/(\d+|\*)", re.IGNORECASE)


def _mb(n: int) -> str:
    return f"{n / 1e6:.1f} MB"


def download_file(url: str, target: Path, *, fix: str, desc: str | None = None, timeout: float | None = None) -> Path:
    """Download ``url`` to ``target`` through ``target.part``, resuming a partial ``.part`` file.

    Args:
        url: an http(s) URL.
        target: the finished file; written only when the whole file has arrived.
        fix: what the user can do when the download fails (appended to every error).
        desc: the progress bar's label (default: the file name).
        timeout: seconds without data before giving up (default :data:`TIMEOUT`).

    Returns:
        ``target``.

    Raises:
        DataUnavailableError: offline, an HTTP error, or a transfer cut short (the ``.part``
            file stays, and the next call resumes it).
    """
    target = Path(target)
    part = target.with_name(target.name + ".part")
    for _attempt in range(2):  # the second attempt starts over when a partial file cannot be resumed
        have = part.stat().st_size if part.is_file() else 0
        request = urllib.request.Request(url, headers={"User-Agent": "gan_lab (python urllib)"})
        if have:
            request.add_header("Range", f"bytes={have}-")
        try:
            response = urllib.request.urlopen(request, timeout=timeout or TIMEOUT)
        except urllib.error.HTTPError as err:
            if err.code == 416 and have:  # nothing after `have`: complete already, or a stale part file
                total = _content_range(err.headers.get("Content-Range", ""))[2]
                err.close()
                if total == have:
                    os.replace(part, target)
                    return target
                part.unlink(missing_ok=True)
                continue
            raise DataUnavailableError(f"Downloading {url} failed: the server answered HTTP {err.code} "
                                       f"({err.reason}). {fix}") from None
        except (urllib.error.URLError, OSError, http.client.HTTPException) as err:
            reason = getattr(err, "reason", None) or err
            raise DataUnavailableError(f"Cannot download {url} ({reason}): this machine seems to be offline, or "
                                       f"the server is unreachable. {fix}") from None
        with response:
            start, total = _resume_point(response, have)
            if start is None:  # a range we did not ask for: discard the partial file and start over
                part.unlink(missing_ok=True)
                continue
            _receive(response, part, start, total, url, fix, desc or target.name)
        got = part.stat().st_size
        if total is not None and got != total:
            raise DataUnavailableError(
                f"The download of {url} stopped after {_mb(got)} of {_mb(total)} (the connection closed early). "
                f"Run the same command again: it resumes from {part}. {fix}")
        os.replace(part, target)
        return target
    raise DataUnavailableError(f"The server of {url} does not resume the partial file {part} correctly; delete it and "
                               f"try again. {fix}")


def _content_range(header: str) -> tuple[int | None, int | None, int | None]:
    """``Content-Range: bytes a-b/N`` (or ``bytes */N``) as (a, b, N); None for what is missing."""
    whole = re.fullmatch(r"\s*bytes\s+\*/(\d+)\s*", header or "", re.IGNORECASE)
    if whole:
        return None, None, int(whole.group(1))
    match = _CONTENT_RANGE.search(header or "")
    if not match:
        return None, None, None
    a, b, n = match.groups()
    return int(a), int(b), None if n == "*" else int(n)


def _resume_point(response, have: int) -> tuple[int | None, int | None]:
    """(where this response's bytes start, the file's full size) — start None for an unusable answer."""
    length = response.headers.get("Content-Length")
    length = int(length) if length and length.isdigit() else None
    if response.status == 206:
        start, _end, total = _content_range(response.headers.get("Content-Range", ""))
        if start != have:
            return None, None
        return start, total if total is not None else (have + length if length is not None else None)
    return 0, length  # 200: the server sent the whole file (it ignores Range, or we asked for none)


def _receive(response, part: Path, start: int, total: int | None, url: str, fix: str, desc: str) -> None:
    """Write the response body to ``part`` from byte ``start`` on, with a progress bar."""
    mode = "ab" if start else "wb"
    with open(part, mode) as out, tqdm(total=total, initial=start, unit="B", unit_scale=True, unit_divisor=1024,
                                       desc=desc, miniters=1) as bar:
        try:
            while chunk := response.read(CHUNK):
                out.write(chunk)
                bar.update(len(chunk))
        except (OSError, http.client.HTTPException) as err:
            out.flush()
            if isinstance(err, OSError) and err.errno == 28:  # ENOSPC
                raise DataUnavailableError(f"The disk is full while downloading {url} into {part.parent}: free "
                                           f"some space, then run again (it resumes). {fix}") from None
            raise DataUnavailableError(
                f"The download of {url} was interrupted after {_mb(out.tell())} ({type(err).__name__}: {err}). "
                f"Run the same command again: it resumes from {part}. {fix}") from None


# --------------------------------------------------------------------------------------------------- unpacking
def zip_members(archive: Path, fix: str) -> list[tuple[zipfile.ZipInfo, PurePosixPath]]:
    """The files in ``archive`` as (entry, safe relative path), directories and macOS metadata left out.

    Raises:
        DataUnavailableError: not a zip file, a member that would land outside the target folder
            (absolute, ``..``, a drive letter, a symbolic link), or an implausible unpacked size.
    """
    try:
        with zipfile.ZipFile(archive) as zf:
            infos = zf.infolist()
    except (zipfile.BadZipFile, OSError, ValueError) as err:
        raise DataUnavailableError(f"{archive} is not a readable zip archive ({err}). {fix}") from None
    members, total = [], 0
    for info in infos:
        name = info.filename.replace("\\", "/")
        path = PurePosixPath(name)
        if name.startswith("/") or ".." in path.parts or (path.parts and ":" in path.parts[0]):
            raise DataUnavailableError(f"{archive} holds {info.filename!r}, a path outside the folder it unpacks "
                                       f"to; refused (nothing was unpacked). {fix}")
        if stat.S_ISLNK(info.external_attr >> 16):
            raise DataUnavailableError(f"{archive} holds a symbolic link, {info.filename!r}; refused (nothing was "
                                       f"unpacked). {fix}")
        if info.is_dir() or not path.parts or path.parts[0] == "__MACOSX" or path.name.startswith("._") \
                or path.name == ".DS_Store":
            continue
        total += info.file_size
        members.append((info, path))
    if total > MAX_UNPACKED:
        raise DataUnavailableError(f"{archive} would unpack to {_mb(total)}, more than the {_mb(MAX_UNPACKED)} "
                                   f"allowed; refused. {fix}")
    return members


def extract(archive: Path, members: list[tuple[zipfile.ZipInfo, PurePosixPath]], dest: Path, fix: str,
            desc: str = "unpacking", check=None) -> int:
    """Write ``members`` (entry, relative path under ``dest``) of ``archive``; returns the bytes written.

    Each file's size is checked against the archive's directory and its CRC by ``zipfile``;
    ``check(path, first_bytes)`` may refuse a file by raising. ``dest`` should be a fresh
    folder: on an error the caller removes it, so nothing half-unpacked stays.
    """
    dest = Path(dest)
    root = dest.resolve()
    total = sum(info.file_size for info, _ in members)
    free = shutil.disk_usage(dest).free
    if total > free:
        raise DataUnavailableError(f"Unpacking {archive.name} needs {_mb(total)} but {dest} has {_mb(free)} free: "
                                   "free some space and run again.")
    written = 0
    try:
        with zipfile.ZipFile(archive) as zf, tqdm(total=total, unit="B", unit_scale=True, unit_divisor=1024,
                                                  desc=desc) as bar:
            for info, rel in members:
                target = dest.joinpath(*rel.parts)
                if not target.resolve().is_relative_to(root):  # belt and braces after zip_members
                    raise DataUnavailableError(f"{archive} member {info.filename!r} would land outside {dest}; "
                                               f"refused. {fix}")
                target.parent.mkdir(parents=True, exist_ok=True)
                size, first = 0, b""
                with zf.open(info) as src, open(target, "wb") as out:
                    while chunk := src.read(CHUNK):
                        if not first:
                            first = chunk[:16]
                        out.write(chunk)
                        size += len(chunk)
                        bar.update(len(chunk))
                if size != info.file_size:
                    raise DataUnavailableError(f"{archive} member {info.filename!r} unpacked to {size} bytes, not "
                                               f"the {info.file_size} its directory lists: the archive is damaged. "
                                               f"{fix}")
                if check is not None:
                    check(rel, first)
                written += size
    except (zipfile.BadZipFile, EOFError, zipfile.LargeZipFile, NotImplementedError) as err:
        raise DataUnavailableError(f"{archive} is damaged ({type(err).__name__}: {err}). {fix}") from None
    except OSError as err:
        if err.errno == 28:
            raise DataUnavailableError(f"The disk is full while unpacking {archive.name} into {dest}: free some "
                                       "space and run again.") from None
        raise DataUnavailableError(f"Unpacking {archive} into {dest} failed ({err}). {fix}") from None
    return written
