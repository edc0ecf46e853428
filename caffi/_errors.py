""":class:`CAError` and the C error handlers ``SEVCHK`` and ``ca_signal``.

``SEVCHK(status, message)`` is how C programs check a status: libca prints the
message and aborts the program unless the status is a success or a warning.
Here a warning is logged on the ``caffi`` logger and an error raises
:class:`CAError`, which carries the status.
"""
import logging

from ._ffi import ffi, lib
from . import macros as _m
from .constants import CA_K, ECA

__all__ = ["CAError", "SEVCHK", "signal"]

logger = logging.getLogger("caffi")
_ECA_VALUES = {member.value: member for member in ECA}


def _message(status):
    return ffi.string(lib.ca_message(int(status))).decode("utf-8", "replace")


class CAError(Exception):
    """A Channel Access operation failed.

    Attributes
    ----------
    status : ECA
        The CA status code.
    pvname : str or None
        The PV the operation was for.
    """

    def __init__(self, status, pvname=None, what=None):
        self.status = _ECA_VALUES.get(int(status), status)
        self.pvname = pvname
        text = _message(status)
        if what:
            text = "%s: %s" % (what, text)
        if pvname is not None:
            text = "%s: %s" % (pvname, text)
        Exception.__init__(self, text)


CAError.__module__ = "caffi"  # where users import it from


def signal(status, message=None):
    """Report a CA status as ``ca_signal`` does, the Python way.

    A success or informational status is returned; a warning is logged on the
    ``caffi`` logger and returned; an error, severe or fatal status raises
    :class:`CAError` (where libca prints it and aborts the program).

    Parameters
    ----------
    status : ECA or int
        A status returned by a CA function.
    message : str or None
        Context for the report (C's ``pCtxStr``).
    """
    status = _ECA_VALUES.get(int(status), status)
    severity = _m.CA_EXTRACT_MSG_SEVERITY(int(status))
    if severity in (CA_K.SUCCESS, CA_K.INFO):
        return status
    if severity == CA_K.WARNING:
        logger.warning("CA warning: %s%s", _message(status),
                       " (%s)" % message if message else "")
        return status
    raise CAError(status, None, message)


def SEVCHK(status, message=None):
    """Check a CA status as C's ``SEVCHK`` macro: :func:`signal` it unless it
    is a success.

    Returns the status; raises :class:`CAError` for an error, severe or fatal
    status; logs a warning.  As in C::

        SEVCHK(ca.create_context(True), "Unable to create a CA client context")
    """
    if int(status) & _m.CA_M_SUCCESS:
        return _ECA_VALUES.get(int(status), status)
    return signal(status, message)
