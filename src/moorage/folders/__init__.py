"""Where a team's ``local`` storages may live: its own area in each root, and operator grants."""

from moorage.folders.service import FolderService, folder_json, folder_service

__all__ = ["FolderService", "folder_json", "folder_service"]
