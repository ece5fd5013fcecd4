"""Releases (Darwin exports) of a dataset: the zip of Darwin JSON 2.0 files darwin-py pulls,
and the capability token that serves the zip and its items' files."""
