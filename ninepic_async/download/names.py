"""How downloaded photos are named on disk: every filename rule lives here.

The server's ``filename`` is only a suggestion. :func:`sanitize_filename` turns it into one
safe path component (no separators, no ``..``, no control or Unicode format characters,
no Windows reserved device names, no trailing dots or spaces, at most ``MAX_FILENAME_BYTES``
of UTF-8) and falls back to ``<image_id>.jpg``. :class:`NameAllocator` then guarantees that two photos
never share a name, comparing names case-insensitively (and after Unicode normalisation)
so nothing is overwritten on case-insensitive filesystems either. Disambiguation is
deterministic: ``-<first 8 characters of the image id>`` goes before the extension.
"""

from __future__ import annotations

import hashlib
import re
import string
import unicodedata
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from .._constants import LOCK_NAME, MANIFEST_NAME, MAX_FILENAME_BYTES, PART_SUFFIX
from .._exceptions import RequestValidationError
from .digests import DIGEST_BYTES, DigestSet
from .shard import is_own_name

__all__ = [
    "TEMPLATE_FIELDS",
    "NameAllocator",
    "NameTemplate",
    "fallback_filename",
    "name_key",
    "sanitize_filename",
    "sanitize_segment",
]

_WINDOWS_RESERVED = frozenset(
    {"CON", "PRN", "AUX", "NUL", "CONIN$", "CONOUT$"}
    | {f"COM{i}" for i in "0123456789¹²³"}
    | {f"LPT{i}" for i in "0123456789¹²³"}
)
_FORBIDDEN = re.compile(r'[\x00-\x1f\x7f<>:"/\\|?*]')
_MAX_EXT_BYTES = 16
_DEFAULT_EXT = ".jpg"


def name_key(name: str) -> str:
    """The key under which two names clash: case-folded and NFKC-normalised."""
    return unicodedata.normalize("NFKC", name).casefold()


def _truncate_utf8(text: str, max_bytes: int) -> str:
    """``text`` cut to at most ``max_bytes`` of UTF-8 without splitting a character."""
    encoded = text.encode("utf-8")
    if len(encoded) <= max_bytes:
        return text
    return encoded[: max(0, max_bytes)].decode("utf-8", errors="ignore")


def _split_ext(name: str) -> tuple[str, str]:
    """``(stem, ext)`` where ext is a short ``.xyz`` suffix or empty."""
    dot = name.rfind(".")
    if dot <= 0:
        return name, ""
    ext = name[dot:]
    if len(ext.encode("utf-8")) > _MAX_EXT_BYTES or " " in ext or ext == ".":
        return name, ""
    return name[:dot], ext


def _without_format_characters(text: str) -> str:
    """``text`` without Unicode format characters (bidi overrides such as U+202E, zero-width
    joiners, BOMs): invisible in a listing, they make a name look like another one."""
    if text.isascii():
        return text
    return "".join(c for c in text if unicodedata.category(c) != "Cf")


def _clean_component(text: str) -> str:
    text = unicodedata.normalize("NFC", _without_format_characters(text))
    # Keep only the last path component, whatever separator the server used.
    text = re.split(r"[/\\]", text)[-1]
    text = _FORBIDDEN.sub("_", text)
    # No hidden files or "..": leading dots and spaces go; Windows drops trailing ones.
    return text.strip(" .")


def _fit(stem: str, ext: str, max_bytes: int) -> str:
    """Join ``stem`` and ``ext`` within ``max_bytes``, shortening the stem (never to nothing).

    The result never ends in ``.part`` (any case): that is where another photo's partial
    file would live, however the name was cut or tagged.
    """
    room = max_bytes - len(ext.encode("utf-8"))
    if room < 1:
        name = _truncate_utf8(stem + ext, max_bytes).rstrip(" .") or "_"
    else:
        name = (_truncate_utf8(stem, room).rstrip(" .") or "_") + ext
    if name.lower().endswith(PART_SUFFIX):
        name = name[: -len(PART_SUFFIX)] + "_" + PART_SUFFIX[1:]
    return name


def _unreserved(stem: str) -> str:
    """``stem`` with ``_`` in front when it is a Windows device name (with any extension:
    ``nul.txt``, ``COM1.tar.gz``)."""
    return "_" + stem if stem.split(".")[0].rstrip(" ").upper() in _WINDOWS_RESERVED else stem


def fallback_filename(image_id: str, *, max_bytes: int = MAX_FILENAME_BYTES) -> str:
    """``<image_id>.jpg``, itself sanitised (an id taken from a URL is not trusted either)."""
    stem = _unreserved(_clean_component(image_id) or "photo")
    return _fit(stem, _DEFAULT_EXT, max_bytes)


def sanitize_filename(name: str | None, image_id: str, *, max_bytes: int = MAX_FILENAME_BYTES) -> str:
    """A safe single path component for the server's suggested ``name`` (fallback ``<image_id>.jpg``)."""
    cleaned = _clean_component(name) if name else ""
    if not cleaned or set(cleaned) <= {"_", ".", " "}:
        return fallback_filename(image_id, max_bytes=max_bytes)
    stem, ext = _split_ext(cleaned)
    stem = _unreserved(stem)
    if ext.lower() == PART_SUFFIX:
        # "x.part" would look like (and clash with) our own partial file of "x".
        stem, ext = stem + ext.replace(".", "_"), _DEFAULT_EXT
    result = _fit(stem, ext, max_bytes)
    if is_own_name(result):
        result = _fit("_" + stem, ext, max_bytes)
    return result


def sanitize_segment(text: str | None, fallback: str, *, max_bytes: int = MAX_FILENAME_BYTES) -> str:
    """One safe path component (a folder name) from server text, by the file-name rules above.

    Separators, ``..``, control and format characters, reserved device names and the
    download's own file names cannot survive; when nothing usable is left, ``fallback``
    (sanitised too) is used instead.
    """
    cleaned = _clean_component(text) if text else ""
    if not cleaned or set(cleaned) <= {"_", ".", " "}:
        cleaned = _clean_component(fallback) or "_"
    stem, ext = _split_ext(cleaned)
    result = _fit(_unreserved(stem), ext, max_bytes)
    if name_key(result) in (name_key(MANIFEST_NAME), name_key(LOCK_NAME)):
        result = _fit("_" + result, "", max_bytes)
    return result


TEMPLATE_FIELDS: dict[str, str] = {
    "filename": "the server's suggested file name, made safe (else <image_id>.jpg)",
    "stem": "{filename} without its extension",
    "ext": "the extension of {filename}, with its dot (.jpg)",
    "image_id": "the photo's image id",
    "event_id": "the event's id",
    "bib": "the BIB the photo was listed under (BIB selections only)",
}
"""The fields of a name template (``--name-template``) and what each one holds."""

_FORMATTER = string.Formatter()


@dataclass(frozen=True, slots=True)
class NameTemplate:
    """A file-name template such as ``{bib}/{filename}``: ``/`` separates folders.

    Every segment is rendered, then made safe by the rules above (a folder segment like a
    file name, the last segment as a file name), so no field value can add a separator, a
    ``..``, an absolute path or an empty segment: every name stays inside the destination.
    ``event_id`` is bound once per run (:meth:`bind`); the other fields come per photo.
    """

    text: str
    segments: tuple[str, ...]
    fields: frozenset[str]
    event_id: int | None = None

    @classmethod
    def parse(cls, text: object) -> NameTemplate:
        """The template of ``text``; :class:`RequestValidationError` (field ``name_template``)
        names what is wrong with it."""
        if not isinstance(text, str) or not text.strip():
            raise RequestValidationError("name_template", f"must be a non-empty string; got {text!r}")
        segments = tuple(text.split("/"))
        fields: set[str] = set()
        for segment in segments:
            if not segment.strip() or segment.strip() in (".", ".."):
                raise RequestValidationError(
                    "name_template", f"{text!r}: no empty, '.' or '..' folder and no leading '/'"
                )
            if "\\" in segment or "\x00" in segment:
                raise RequestValidationError("name_template", f"{text!r}: separate folders with '/' only")
            try:
                parsed = list(_FORMATTER.parse(segment))
            except ValueError as exc:
                raise RequestValidationError("name_template", f"{text!r}: {exc}") from None
            for _literal, name, spec, conversion in parsed:
                if name is None:
                    continue
                if name not in TEMPLATE_FIELDS or spec or conversion:
                    known = ", ".join("{" + f + "}" for f in TEMPLATE_FIELDS)
                    raise RequestValidationError(
                        "name_template", f"{text!r}: unknown field {{{name}}}; the fields are {known}"
                    )
                fields.add(name)
        return cls(text, segments, frozenset(fields))

    def bind(self, event_id: int) -> NameTemplate:
        """This template with ``{event_id}`` known (one per run)."""
        return NameTemplate(self.text, self.segments, self.fields, event_id)

    def render(self, image_id: str, server_name: str | None, bib: str | None = None) -> str:
        """The relative path (``/``-separated) of one photo; every segment already safe."""
        filename = sanitize_filename(server_name, image_id)
        stem, ext = _split_ext(filename)
        values = {
            "filename": filename,
            "stem": stem,
            "ext": ext,
            "image_id": image_id,
            "event_id": "" if self.event_id is None else str(self.event_id),
            "bib": bib or "",
        }
        values = {k: v.replace("/", "_").replace("\\", "_") for k, v in values.items()}
        *folders, last = (segment.format_map(values) for segment in self.segments)
        safe = [sanitize_segment(folder, "_") for folder in folders]
        return "/".join([*safe, sanitize_filename(last, image_id)])


def _with_tag(name: str, tag: str, max_bytes: int) -> str:
    stem, ext = _split_ext(name)
    suffix = f"-{tag}"
    room = max_bytes - len((suffix + ext).encode("utf-8"))
    stem = _truncate_utf8(stem, max(1, room)).rstrip(" .") or "_"
    return _fit(stem + suffix, ext, max_bytes)


def _clash_key(name: str) -> bytes:
    """A 16-byte digest of :func:`name_key` (names that clash on disk have equal keys)."""
    return hashlib.blake2b(name_key(name).encode("utf-8", "surrogatepass"), digest_size=DIGEST_BYTES).digest()


class NameAllocator:
    """Hands out unique, stable file names for image ids within one destination.

    Each id must be allocated at most once per run (the sources drop duplicate ids).

    Names already recorded (a previous run's manifest) are registered with :meth:`reserve`
    first; :meth:`allocate` then gives each new id its sanitised name, or, when another
    id holds that name (compared case-insensitively), the name with ``-<id prefix>``,
    a longer prefix, the whole id, and finally a counter appended.
    """

    def __init__(self, *, max_bytes: int = MAX_FILENAME_BYTES, template: NameTemplate | None = None) -> None:
        # Memory per photo matters at 100k photos: fresh names keep only their clash key;
        # only names recorded by a previous run are kept per id (they must be reused).
        self._taken = DigestSet()
        """Digests of the ``name_key`` of every name in use (32 bytes each, not the keys)."""
        for own in (MANIFEST_NAME, LOCK_NAME):
            self._taken.add(_clash_key(own))
        self._reserved: dict[str, str] = {}
        self._max_bytes = max_bytes
        self._template = template

    def reserve(self, image_id: str, name: str) -> None:
        """Record that ``image_id`` owns ``name`` (from a previous run)."""
        self._taken.add(_clash_key(name))
        self._reserved[image_id] = name

    def name_of(self, image_id: str) -> str | None:
        """The name a previous run gave ``image_id``, if any."""
        return self._reserved.get(image_id)

    def allocate(self, image_id: str, server_name: str | None, bib: str | None = None) -> str:
        """The file name for ``image_id``: its recorded one, else a fresh unique one (a relative
        path when a template has folders)."""
        known = self._reserved.get(image_id)
        if known is not None:
            return known
        return self._first_free(image_id, server_name, None, bib)

    def relocate(
        self,
        image_id: str,
        server_name: str | None,
        occupied: Callable[[str], bool],
        bib: str | None = None,
    ) -> str:
        """Another fresh name for ``image_id``, also avoiding names ``occupied`` says are in use.

        For a photo whose allocated name turned out to hold a file that is not ours (never
        overwritten): the next candidate in the usual order that is free on disk too.
        """
        return self._first_free(image_id, server_name, occupied, bib)

    def _candidates(self, image_id: str, server_name: str | None, bib: str | None) -> Iterator[str]:
        folder = ""
        if self._template is None:
            base = sanitize_filename(server_name, image_id, max_bytes=self._max_bytes)
        else:
            folder, slash, base = self._template.render(image_id, server_name, bib).rpartition("/")
            folder += slash
        yield folder + base
        # Only a clash gets this far (the tag is a second sanitising pass per photo otherwise).
        tag_source = fallback_filename(image_id, max_bytes=self._max_bytes)[: -len(_DEFAULT_EXT)] or "id"
        yield folder + _with_tag(base, tag_source[:8], self._max_bytes)
        yield folder + _with_tag(base, tag_source[:16], self._max_bytes)
        yield folder + _with_tag(base, tag_source, self._max_bytes)
        counter = 2
        while True:
            yield folder + _with_tag(base, f"{tag_source[:8]}-{counter}", self._max_bytes)
            counter += 1

    def _first_free(
        self, image_id: str, server_name: str | None, occupied: Callable[[str], bool] | None, bib: str | None
    ) -> str:
        for candidate in self._candidates(image_id, server_name, bib):
            key = _clash_key(candidate)
            if key in self._taken or (occupied is not None and occupied(candidate)):
                continue
            self._taken.add(key)
            return candidate
        raise AssertionError("unreachable: the candidates never end")  # pragma: no cover
