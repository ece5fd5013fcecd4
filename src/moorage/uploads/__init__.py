"""Uploads: files a client sends (``register_upload``, a PUT, ``confirm``), then processed as
registered read-write items."""
