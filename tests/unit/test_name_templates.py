"""Name templates alone: what is refused, and how each rendered segment is made safe."""

from __future__ import annotations

import pytest

from ninepic_async import RequestValidationError
from ninepic_async.download.names import TEMPLATE_FIELDS, NameTemplate


@pytest.mark.parametrize(
    "template",
    [
        "",
        "/{filename}",
        "a//{filename}",
        "../{filename}",
        "a/./{filename}",
        "{nope}",
        "{filename!r}",
        "a\\{filename}",
        "{",
    ],
)
def test_bad_templates_are_refused(template: str) -> None:
    with pytest.raises(RequestValidationError) as caught:
        NameTemplate.parse(template)
    assert caught.value.field == "name_template"


@pytest.mark.parametrize(
    ("server_name", "bib", "expected"),
    [
        ("../../etc/passwd", "../..", "_/passwd"),
        ("a/b.jpg", "", "_/b.jpg"),
        ("", "F1", "F1/IMG.jpg"),
        ("..", "/", "_/IMG.jpg"),
        ("x.part", "CON", "_CON/x_part.jpg"),
    ],
)
def test_every_segment_is_made_safe(server_name: str, bib: str, expected: str) -> None:
    assert NameTemplate.parse("{bib}/{filename}").render("IMG", server_name, bib) == expected


def test_fields_are_known_and_event_id_is_bound_per_run() -> None:
    template = NameTemplate.parse("{event_id}/{stem}-{image_id}{ext}")
    assert template.fields == {"event_id", "stem", "image_id", "ext"} <= set(TEMPLATE_FIELDS)
    assert template.bind(456).render("abc", "IMG 1.JPG") == "456/IMG 1-abc.JPG"
