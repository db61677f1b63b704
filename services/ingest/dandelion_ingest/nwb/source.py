"""Byte sources for h5py: a counting wrapper over any seekable file, remote objects read by
HTTP range through remfile, and `open_hdf5` which turns HDF5 failures into short messages."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Protocol

import h5py
import remfile
import requests
from requests.adapters import HTTPAdapter

from dandelion_ingest.nwb.errors import NotNwbError, RemoteReadError

# remfile fetches whole "chunks" around each read and grows them on sequential access. HDF5
# metadata is small and scattered over the file; measured on SeaweedFS (tiny, 64 MiB and
# 1 GiB files), 64 KiB chunks capped at 1 MiB need 3-4 requests and ~300 KB, where 16 KiB
# chunks need 10 requests for ~210 KB. Round trips cost more than a few hundred KB.
REMOTE_MIN_CHUNK = 64 * 1024
REMOTE_MAX_CHUNK = 1024 * 1024
REMOTE_CACHE = 32 * 1024 * 1024
HTTP_TIMEOUT_SECONDS = 30.0  # remfile sets none; a stalled object store must not hang a worker
# HDF5's raw-data chunk cache: smaller than any large chunk, so reading one element of an
# uncompressed chunked dataset reads that element, not the whole chunk.
H5_CHUNK_CACHE = 64 * 1024


class Readable(Protocol):
    def seek(self, offset: int, whence: int = ..., /) -> int | None: ...
    def tell(self) -> int: ...
    def read(self, size: int = ..., /) -> bytes: ...


@dataclass
class ReadStats:
    """What reading cost: bytes h5py asked for, and HTTP requests/bytes for remote objects."""

    bytes_read: int = 0
    requests: int = 0
    bytes_fetched: int = 0


class CountingFile:
    """A read-only file object that counts the bytes handed to h5py and keeps the first error
    of the underlying file (h5py reports it only as a generic "read failed")."""

    def __init__(self, inner: Readable, stats: ReadStats, size: int | None = None) -> None:
        self._inner = inner
        self.stats = stats
        self.error: BaseException | None = None
        self._size = size  # a remote object's: reads stop at its end, as a local file's do

    def seekable(self) -> bool:
        return True

    def readable(self) -> bool:
        return True

    def seek(self, offset: int, whence: int = 0) -> int:
        self._inner.seek(offset, whence)
        return self._inner.tell()

    def tell(self) -> int:
        return self._inner.tell()

    def read(self, size: int = -1) -> bytes:
        if self._size is not None and size >= 0:
            # h5py looks for a signature at each power of two up to the end, so it reads at
            # the end of an object that long; remfile would ask S3 for a range past it (416).
            size = min(size, max(0, self._size - self.tell()))
            if size == 0:
                return b""
        try:
            data = self._inner.read(size)
        except BaseException as exc:
            self.error = self.error or exc
            raise
        self.stats.bytes_read += len(data)
        return data

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        data = self.read(len(view))
        view[: len(data)] = data
        return len(data)


class _TimeoutAdapter(HTTPAdapter):
    def send(
        self,
        request: requests.PreparedRequest,
        stream: bool = False,
        timeout: float | tuple[float | None, float | None] | None = None,
        verify: bool | str = True,
        cert: str | tuple[str, str] | None = None,
        proxies: dict[str, str] | None = None,
    ) -> requests.Response:
        timeout = timeout or HTTP_TIMEOUT_SECONDS
        return super().send(request, stream, timeout, verify, cert, proxies)


def remote_file(url: str, size: int, stats: ReadStats) -> CountingFile:
    """A presigned GET URL as a counting file; `size` spares remfile its length request."""
    remote = remfile.File(
        url,
        _size=size,
        _min_chunk_size=REMOTE_MIN_CHUNK,
        _max_chunk_size=REMOTE_MAX_CHUNK,
        _max_cache_size=REMOTE_CACHE,
    )
    session: requests.Session = remote.session
    session.mount("http://", _TimeoutAdapter())
    session.mount("https://", _TimeoutAdapter())
    session.hooks["response"].append(_counter(stats))
    _probe(remote)
    return CountingFile(remote, stats, size)


def _probe(remote: remfile.File) -> None:
    """Read the first byte before h5py sees the object. A failure inside h5py's file-object
    driver leaves HDF5 state that crashes the interpreter at exit; a missing object or an
    expired URL fails here instead. The chunk fetched is the one h5py reads first anyway."""
    try:
        remote.read(1)
        remote.seek(0)
    except Exception as exc:
        raise remote_error(exc) from exc


def _counter(stats: ReadStats) -> Any:
    def count(response: requests.Response, *args: Any, **kwargs: Any) -> None:
        stats.requests += 1
        stats.bytes_fetched += int(response.headers.get("Content-Length", 0))

    return count


@contextmanager
def open_hdf5(source: CountingFile) -> Iterator[h5py.File]:
    """Open `source` read-only with h5py; failures become NotNwbError or RemoteReadError."""
    try:
        h5file = h5py.File(source, "r", rdcc_nbytes=H5_CHUNK_CACHE)
    except Exception as exc:
        # h5py re-raises the file object's own exception (an HTTP error) or an OSError.
        if source.error is not None:
            raise remote_error(source.error) from exc
        if isinstance(exc, OSError):
            raise _open_error(exc) from exc
        raise
    try:
        yield h5file
    finally:
        h5file.close()


def nwb_version(h5file: h5py.File) -> str:
    """The root's nwb_version attribute (NWB 2.x); without it the file is not NWB to us."""
    value = h5file.attrs.get("nwb_version")
    if value is None:
        raise NotNwbError("HDF5 file without an NWB root (no nwb_version attribute)")
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def _open_error(exc: OSError) -> NotNwbError:
    text = str(exc)
    if "file signature not found" in text:
        return NotNwbError("not an HDF5 file")
    if match := re.search(r"truncated file: eof = (\d+).*stored_eof = (\d+)", text):
        return NotNwbError(f"truncated HDF5 file ({match[1]} of {match[2]} bytes)")
    return NotNwbError(f"unreadable HDF5 file ({_first_line(text)})")


def remote_error(exc: BaseException) -> RemoteReadError:
    """A short message for a failure of the object store behind a remote file."""
    return RemoteReadError(f"reading the object failed: {_first_line(str(exc))}")


def short_error(exc: BaseException) -> str:
    """ "KeyError: first line of the message": enough to act on, never a traceback."""
    return f"{type(exc).__name__}: {_first_line(str(exc))}"


def _first_line(text: str, limit: int = 200) -> str:
    line = text.strip().splitlines()[0] if text.strip() else "no details"
    return line[:limit]
