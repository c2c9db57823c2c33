"""What ``ninepic download`` selects, read and checked before any request: several ``--bib``, ids
from ``--image-ids-from FILE|-``, and ``--selfie`` as a request id, an image FILE or ``-`` (stdin).

A selfie image is only uploaded by :func:`resolve_selfie`, once the client exists: its Face
Search gives the request id the download then uses (and the user is told which).
"""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path
from typing import IO, TYPE_CHECKING

from .errors import CliError
from .runtime import Runtime

if TYPE_CHECKING:
    from ..client import NinePicClient

__all__ = ["SelfieImage", "check_image_ids", "read_image_ids", "read_selfie", "resolve_selfie"]

_IMAGE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,199}")
"""What an image id may look like (the API's are UUIDs; anything with spaces, slashes or
control characters is a mistake in the list, not an id)."""
_IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".webp", ".heic", ".heif", ".gif", ".bmp"})


def check_image_ids(values: list[str]) -> list[str]:
    """``--image-id`` values, held to the rule of an ``--image-ids-from`` line, before any request."""
    for value in values:
        if value.strip() and not _IMAGE_ID.fullmatch(value.strip()):
            hint = ": repeat --image-id for each id" if "," in value else ""
            raise CliError(f"--image-id {value!r} is not an image id{hint}")
    return values


def read_image_ids(source: str, stdin: IO[str] | None = None) -> list[str]:
    """The image ids of ``source`` (a file, or ``-`` for stdin): one a line, blank lines ignored.

    A line that is not an image id is one error naming its line number.
    """
    if not source.strip():
        raise CliError("--image-ids-from is empty (is a shell variable unset?): give a file, or - for stdin")
    name = "stdin" if source == "-" else repr(source)
    if source == "-":
        text = (stdin or sys.stdin).read()
    else:
        try:
            text = Path(source).expanduser().read_text(encoding="utf-8")
        except UnicodeDecodeError:
            raise CliError(f"--image-ids-from {name}: not a UTF-8 text file") from None
        except OSError as exc:
            raise CliError(f"--image-ids-from {name}: cannot read it ({exc.strerror or exc})") from None
    ids: list[str] = []
    for number, line in enumerate(text.splitlines(), 1):
        value = line.strip()
        if not value:
            continue
        if not _IMAGE_ID.fullmatch(value):
            shown = value if len(value) <= 60 else value[:57] + "..."
            raise CliError(f"--image-ids-from {name} line {number}: {shown!r} is not an image id")
        ids.append(value)
    if not ids:
        raise CliError(f"--image-ids-from {name} holds no image ids (one a line)")
    return ids


class SelfieImage:
    """A selfie image to search with before downloading: its bytes and where they came from."""

    def __init__(self, content: bytes, origin: str) -> None:
        self.content = content
        self.origin = origin

    def __repr__(self) -> str:
        return f"SelfieImage({self.origin}, {len(self.content)} bytes)"


def read_selfie(value: str, stdin: IO[bytes] | None = None) -> str | SelfieImage:
    """``--selfie``: ``-`` reads an image from stdin, an existing file is an image, anything
    else is a Face Search request id (a missing file that looks like an image is an error)."""
    text = value.strip()
    if text == "-":
        source = stdin or sys.stdin.buffer
        if source.isatty():  # reading an image from the keyboard would wait forever
            raise CliError(
                "--selfie -: stdin is a terminal; pipe the image in "
                "(cat me.jpg | ninepic download --selfie - ...)"
            )
        content = source.read()
        if not content:
            raise CliError("--selfie -: stdin is empty (pipe a selfie image in, or give a request id)")
        return SelfieImage(content, "stdin")
    path = Path(text).expanduser()
    if path.is_file():
        if not os.access(path, os.R_OK):
            raise CliError(f"--selfie {value!r}: the file is not readable")
        content = path.read_bytes()
        if not content:
            raise CliError(f"--selfie {value!r}: the file is empty (the API rejects empty uploads)")
        return SelfieImage(content, repr(str(path)))
    if path.exists() or path.suffix.lower() in _IMAGE_SUFFIXES or os.sep in text:
        raise CliError(f"--selfie {value!r}: no such file (give an image file, - for stdin, or a request_id)")
    return text


async def resolve_selfie(rt: Runtime, client: NinePicClient, event: int, selfie: SelfieImage) -> str:
    """Run the Face Search of ``selfie`` and return its request id (said on stderr)."""
    rt.about_event(event, client)
    found = await client.face_search(event, selfie.content)
    if not found.request_id:
        raise CliError("the face search of the selfie returned no request_id; nothing to download", 3)
    matches = found.pagination.total if found.pagination is not None else len(found.images)
    rt.output.note(
        f"face search of the selfie from {selfie.origin}: request_id {found.request_id} "
        f"({matches} matching photo(s)); reuse it with --selfie {found.request_id}"
    )
    return found.request_id
