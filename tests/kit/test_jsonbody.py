"""The one JSON parser of request bodies names the field it cannot read."""

from __future__ import annotations

import json

import pytest

from moorage.errors import ValidationFailed
from moorage.kit.jsonbody import parse_json


class TestParseJson:
    def test_valid_json_is_parsed(self) -> None:
        assert parse_json(b'{"a": ["\\ud83d\\ude00", 1, 2.5, null]}') == {"a": ["😀", 1, 2.5, None]}

    @pytest.mark.parametrize(
        ("doc", "field"),
        [
            ({"items": [{"fps": 10**399}]}, "items.0.fps"),
            ({"items": [{"fps": -(10**399)}]}, "items.0.fps"),
            ({"a": {"b": "\udfff"}}, "a.b"),
            ({"a": ["ok", "x\ud800"]}, "a.1"),
            ({"a": {"\udfff": 1}}, "a"),
            ({"\udfff": 1}, "body"),
            ("\udfff", "body"),
        ],
    )
    def test_unrepresentable_values_name_the_field(self, doc, field) -> None:
        with pytest.raises(ValidationFailed) as info:
            parse_json(json.dumps(doc).encode())
        assert info.value.field == field
        assert info.value.status_code == 422
        info.value.message.encode()  # the message itself is valid UTF-8

    @pytest.mark.parametrize(
        "body", [b"{not json", b"\xff\xfe", b"[" * 5000 + b"]" * 5000, b'{"a": NaN}', b""]
    )
    def test_unreadable_bodies_name_the_body(self, body) -> None:
        with pytest.raises(ValidationFailed) as info:
            parse_json(body)
        assert info.value.field in ("body", "a")

    def test_a_bad_key_on_the_path_is_replaced_in_the_field(self) -> None:
        with pytest.raises(ValidationFailed) as info:
            parse_json(b'{"a\\udfff": {"b": 1e999}}')
        assert info.value.field == "a?.b"
