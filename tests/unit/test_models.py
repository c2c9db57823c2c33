"""Decoding tolerance of the response models and the original-photos request rules."""

from __future__ import annotations

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from ninepic_async import RequestValidationError
from ninepic_async.models import (
    EventDetails,
    ImagePage,
    OriginalPhotos,
    OriginalPhotosRequest,
    validate_original_photos_request,
)


def test_image_item_decodes_legacy_misspellings_into_the_right_fields_and_hides_them() -> None:
    body = (
        b'{"images":[{"image_id":"a","widht":3240,"height":4860,"thumbanail_url":"t",'
        b'"orginal_url":"o","surprise":[1,2]}],"pagination":null}'
    )
    page = msgspec.json.decode(body, type=ImagePage)
    image = page.images[0]
    assert (image.width, image.height) == (3240, 4860)
    assert image.thumbnail_url == "t"
    assert image.original_url == "o"
    for legacy in ("widht", "thumbanail_url", "orginal_url"):
        assert not hasattr(image, legacy) and legacy not in repr(image) and legacy not in dir(image)


def test_correct_spelling_wins_over_legacy() -> None:
    body = b'{"images":[{"image_id":"a","width":1,"widht":2}]}'
    image = msgspec.json.decode(body, type=ImagePage).images[0]
    assert image.width == 1


def test_pagination_camel_case_and_empty_result() -> None:
    body = (
        b'{"images":[],"pagination":{"total":0,"currentPage":0,"totalPages":0,'
        b'"hasNextPage":false,"hasPreviousPage":false,"page_size":32}}'
    )
    pagination = msgspec.json.decode(body, type=ImagePage).pagination
    assert pagination is not None
    assert (pagination.current_page, pagination.total_pages, pagination.has_next_page) == (0, 0, False)


def test_event_details_flat_legacy_body_without_new_flags() -> None:
    body = b'{"event_id":456,"event_name":"Run","bib_search":true,"selfie_search":false}'
    details = msgspec.json.decode(body, type=EventDetails)
    assert details.bib_search is True and details.video_search is None and details.timeline_search is None


def test_original_photos_with_failed_urls() -> None:
    body = (
        b'{"presigned_urls":[{"url":"https://s/x.jpg?X-Amz-Date=1","filename":"x.jpg"}],'
        b'"failed_urls":[{"image_id":"f","error":"File not found","path":"imgs/f.jpg"}],'
        b'"total_images":2,"successful_count":1,"failed_count":1,"identifier":null,"pagination":null}'
    )
    result = msgspec.json.decode(body, type=OriginalPhotos)
    assert result.failed_urls[0].path == "imgs/f.jpg"
    assert result.presigned_urls[0].filename == "x.jpg"


@pytest.mark.parametrize(
    ("method", "identifier", "page", "page_size", "field"),
    [
        ("name", "1", 1, None, "method"),
        (None, "1", 1, None, "method"),
        ("bib", ["1"], 1, None, "identifier"),
        ("bib", "", 1, None, "identifier"),
        ("selfie", "   ", 1, None, "identifier"),
        ("image_id", 5, 1, None, "identifier"),
        ("image_ids", "a", 1, None, "identifier"),
        ("image_ids", [], 1, None, "identifier"),
        ("image_ids", ["a", ""], 1, None, "identifier[1]"),
        ("image_ids", ["a", 3], 1, None, "identifier[1]"),
        ("bib", "1", 0, None, "page"),
        ("bib", "1", True, None, "page"),
        ("bib", "1", 1, 0, "page_size"),
        ("bib", "1", 1, 61, "page_size"),
        ("bib", "1", 1, 2.5, "page_size"),
    ],
)
def test_validation_names_the_field(
    method: object, identifier: object, page: object, page_size: object, field: str
) -> None:
    with pytest.raises(RequestValidationError) as caught:
        validate_original_photos_request(method, identifier, page, page_size)
    assert caught.value.field == field
    assert str(caught.value).startswith(f"{field}: ")
    assert isinstance(caught.value, ValueError)


@pytest.mark.parametrize(
    ("method", "identifier"),
    [("bib", "1234"), ("selfie", "ddc661a7"), ("image_id", "a4402318"), ("image_ids", ["a", "b"])],
)
def test_valid_requests_encode_as_documented(method: str, identifier: object) -> None:
    request = validate_original_photos_request(method, identifier, 1, 60)
    assert msgspec.json.decode(msgspec.json.encode(request)) == {"method": method, "identifier": identifier}


_methods = st.sampled_from(["bib", "selfie", "image_id", "image_ids"])
_anything = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=False),
    st.text(max_size=8),
    st.lists(st.one_of(st.text(max_size=8), st.integers(), st.none()), max_size=4),
)


@given(
    method=st.one_of(_methods, st.text(max_size=10)),
    identifier=_anything,
    page=_anything,
    page_size=_anything,
)
def test_validation_accepts_exactly_the_documented_shapes(
    method: str, identifier: object, page: object, page_size: object
) -> None:
    method_ok = method in ("bib", "selfie", "image_id", "image_ids")
    if method == "image_ids":
        ident_ok = (
            isinstance(identifier, list)
            and len(identifier) > 0
            and all(isinstance(i, str) and i.strip() for i in identifier)
        )
    else:
        ident_ok = isinstance(identifier, str) and bool(identifier.strip())
    page_ok = isinstance(page, int) and not isinstance(page, bool) and page >= 1
    size_ok = page_size is None or (
        isinstance(page_size, int) and not isinstance(page_size, bool) and 1 <= page_size <= 60
    )
    expected_ok = method_ok and ident_ok and page_ok and size_ok
    try:
        request = validate_original_photos_request(method, identifier, page, page_size)
    except RequestValidationError:
        assert not expected_ok
    else:
        assert expected_ok
        assert isinstance(request, OriginalPhotosRequest)
