"""Each registered check's title is the whole first paragraph of its
docstring, so no title stops mid-sentence where a line happened to wrap."""

from __future__ import annotations

import pytest

from compliance.checks import registry

# Words a sentence does not end on: a title ending with one was cut short.
DANGLING = frozenset(
    "a an the and or of to for in on at by with from than that is are be as "
    "its their every each no not more less".split()
)


def _first_paragraph(doc: str) -> str:
    return " ".join(doc.strip().split("\n\n")[0].split())


@pytest.mark.parametrize("spec", registry.registered().values(), ids=lambda spec: spec.id)
def test_check_title_is_its_docstring_s_whole_first_paragraph(
    spec: registry.CheckSpec,
) -> None:
    assert spec.function.__doc__, spec.id
    assert spec.title == _first_paragraph(spec.function.__doc__)
    last_word = spec.title.rstrip(".").split()[-1].lower()
    assert spec.title.endswith(".") or last_word not in DANGLING, spec.title
