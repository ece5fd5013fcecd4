"""Which strings both databases store alike, as functions and as pydantic types."""

from __future__ import annotations

import pytest
from pydantic import BaseModel, ValidationError

from moorage.kit.schemas import NameStr, SafeJson, SafeStr
from moorage.kit.text import find_unsafe, unsafe_text


class Model(BaseModel):
    text: SafeStr = ""
    name: NameStr = ""
    data: SafeJson = {}


class TestUnsafeText:
    @pytest.mark.parametrize("value", ["plain", "tab\tand\nnewline", "émoji 😀", ""])
    def test_free_text_keeps_line_breaks(self, value) -> None:
        assert unsafe_text(value) is None

    @pytest.mark.parametrize("value", ["a\x00b", "\udfff", "x\ud800y"])
    def test_nul_and_surrogates_are_refused_everywhere(self, value) -> None:
        assert unsafe_text(value) is not None
        assert unsafe_text(value, single_line=True) is not None

    @pytest.mark.parametrize("value", ["a\nb", "a\r\n", "\t", "\x1b[0m", "\x7f", "\x85", "\x9f"])
    def test_names_refuse_control_characters(self, value) -> None:
        assert unsafe_text(value) is None
        assert "control characters" in (unsafe_text(value, single_line=True) or "")

    def test_find_unsafe_names_the_path(self) -> None:
        assert find_unsafe({"a": [{"b": "ok"}, {"c": "\x00"}]}) == ("a.1.c", unsafe_text("\x00"))
        assert find_unsafe({"a": {"\x00": 1}})[0] == "a"  # type: ignore[index]
        assert find_unsafe({"a": [1, 2.5, None, True, "fine"]}) is None


class TestTypes:
    @pytest.mark.parametrize(
        ("fields", "loc"),
        [
            ({"text": "a\x00"}, ("text",)),
            ({"name": "a\nb"}, ("name",)),
            ({"data": {"k": ["\x00"]}}, ("data",)),
        ],
    )
    def test_refused_naming_the_field(self, fields, loc) -> None:
        with pytest.raises(ValidationError) as info:
            Model(**fields)
        (error,) = info.value.errors()
        assert error["loc"] == loc and error["type"] == "invalid_characters"

    def test_accepted(self) -> None:
        m = Model(text="multi\nline", name="Darwin Py", data={"k": ["v", {"n": 1}]})
        assert m.text == "multi\nline"
