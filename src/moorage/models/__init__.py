"""Every ORM model; importing this package registers them all on ``Base.metadata``."""

from moorage.models.base import Base
from moorage.models.cleanup import Cleanup
from moorage.models.dataset import Dataset, Folder
from moorage.models.item import Item, ItemTag, Section, Slot
from moorage.models.job import Job
from moorage.models.release import Release
from moorage.models.storage import StorageConfig
from moorage.models.sync import Sync, SyncKey
from moorage.models.team import ApiKey, RateWindow, Team, TeamFolder
from moorage.models.upload import Upload
from moorage.models.web import WebSession

__all__ = [
    "ApiKey",
    "Base",
    "Cleanup",
    "Dataset",
    "Folder",
    "Item",
    "ItemTag",
    "Job",
    "RateWindow",
    "Release",
    "Section",
    "Slot",
    "StorageConfig",
    "Sync",
    "SyncKey",
    "Team",
    "TeamFolder",
    "Upload",
    "WebSession",
]
