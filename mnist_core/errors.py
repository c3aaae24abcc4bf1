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


class InvalidModelNameError(MnistCoreError, ValueError):
    """A model name that is empty, too long, or could escape the models folder."""


class TrainingStopped(MnistCoreError):
    """A training run was asked to stop before its first epoch finished."""


class ModelProtectedError(MnistCoreError, PermissionError):
    """A shipped model, or another visitor's, that this caller may not change."""


class JobError(MnistCoreError, ValueError):
    """A training job that cannot be queued: a limit reached or a settings problem."""


class QueueUnavailableError(MnistCoreError):
    """The training queue cannot be opened, written or reached; the message says why in
    words for a visitor (the detail is in the server log)."""
