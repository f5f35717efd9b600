"""Result and reference-image storage. Local files by default.

Keys are relative POSIX paths such as ``generated/<user>/<job>/result.png``; every key is
checked so that no key can leave the storage root.
"""

from __future__ import annotations

import io
import os
import shutil
from pathlib import Path, PurePosixPath

from genova.errors import NotFound

RESULTS = "generated/"  # the only prefix a signed link may serve
UNREADABLE = "generation failed: a stored file (such as a reference image) could not be read"


def result_key(*, user_id: str, job_id: str, name: str, extension: str) -> str:
    return f"{RESULTS}{user_id}/{job_id}/{name}.{extension}"


def references_prefix(*, user_id: str, job_id: str) -> str:
    return f"references/{user_id}/{job_id}"


def reference_key(*, user_id: str, job_id: str, index: int, extension: str) -> str:
    return f"{references_prefix(user_id=user_id, job_id=job_id)}/{index}.{extension}"


class LocalStorage:
    def __init__(self, root: str | os.PathLike):
        self.root = Path(root).resolve()

    def path_for(self, key: str) -> Path:
        """Absolute path of ``key``; refuses absolute keys, ``..`` and anything outside root."""
        pure = PurePosixPath(key)
        if not key or pure.is_absolute() or any(p in ("..", "") for p in pure.parts) or "\\" in key:
            raise NotFound(f"no stored file {key!r}")
        path = (self.root / pure).resolve()
        if self.root not in path.parents:
            raise NotFound(f"no stored file {key!r}")
        return path

    def save(self, key: str, data: bytes) -> int:
        """Write atomically (temp file + rename); returns the size in bytes."""
        return self.save_stream(key, io.BytesIO(data))

    def save_stream(self, key: str, stream) -> int:
        """Like ``save``, copying from a file object in chunks (never all in memory)."""
        path = self.path_for(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        with open(tmp, "wb") as out:
            shutil.copyfileobj(stream, out, 1024 * 1024)
            size = out.tell()
        os.replace(tmp, path)
        return size

    def read(self, key: str) -> bytes:
        return self.path_for(key).read_bytes()

    def exists(self, key: str) -> bool:
        try:
            return self.path_for(key).is_file()
        except NotFound:
            return False

    def delete_prefix(self, prefix: str) -> None:
        """Remove a whole folder such as ``references/<user>/<job>``."""
        path = self.path_for(prefix)
        if path.is_dir():
            shutil.rmtree(path, ignore_errors=True)
