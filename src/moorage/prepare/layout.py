"""Where ``moorage prepare`` puts things: key prefixes, derivative folders, the done marker.

Every original's derivatives live in one folder named after its storage key, under the
derivatives prefix (default ``moorage-derivatives``)::

    {derivatives_prefix}/{storage_key}/thumbnail.jpg
    {derivatives_prefix}/{storage_key}/sections/high/000000001.jpg|png
    {derivatives_prefix}/{storage_key}/sections/low/000000001.jpg
    {derivatives_prefix}/{storage_key}/frames_manifest.txt          (videos)
    {derivatives_prefix}/{storage_key}/moorage-prepare.json         (the done marker)

The folder follows from the key alone, so a sync can pair an original with its derivatives
without any list, and two originals never share a folder. On Azure, where keys start with the
container, the folder stays inside that container: ``{container}/{derivatives_prefix}/{rest}``.
"""

from __future__ import annotations

import re

__all__ = [
    "DEFAULT_DERIVATIVES_PREFIX",
    "MARKER_NAME",
    "OptionError",
    "check_prefix",
    "derivative_folder",
    "join",
]

DEFAULT_DERIVATIVES_PREFIX = "moorage-derivatives"
#: written last, once every derivative of a file is stored: what makes a file "present"
MARKER_NAME = "moorage-prepare.json"

_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")


class OptionError(ValueError):
    """A command-line value that cannot be used; ``option`` names it (``--key-prefix``)."""

    def __init__(self, option: str, message: str) -> None:
        super().__init__(f"{option}: {message}")
        self.option = option
        self.message = message


def join(*parts: str) -> str:
    """Join key parts with single slashes, dropping empty ones."""
    return "/".join(p.strip("/") for p in parts if p.strip("/"))


def check_prefix(value: str, *, option: str, bucket: str | None = None) -> str:
    """A key prefix inside a bucket, without its trailing slash; ``OptionError`` otherwise.

    Refused: a URL or scheme (``s3://bucket/x``), a leading ``/``, ``..`` or empty segments,
    backslashes and control characters, and (when ``bucket`` is given) the bucket's own name
    as the first segment, since keys exclude the bucket.
    """
    if _SCHEME.match(value):
        raise OptionError(
            option,
            f"{value!r} is a URL; give the key prefix inside the bucket "
            f"(for s3://bucket/x/y that is 'x/y').",
        )
    if value.startswith("/"):
        raise OptionError(option, f"{value!r} starts with '/'; key prefixes are relative.")
    if any(ord(c) < 32 or c == "\\" for c in value):
        raise OptionError(option, f"{value!r} holds a backslash or a control character.")
    text = value.rstrip("/")
    if not text:
        return ""
    segments = text.split("/")
    if ".." in segments or "." in segments:
        raise OptionError(option, f"{value!r} has a '.' or '..' segment.")
    if "" in segments:
        raise OptionError(option, f"{value!r} has an empty segment ('//').")
    if bucket and segments[0] == bucket:
        raise OptionError(
            option, f"{value!r} starts with the bucket name {bucket!r}; keys exclude the bucket."
        )
    return text


def derivative_folder(key: str, derivatives_prefix: str, *, container_in_key: bool = False) -> str:
    """The folder (a key prefix) holding the derivatives of the original at ``key``."""
    if container_in_key and "/" in key:
        container, rest = key.split("/", 1)
        return join(container, derivatives_prefix, rest)
    return join(derivatives_prefix, key)
