"""Syncs: register everything under a storage prefix, and keep the dataset in step with it."""
