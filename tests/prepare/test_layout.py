from __future__ import annotations

import pytest

from moorage.prepare.layout import OptionError, check_prefix, derivative_folder


class TestCheckPrefix:
    @pytest.mark.parametrize(
        "value",
        ["s3://bucket/x", "gs://b/x", "https://acct.blob.core.windows.net/c", "az:c/x", "s3:x"],
    )
    def test_a_url_or_scheme_is_refused(self, value: str) -> None:
        with pytest.raises(OptionError) as caught:
            check_prefix(value, option="--key-prefix")
        assert caught.value.option == "--key-prefix"
        assert "URL" in caught.value.message

    @pytest.mark.parametrize(
        ("value", "words"),
        [
            ("/abs/x", "starts with '/'"),
            ("a/../b", "'..'"),
            ("..", "'..'"),
            ("a/./b", "'.'"),
            ("a//b", "empty segment"),
            ("a\\b", "backslash"),
            ("a\x00b", "control"),
        ],
    )
    def test_unsafe_prefixes_are_refused(self, value: str, words: str) -> None:
        with pytest.raises(OptionError, match="--prefix") as caught:
            check_prefix(value, option="--prefix")
        assert words in caught.value.message

    def test_the_bucket_name_as_first_segment_is_refused(self) -> None:
        with pytest.raises(OptionError, match="bucket name 'photos'"):
            check_prefix("photos/2024", option="--key-prefix", bucket="photos")
        assert check_prefix("photos2/2024", option="--key-prefix", bucket="photos") == (
            "photos2/2024"
        )

    @pytest.mark.parametrize(
        ("value", "expected"),
        [("", ""), ("a", "a"), ("a/b/", "a/b"), ("darwin/batch 1", "darwin/batch 1")],
    )
    def test_good_prefixes_lose_only_the_trailing_slash(self, value: str, expected: str) -> None:
        assert check_prefix(value, option="--key-prefix") == expected


class TestDerivativeFolder:
    def test_the_folder_is_the_key_under_the_prefix(self) -> None:
        assert derivative_folder("a/b.jpg", "moorage-derivatives") == "moorage-derivatives/a/b.jpg"

    def test_on_azure_it_stays_in_the_container(self) -> None:
        folder = derivative_folder("cont/a/b.jpg", "d", container_in_key=True)
        assert folder == "cont/d/a/b.jpg"
