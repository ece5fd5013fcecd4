"""Background processing: dispatch after commit, actors, reconciler."""
