"""Helpers shared by every domain package."""
