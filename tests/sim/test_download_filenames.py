"""Hostile filenames from the server never escape, clash or overwrite."""

from __future__ import annotations

import hashlib
import os
import unicodedata
from pathlib import Path

from helpers.clients import new_client
from helpers.sim import SimFactory, check_dest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from ninepic_async._constants import LOCK_NAME, MANIFEST_NAME, MAX_FILENAME_BYTES, PART_SUFFIX
from ninepic_async.download import download_originals
from ninepic_async.download.names import NameAllocator, name_key, sanitize_filename
from ninepic_async.testing.world import HOSTILE_FILENAMES

_RESERVED = {"CON", "PRN", "AUX", "NUL", "CONIN$", "CONOUT$"} | {
    f"{p}{i}" for p in ("COM", "LPT") for i in "0123456789¹²³"
}

# Names built from the pieces that break naive sanitisers, plus arbitrary text.
_pieces = st.sampled_from(
    [
        "..",
        ".",
        "/",
        "\\",
        "\x00",
        "\n",
        "\x7f",
        " ",
        "CON",
        "nul",
        "com1",
        "LPT¹",
        ".part",
        ".PART",
        "manifest.jsonl",
        LOCK_NAME,
        "a",
        "é",
        "e\u0301",
        "\u202e",
        "\ufeff",
        ":",
        "*",
        "?",
        '"',
        "<",
        ">",
        "|",
        ".jpg",
        "x" * 120,
        "é" * 70,
        "\U0001f600",
    ]
)
# A name cut to MAX_FILENAME_BYTES right after an inner ".part" (its real extension too long to keep).
_cut_at_part = st.builds(
    lambda n, suffix, tail: "a" * n + suffix + tail,
    st.integers(MAX_FILENAME_BYTES - 25, MAX_FILENAME_BYTES),
    st.sampled_from([".part", ".PART", ".Part"]),
    st.text(alphabet="bcdxyz", min_size=12, max_size=40),
)
hostile_names = st.one_of(
    _cut_at_part,
    st.text(max_size=400),
    st.lists(_pieces, max_size=12).map("".join),
    st.tuples(st.text(max_size=250), _pieces, st.text(max_size=30)).map("".join),
)
image_ids = st.one_of(
    st.uuids().map(str), st.text(min_size=1, max_size=60), st.lists(_pieces, min_size=1).map("".join)
)


def assert_one_safe_component(name: str, root: Path) -> None:
    assert name and name not in (".", "..")
    assert os.path.basename(name) == name and "/" not in name and "\\" not in name
    assert not any(ord(c) < 32 or ord(c) == 127 or c in '<>:"|?*' for c in name)
    assert len(name.encode("utf-8")) <= MAX_FILENAME_BYTES
    assert not name.startswith(".") and not name.endswith((".", " "))
    assert name.split(".")[0].rstrip(" ").upper() not in _RESERVED
    assert not name.lower().endswith(PART_SUFFIX)  # would be another photo's partial file
    assert name_key(name) not in (name_key(MANIFEST_NAME), name_key(LOCK_NAME))
    assert (root / name).resolve().parent == root.resolve()


@settings(max_examples=400, deadline=None)
@given(hostile_names, image_ids)
@example("a" * (MAX_FILENAME_BYTES - 5) + ".part" + "b" * 20, "id")  # was cut to "aaa….part"
@example(None, "CON")  # the fallback "<id>.jpg" of a device-name id
def test_sanitise_gives_one_safe_component_for_any_input(raw: str | None, image_id: str) -> None:
    assert_one_safe_component(sanitize_filename(raw, image_id), Path("/srv/dest"))


@settings(max_examples=150, deadline=None)
@given(
    st.lists(st.tuples(image_ids, st.one_of(st.none(), hostile_names)), max_size=25, unique_by=lambda t: t[0])
)
def test_allocator_names_are_unique_safe_and_stable(pairs: list[tuple[str, str | None]]) -> None:
    first = NameAllocator()
    names = [first.allocate(i, n) for i, n in pairs]
    for name in names:
        assert_one_safe_component(name, Path("/srv/dest"))
    keys = [name_key(n) for n in names]
    assert len(set(keys)) == len(keys)
    # No name is another's partial file, case-insensitively.
    assert not {k + PART_SUFFIX for k in keys} & set(keys)
    # The same order gives the same names; a rerun that reserves them first keeps them.
    again = NameAllocator()
    assert [again.allocate(i, n) for i, n in pairs] == names
    rerun = NameAllocator()
    for (image_id, _), name in zip(pairs, names, strict=True):
        rerun.reserve(image_id, name)
    assert [rerun.allocate(i, "anything-else.jpg") for i, _ in pairs] == names


def test_unicode_forms_and_case_clash_in_name_key() -> None:
    assert name_key("caf\u00e9.jpg") == name_key(unicodedata.normalize("NFD", "caf\u00e9.jpg"))
    assert name_key("Photo.JPG") == name_key("photo.jpg")


def tree(root: Path) -> dict[str, bytes]:
    found: dict[str, bytes] = {}
    for folder, _, files in os.walk(root):
        for file in files:
            path = Path(folder, file)
            found[str(path.relative_to(root))] = path.read_bytes()
    return found


async def test_hostile_server_filenames_stay_inside_dest_overwrite_nothing_and_map_stably(
    rsim: SimFactory, tmp_path: Path
) -> None:
    sim = await rsim(photo_count=len(HOSTILE_FILENAMES) * 3, hostile_filenames=True, seed=401)
    served_names = {p.filename for p in sim.world.photos}
    assert set(HOSTILE_FILENAMES) <= served_names  # every hostile name is in play
    etc_passwd = hashlib.sha256(Path("/etc/passwd").read_bytes()).hexdigest()
    dest = tmp_path / "deep" / "dest"
    dest.mkdir(parents=True)
    # A file of the user's own at a name a hostile entry sanitises to ("/etc/passwd" -> "passwd").
    (dest / "passwd").write_bytes(b"user data")
    (tmp_path / "x.jpg").write_bytes(b"outside")
    outside_before = {k: v for k, v in tree(tmp_path).items() if not k.startswith("deep/dest/")}
    async with new_client(sim) as client:
        report = await download_originals(client, sim.event_id, dest, whole_event=True, concurrency=6)
    assert (report.downloaded, report.failed) == (len(sim.world.photos), 0)
    assert {k: v for k, v in tree(tmp_path).items() if not k.startswith("deep/dest/")} == outside_before
    assert hashlib.sha256(Path("/etc/passwd").read_bytes()).hexdigest() == etc_passwd
    assert (dest / "passwd").read_bytes() == b"user data"
    (dest / "passwd").rename(tmp_path / "passwd-aside")
    files = check_dest(sim, dest)  # every photo intact, no clash, nothing but photos + manifest
    for name in files.values():
        assert_one_safe_component(name, dest)
    # A rerun after losing some files and leaving a .part maps every id to the same file.
    victims = list(files)[:4]
    for image_id in victims[:3]:
        (dest / files[image_id]).unlink()
    last = dest / files[victims[3]]
    last.rename(last.with_name(last.name + PART_SUFFIX))
    os.truncate(last.with_name(last.name + PART_SUFFIX), 100)
    async with new_client(sim) as client:
        again = await download_originals(client, sim.event_id, dest, whole_event=True, concurrency=3)
    assert (again.downloaded, again.skipped) == (4, len(files) - 4)
    assert check_dest(sim, dest) == files
    # And a fresh destination gets the very same names (deterministic, order-independent of runs).
    async with new_client(sim) as client:
        await download_originals(client, sim.event_id, tmp_path / "fresh", whole_event=True, concurrency=1)
    fresh = check_dest(sim, tmp_path / "fresh")
    moved = {i for i in files if files[i] != fresh[i]}
    assert len(moved) == 1 and files[moved.pop()].startswith("passwd-")  # only the one the user's file held
