"""Exceptions of :mod:`caffi.protocol`.

Every exception raised on purpose derives from :class:`CaprotoError`.
Protocol violations are split by who committed them, as in h11:
:class:`LocalProtocolError` when *we* are asked to send something the
protocol does not allow, :class:`RemoteProtocolError` when the *peer* sent
it (bytes that cannot be decoded included).  The ``Caproto*Error`` classes
also derive from the matching built-in exception, so ``except ValueError``
keeps working.
"""

__all__ = [
    "CaprotoError", "ProtocolError", "LocalProtocolError", "RemoteProtocolError",
    "CaprotoKeyError", "CaprotoValueError", "CaprotoTypeError", "CaprotoConversionError",
    "CaprotoEnvironmentSetupError", "CaprotoNotImplementedError", "Forbidden",
    "CannotExceedLimits",
]


class CaprotoError(Exception):
    """Base class of the exceptions of :mod:`caffi.protocol`."""


class ProtocolError(CaprotoError):
    """A violation of the Channel Access protocol."""


class LocalProtocolError(ProtocolError):
    """We were asked to send something the protocol does not allow."""


class RemoteProtocolError(ProtocolError):
    """The peer sent something the protocol does not allow (or garbage)."""


class CaprotoKeyError(KeyError, CaprotoError):
    pass


class CaprotoValueError(ValueError, CaprotoError):
    pass


class CaprotoTypeError(TypeError, CaprotoError):
    pass


class CaprotoNotImplementedError(NotImplementedError, CaprotoError):
    pass


class CaprotoConversionError(CaprotoValueError):
    """A value cannot be converted between DBR types (the IOC answers such a
    request with ``ECA_GETFAIL`` or ``ECA_PUTFAIL``)."""


class CaprotoEnvironmentSetupError(CaprotoValueError):
    """An ``EPICS_*`` environment variable cannot be parsed."""


class Forbidden(CaprotoError):
    """The client may not do this (access rights)."""


class CannotExceedLimits(CaprotoValueError):
    """A value outside the control limits was written."""
