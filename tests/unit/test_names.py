"""Unit tests of download/names.py: sanitising server filenames and unique, stable names."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ninepic_async._constants import MANIFEST_NAME, MAX_FILENAME_BYTES
from ninepic_async.download.names import NameAllocator, name_key, sanitize_filename

ID = "a4402318-0cf4-4e1e-b8e8-ac8e8f2fc244"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("IMG_0001.jpg", "IMG_0001.jpg"),
        ("../../x.jpg", "x.jpg"),
        ("/etc/passwd", "passwd"),
        ("a/b.jpg", "b.jpg"),
        ("..\\..\\win.jpg", "win.jpg"),
        ("..", f"{ID}.jpg"),
        (".", f"{ID}.jpg"),
        ("", f"{ID}.jpg"),
        (None, f"{ID}.jpg"),
        ("nul\x00byte.jpg", "nul_byte.jpg"),
        ("ctrl\x01\x1f\x7f\n.jpg", "ctrl____.jpg"),
        ("CON", "_CON"),
        ("nul.txt", "_nul.txt"),
        ("com1.tar.gz", "_com1.tar.gz"),
        (" spaced name .jpg ", "spaced name.jpg"),
        ("photo.jpg...", "photo.jpg"),
        (".hidden", "hidden"),
        ('a<b>c:d"e|f?g*.jpg', "a_b_c_d_e_f_g_.jpg"),
        ("x.part", "x_part.jpg"),
        (MANIFEST_NAME, "_" + MANIFEST_NAME),
    ],
)
def test_sanitize_examples(raw: str | None, expected: str) -> None:
    assert sanitize_filename(raw, ID) == expected


def test_long_names_are_cut_in_bytes_keeping_the_extension() -> None:
    name = sanitize_filename("é" * 300 + ".jpg", ID)
    assert len(name.encode()) <= MAX_FILENAME_BYTES
    assert name.endswith(".jpg")
    assert name.startswith("éé")


def test_fallback_id_is_sanitised_too() -> None:
    assert sanitize_filename(None, "../evil") == "evil.jpg"
    assert sanitize_filename(None, "..") == "photo.jpg"


@given(st.text(max_size=400), st.text(min_size=1, max_size=60))
def test_sanitised_names_are_always_one_safe_component(raw: str, image_id: str) -> None:
    name = sanitize_filename(raw, image_id)
    assert name and name not in (".", "..")
    assert "/" not in name and "\\" not in name and "\x00" not in name
    assert not any(ord(c) < 32 for c in name)
    assert len(name.encode()) <= MAX_FILENAME_BYTES
    assert not name.endswith((".", " "))
    assert not name.startswith(".")


def test_allocator_disambiguates_case_insensitively_and_deterministically() -> None:
    ids = [f"{n:08x}-0000-0000-0000-000000000000" for n in range(4)]
    names = ["Photo.JPG", "photo.jpg", "PHOTO.jpg", "photo.jpg"]

    def run() -> list[str]:
        allocator = NameAllocator()
        return [allocator.allocate(i, n) for i, n in zip(ids, names, strict=True)]

    first = run()
    assert first == run()
    assert first[0] == "Photo.JPG"
    assert first[1] == f"photo-{ids[1][:8]}.jpg"
    assert len({name_key(n) for n in first}) == 4


def test_allocator_same_id_same_name_and_reserved_names_win() -> None:
    allocator = NameAllocator()
    allocator.reserve("B", "x.jpg")
    assert allocator.allocate("A", "X.JPG") == "X-A.JPG"
    assert allocator.allocate("B", "other.jpg") == "x.jpg"  # a recorded name is reused
    assert allocator.name_of("B") == "x.jpg" and allocator.name_of("A") is None


def test_allocator_never_hands_out_the_manifest_name() -> None:
    allocator = NameAllocator()
    assert name_key(allocator.allocate("id1", "MANIFEST.JSONL")) != name_key(MANIFEST_NAME)


def test_unicode_normalisation_forms_clash() -> None:
    allocator = NameAllocator()
    first = allocator.allocate("id-one", "caf\u00e9.jpg")
    second = allocator.allocate("id-two", "cafe\u0301.jpg")
    assert name_key(first) != name_key(second)
