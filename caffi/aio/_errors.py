"""The failures of caffi.aio, as aioca reports them, and its timeout forms.

:class:`CANothing` is both a value (``throw=False`` results, a successful
``caput``) and an exception.  :class:`CAException` and :class:`Disconnected`
subclass the exceptions of ``epicscorelibs.ca.cadef`` that aioca raises, so an
``except cadef.CAException`` written for aioca catches ours; they are built
from a status code or a name alone (the epicscorelibs classes ask libca
through ctypes for the text).
"""
import time

from epicscorelibs.ca import cadef as _cadef

from .. import ca
from ..constants import ECA

__all__ = ["CANothing", "CAException", "Disconnected", "ECA_NORMAL", "ECA_TIMEOUT",
           "ECA_DISCONN", "delay_of", "as_nothing", "CA_FAILURES"]

ECA_NORMAL = int(ECA.NORMAL)
ECA_TIMEOUT = int(ECA.TIMEOUT)
ECA_DISCONN = int(ECA.DISCONN)


class CANothing(Exception):
    """No value: the outcome of a put or connect, or a failed get, with its status.

    Parameters
    ----------
    name : str
        The PV name (or ``"Multiple PVs"`` for a timeout of a list).
    errorcode : int
        The ECA status code; ``ECA_NORMAL`` (1) means success.

    Attributes
    ----------
    name : str
    ok : bool
        True for ``ECA_NORMAL``; the object is truthy exactly then.
    errorcode : int
    """

    def __init__(self, name, errorcode=ECA_NORMAL):
        Exception.__init__(self, name, int(errorcode))
        self.name = name
        self.ok = errorcode == ECA_NORMAL
        self.errorcode = int(errorcode)

    def __repr__(self):
        return "CANothing(%r, %d)" % (self.name, self.errorcode)

    def __str__(self):
        return "%s: %s" % (self.name, ca.message(self.errorcode))

    def __bool__(self):
        return self.ok


class CAException(_cadef.CAException):
    """libca refused a request: ``status`` is the ECA code, ``function`` the
    name of the libca function (a subclass of ``epicscorelibs.ca.cadef.CAException``)."""

    def __init__(self, status, function):
        Exception.__init__(self, int(status), function)
        self.status = int(status)
        self.function = function

    def __str__(self):
        return "%s calling %s" % (ca.message(self.status), self.function)


class Disconnected(_cadef.Disconnected):
    """The channel was not connected when the request was made (a subclass of
    ``epicscorelibs.ca.cadef.Disconnected``)."""

    def __init__(self, name):
        Exception.__init__(self, name)
        self.name = name


#: the exceptions that ``throw=False`` turns into :class:`CANothing` values
CA_FAILURES = (CANothing, _cadef.CAException, _cadef.Disconnected)


def as_nothing(exc, name):
    """The :class:`CANothing` value standing for the CA failure *exc* of PV *name*."""
    if isinstance(exc, CANothing):
        return exc
    if isinstance(exc, _cadef.Disconnected):
        return CANothing(name, ECA_DISCONN)
    return CANothing(name, exc.status)


def delay_of(timeout):
    """Seconds from now until an aioca *timeout* expires, or None for never.

    *timeout* is None (wait for ever), seconds from now, or a 1-tuple holding
    an absolute ``time.time()`` deadline.
    """
    if timeout is None:
        return None
    if isinstance(timeout, tuple):
        (absolute,) = timeout
        return absolute - time.time()
    return float(timeout)
