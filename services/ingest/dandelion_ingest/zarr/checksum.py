"""DANDI's zarr checksum (zarr_checksum's tree of folder digests), computed in one pass over
files given in path order; pure, no I/O but a folder's spooled file list.

Algorithm, as zarr_checksum defines it
- A file's digest is its MD5. A folder's digest is `{md5}-{count}--{size}`: the MD5 of the
  compact JSON `{"directories":[...],"files":[...]}` listing its subfolders' and files'
  `{"digest","name","size"}` entries, each list sorted by name, then the number of files and
  bytes at or under it. The archive's checksum is its root folder's digest (an empty archive
  has zarr_checksum's EMPTY_CHECKSUM).
- Fed in path (UTF-8 byte) order, a folder's contents are contiguous, so each folder is
  finished, hashed and forgotten as soon as a path leaves it: memory holds one open folder
  per level, not the tree (see StreamingZarrChecksum).
"""

from __future__ import annotations

import hashlib
import json
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import IO

from zarr_checksum.checksum import EMPTY_CHECKSUM

# A folder's file list is kept in memory up to this size, then on disk: zarr v2 keeps every
# chunk of an array in one folder, so a folder may list a million files.
SPOOL_BYTES = 8 * 1024 * 1024


class ZarrIngestError(Exception):
    """The archive holds something DANDI's checksum cannot describe (not an outage)."""


@dataclass(frozen=True)
class Digest:
    """A zarr checksum with the file count and size it covers."""

    checksum: str
    file_count: int
    size: int


def _fragment(digest: str, name: str, size: int) -> bytes:
    """One ZarrChecksum as zarr_checksum serializes it (`json.dumps(asdict(...))`, compact)."""
    return f'{{"digest":"{digest}","name":{json.dumps(name)},"size":{size}}}'.encode()


@dataclass
class _Folder:
    name: str
    files: IO[bytes]
    folders: list[tuple[str, bytes]] = field(default_factory=list)
    has_files: bool = False
    count: int = 0  # files in the folder and below
    size: int = 0


class StreamingZarrChecksum:
    """zarr_checksum's `ZarrChecksumTree`, fed files in path (UTF-8 byte) order.

    A folder's contents are contiguous in that order, so each folder is finished, hashed and
    forgotten as soon as a path leaves it: only the open folders (one per level) are held.
    Its files arrive in name order (code point order is UTF-8 byte order); its subfolders do
    not always ("a-b/x" sorts before "a/x"), so those are sorted when it is finished.
    """

    def __init__(self) -> None:
        self._open: list[_Folder] = [self._folder("")]
        self._last: str | None = None

    @staticmethod
    def _folder(name: str) -> _Folder:
        return _Folder(name, tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES))

    def add(self, path: str, md5: str, size: int) -> None:
        if self._last is not None and path <= self._last:
            raise ValueError(f"paths must come in increasing order: {path!r} after {self._last!r}")
        *folders, name = path.split("/")
        if not name or not all(folders):
            raise ZarrIngestError(f"{path!r} has an empty path segment")
        self._last = path
        depth = self._common_depth(folders)
        while len(self._open) > depth + 1:
            self._close_deepest()
        self._open.extend(self._folder(f) for f in folders[depth:])
        current = self._open[-1]
        current.files.write((b"," if current.has_files else b"") + _fragment(md5, name, size))
        current.has_files = True
        current.count, current.size = current.count + 1, current.size + size

    def _common_depth(self, folders: Sequence[str]) -> int:
        depth = 0
        for open_folder, folder in zip(self._open[1:], folders, strict=False):
            if open_folder.name != folder:
                break
            depth += 1
        return depth

    def _close_deepest(self) -> None:
        folder = self._open.pop()
        md5 = self._hash(folder)
        digest = f"{md5}-{folder.count}--{folder.size}"
        parent = self._open[-1]
        parent.folders.append((folder.name, _fragment(digest, folder.name, folder.size)))
        parent.count, parent.size = parent.count + folder.count, parent.size + folder.size

    @staticmethod
    def _hash(folder: _Folder) -> str:
        """md5 of `{"directories":[...],"files":[...]}`, as ZarrChecksumManifest hashes it."""
        md5 = hashlib.md5(usedforsecurity=False)
        folder.folders.sort(key=lambda item: item[0])
        md5.update(b'{"directories":[' + b",".join(f for _, f in folder.folders) + b'],"files":[')
        folder.files.seek(0)
        while chunk := folder.files.read(1024 * 1024):
            md5.update(chunk)
        folder.files.close()
        md5.update(b"]}")
        return md5.hexdigest()

    def digest(self) -> Digest:
        """The checksum of everything added; the tree cannot be used afterwards."""
        while len(self._open) > 1:
            self._close_deepest()
        root = self._open[0]
        if root.count == 0:
            root.files.close()
            return Digest(EMPTY_CHECKSUM, 0, 0)
        checksum = f"{self._hash(root)}-{root.count}--{root.size}"
        return Digest(checksum, root.count, root.size)

    def close(self) -> None:
        for folder in self._open:
            folder.files.close()

    def __enter__(self) -> StreamingZarrChecksum:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
