"""Specific, actionable errors raised by core and shown to people as plain messages."""


class LabError(Exception):
    """Base class: every message is meant to be read by a person and acted on."""


class InputError(LabError):
    """Input that cannot be ingested or searched (empty, binary, malformed, too large)."""


class CollectionError(LabError):
    """A collection that is missing, badly named, damaged or otherwise unusable."""


class ModelMismatchError(CollectionError):
    """A collection built with another model or dimension than the one loaded."""


class ModelNotFoundError(LabError):
    """The configured model folder or name cannot be loaded offline."""


class BusyError(LabError):
    """A bounded shared resource (the training demo) is in use; try again shortly."""


class EngineError(LabError):
    """An ingest engine (Ray) that cannot start, cannot be reached or failed in a worker."""
