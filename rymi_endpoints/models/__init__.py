"""The model catalog and the step that prepares models (see catalog.toml)."""

from .catalog import ModelEntry, ModelNotReady, default_model, load_catalog, resolve

__all__ = ["ModelEntry", "ModelNotReady", "default_model", "load_catalog", "resolve"]
