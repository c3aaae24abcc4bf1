"""Typed errors raised by `mnist_core`; the app catches these and shows their message."""


class MnistCoreError(Exception):
    """Base class for every error `mnist_core` raises on purpose."""


class DatasetError(MnistCoreError):
    """The MNIST data could not be found or a file in it is damaged."""


class EmptyDrawingError(MnistCoreError, ValueError):
    """The image holds no (or almost no) ink, so there is nothing to classify."""


class ModelNotFoundError(MnistCoreError, LookupError):
    """No model of that name is in the store."""


class InvalidModelError(MnistCoreError):
    """A model file is corrupt or does not take 28x28 images and give 10 classes."""


class OnnxMissingError(InvalidModelError):
    """A stored model without an ONNX graph the web server can read it with (one
    trained before models were exported), or with one its card does not vouch for."""


class InvalidModelNameError(MnistCoreError, ValueError):
    """A model name that is empty, too long, or could escape the models folder."""


class TrainingStopped(MnistCoreError):
    """A training run was asked to stop before its first epoch finished."""


class ModelProtectedError(MnistCoreError, PermissionError):
    """A shipped model, or another visitor's, that this caller may not change."""


class JobError(MnistCoreError, ValueError):
    """A training job that cannot be queued: a limit reached or a settings problem."""


class OwnerError(MnistCoreError, ValueError):
    """An owner id that is not one the app makes (a hand-made or outdated one)."""


class CodeError(OwnerError):
    """A personal code that is malformed or belongs to nobody."""


class TooManyTriesError(CodeError):
    """Too many wrong personal codes from one client address: it must wait."""


class QueueUnavailableError(MnistCoreError):
    """The training queue cannot be opened, written or reached; the message says why in
    words for a visitor (the detail is in the server log)."""


class MissingOutputError(MnistCoreError, LookupError):
    """A model's graph was asked for an output it does not give (features of a graph
    exported before graphs had them)."""


class DrawingRefused(MnistCoreError, ValueError):
    """A drawing the drawings store will not keep or change: over a limit, malformed, or
    not one of the caller's own (which reads the same as one that does not exist)."""


class DrawingsFileError(MnistCoreError, ValueError):
    """A drawings file (`.npz`) that cannot be read or written: too large, not a zip of
    arrays, a field of the wrong type, shape or range; the message names which."""
