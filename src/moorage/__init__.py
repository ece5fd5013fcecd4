"""moorage: register files that already live in your storage as dataset items."""

__version__ = "0.1.0"
