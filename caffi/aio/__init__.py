"""Channel Access from asyncio, with aioca's API, over caffi's libca binding.

>>> import asyncio
>>> from caffi.aio import caget, caput, camonitor, FORMAT_TIME
>>> async def main():
...     await caput("X:ao", 2.5, wait=True)
...     value = await caget("X:ao", format=FORMAT_TIME)
...     print(value, value.severity, value.timestamp)
>>> asyncio.run(main())

Code written for aioca runs unchanged after ``from aioca import ...``
becomes ``from caffi.aio import ...`` (and ``aioca.types`` becomes
:mod:`caffi.aio.types`).  Values are the augmented types of
``epicscorelibs.ca.dbr`` that aioca returns; errors are :class:`CANothing`
and subclasses of ``epicscorelibs.ca.cadef``'s ``CAException`` and
``Disconnected``, as aioca raises them.

Every call works in the one preemptive CA context that caffi's ``caget``,
``PV`` and the tools share; each event loop has its own channel cache, and
libca's callbacks reach the loop in batches (one wakeup per burst).  See
docs/asyncio.rst.
"""
from epicscorelibs.ca.cadef import DBE_ALARM, DBE_LOG, DBE_PROPERTY, DBE_VALUE
from epicscorelibs.ca.dbr import (DBR_CHAR, DBR_CHAR_BYTES, DBR_CHAR_STR, DBR_CHAR_UNICODE,
                                  DBR_CLASS_NAME, DBR_DOUBLE, DBR_ENUM, DBR_ENUM_STR,
                                  DBR_FLOAT, DBR_LONG, DBR_PUT_ACKS, DBR_PUT_ACKT,
                                  DBR_SHORT, DBR_STRING, DBR_STSACK_STRING, FORMAT_CTRL,
                                  FORMAT_RAW, FORMAT_TIME, ca_extra_fields)

from ._channels import ChannelInfo, get_channel_infos, purge_channel_caches
from ._errors import CAException, CANothing, Disconnected
from ._monitor import Subscription, camonitor
from ._ops import DEFAULT_TIMEOUT, CAInfo, caget, cainfo, caput, connect
from ._run import run

__all__ = [
    "caget", "caput", "camonitor", "connect", "cainfo", "run",
    "Subscription", "CAInfo", "CANothing", "CAException", "Disconnected",
    "ChannelInfo", "get_channel_infos", "purge_channel_caches", "DEFAULT_TIMEOUT",
    "DBE_VALUE", "DBE_LOG", "DBE_ALARM", "DBE_PROPERTY",
    "DBR_STRING", "DBR_SHORT", "DBR_FLOAT", "DBR_ENUM", "DBR_CHAR", "DBR_LONG",
    "DBR_DOUBLE", "DBR_CHAR_STR", "DBR_CHAR_UNICODE", "DBR_ENUM_STR", "DBR_CHAR_BYTES",
    "DBR_PUT_ACKT", "DBR_PUT_ACKS", "DBR_STSACK_STRING", "DBR_CLASS_NAME",
    "FORMAT_RAW", "FORMAT_TIME", "FORMAT_CTRL", "ca_extra_fields",
]
