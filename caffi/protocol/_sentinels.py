"""Named constants of the state machines: roles, directions and states.

They are enum members with a bare ``repr`` (``CLIENT``, ``CONNECTED``), so
the tables in :mod:`caffi.protocol._state` read like the protocol text.
"""
import enum

__all__ = [
    "Role", "Direction", "States", "CLIENT", "SERVER", "REQUEST", "RESPONSE",
    "SEND_SEARCH_REQUEST", "AWAIT_SEARCH_RESPONSE", "SEND_SEARCH_RESPONSE",
    "SEND_VERSION_REQUEST", "AWAIT_VERSION_RESPONSE", "SEND_VERSION_RESPONSE",
    "SEND_CREATE_CHAN_REQUEST", "AWAIT_CREATE_CHAN_RESPONSE", "SEND_CREATE_CHAN_RESPONSE",
    "CONNECTED", "MUST_CLOSE", "CLOSED", "IDLE", "FAILED", "DISCONNECTED", "NEED_DATA",
]


class _Sentinel(enum.Enum):
    def __repr__(self):
        return self.name

    __str__ = __repr__
    # members compare by identity; hashing by identity keeps table look-ups
    # (one or more per message) out of Enum.__hash__
    __hash__ = object.__hash__


class Role(_Sentinel):
    CLIENT = 1
    SERVER = 2

    @property
    def other(self) -> "Role":
        return SERVER if self is CLIENT else CLIENT


class Direction(_Sentinel):
    REQUEST = 1
    RESPONSE = 2


class States(_Sentinel):
    SEND_SEARCH_REQUEST = 1
    AWAIT_SEARCH_RESPONSE = 2
    SEND_SEARCH_RESPONSE = 3
    SEND_VERSION_REQUEST = 4
    AWAIT_VERSION_RESPONSE = 5
    SEND_VERSION_RESPONSE = 6
    SEND_CREATE_CHAN_REQUEST = 7
    AWAIT_CREATE_CHAN_RESPONSE = 8
    SEND_CREATE_CHAN_RESPONSE = 9
    CONNECTED = 10
    MUST_CLOSE = 11
    CLOSED = 12
    IDLE = 13
    FAILED = 14
    DISCONNECTED = 15
    #: returned by the readers when a message is not complete yet
    NEED_DATA = 16


CLIENT = Role.CLIENT
SERVER = Role.SERVER
REQUEST = Direction.REQUEST
RESPONSE = Direction.RESPONSE
SEND_SEARCH_REQUEST = States.SEND_SEARCH_REQUEST
AWAIT_SEARCH_RESPONSE = States.AWAIT_SEARCH_RESPONSE
SEND_SEARCH_RESPONSE = States.SEND_SEARCH_RESPONSE
SEND_VERSION_REQUEST = States.SEND_VERSION_REQUEST
AWAIT_VERSION_RESPONSE = States.AWAIT_VERSION_RESPONSE
SEND_VERSION_RESPONSE = States.SEND_VERSION_RESPONSE
SEND_CREATE_CHAN_REQUEST = States.SEND_CREATE_CHAN_REQUEST
AWAIT_CREATE_CHAN_RESPONSE = States.AWAIT_CREATE_CHAN_RESPONSE
SEND_CREATE_CHAN_RESPONSE = States.SEND_CREATE_CHAN_RESPONSE
CONNECTED = States.CONNECTED
MUST_CLOSE = States.MUST_CLOSE
CLOSED = States.CLOSED
IDLE = States.IDLE
FAILED = States.FAILED
DISCONNECTED = States.DISCONNECTED
NEED_DATA = States.NEED_DATA
