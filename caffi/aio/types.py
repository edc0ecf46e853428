"""Type aliases of caffi.aio's signatures, the names aioca.types gives them.

``from caffi.aio.types import AugmentedValue, Dbr`` replaces
``from aioca.types import AugmentedValue, Dbr``.
"""
from datetime import datetime
from typing import List, Literal, Protocol, Sized, Tuple, Type, Union

__all__ = ["Timeout", "Dbe", "Dbr", "Datatype", "Format", "Count", "AugmentedValue"]

#: None (never), seconds from now, or ``(deadline,)`` in ``time.time()`` seconds
Timeout = Union[None, Tuple[float], float]
#: a bitwise or of ``DBE_*`` codes, or None for the format's default
Dbe = Union[None, int]
#: a DBR code: the plain types, PUT_ACKT/ACKS, STSACK_STRING, CLASS_NAME and
#: the special DBR_ENUM_STR, DBR_CHAR_BYTES, DBR_CHAR_UNICODE, DBR_CHAR_STR
Dbr = Literal[0, 1, 2, 3, 4, 5, 6, 35, 36, 37, 38, 996, 997, 998, 999]
#: None (native), a :data:`Dbr` code, or a Python or numpy type
Datatype = Union[None, Dbr, Type]
#: FORMAT_RAW (0), FORMAT_TIME (1) or FORMAT_CTRL (2)
Format = Literal[0, 1, 2]
#: 0 (server's current length), -1 (all) or a maximum
Count = Union[Literal[0, -1], int]


class AugmentedValue(Protocol, Sized):
    """What :func:`~caffi.aio.caget` and :func:`~caffi.aio.camonitor` deliver.

    A ``ca_int``, ``ca_float``, ``ca_str``, ``ca_bytes`` or ``ca_array``
    (``epicscorelibs.ca.dbr``) with these attributes, or a
    :class:`~caffi.aio.CANothing` (``ok`` false, ``errorcode`` set).
    ``name`` and ``ok`` are always there; ``datatype`` and ``element_count``
    when ok; FORMAT_TIME adds ``status``, ``severity``, ``timestamp`` and
    ``raw_stamp``; FORMAT_CTRL adds ``status``, ``severity`` and ``units``,
    limits and ``precision`` (numbers) or ``enums`` (enums).
    """

    name: str
    ok: bool
    errorcode: int
    datatype: int
    element_count: int
    severity: int
    status: int
    raw_stamp: Tuple[int, int]
    timestamp: float
    datetime: datetime
    units: str
    upper_disp_limit: float
    lower_disp_limit: float
    upper_alarm_limit: float
    lower_alarm_limit: float
    upper_warning_limit: float
    lower_warning_limit: float
    upper_ctrl_limit: float
    lower_ctrl_limit: float
    precision: int
    enums: List[str]
    ackt: int
    acks: int
