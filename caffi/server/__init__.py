"""A Channel Access server in Python with caproto's API.

>>> from caffi.server import PVGroup, pvproperty, ioc_arg_parser, run

Layout: :mod:`.pvproperty` (``pvproperty``, ``PVSpec``, the ``Pvproperty*``
data classes), :mod:`.group` (``PVGroup``, ``SubGroup``), :mod:`.records`
(record fields), :mod:`.both` (the same PVs over CA and pvAccess:
``run(pvdb, protocols=("ca", "pva"))``) with :mod:`.pvdata` (their
normative types).  The data model itself (``ChannelData`` ...) is
:mod:`caffi.protocol`'s.
"""
from ..protocol import (AccessRights, AlarmSeverity, AlarmStatus, ChannelAlarm, ChannelByte,
                        ChannelChar, ChannelData, ChannelDouble, ChannelEnum, ChannelFloat,
                        ChannelInteger, ChannelShort, ChannelString, ChannelType,
                        SkipWrite)
from .aio import AsyncioAsyncLayer, Context, start_server
from .cli import ioc_arg_parser, run, template_arg_parser
from .core import ServerCore, ServerLimits
from .group import PVGroup, PVGroupMeta, SubGroup, expand_macros, get_pv_pair_wrapper
from .pvproperty import (FieldProxy, FieldSpec, PVSpec, PvpropertyBoolEnum,
                         PvpropertyBoolEnumRO, PvpropertyByte, PvpropertyByteRO,
                         PvpropertyChar, PvpropertyCharRO, PvpropertyData, PvpropertyDouble,
                         PvpropertyDoubleRO, PvpropertyEnum, PvpropertyEnumRO,
                         PvpropertyFloat, PvpropertyFloatRO, PvpropertyInteger,
                         PvpropertyIntegerRO, PvpropertyReadOnlyData, PvpropertyShort,
                         PvpropertyShortRO, PvpropertyString, PvpropertyStringRO, pvproperty,
                         scan_wrapper)

__all__ = [
    "Context", "start_server", "run", "ioc_arg_parser", "template_arg_parser",
    "ServerCore", "ServerLimits", "AsyncioAsyncLayer",
    "PVGroup", "PVGroupMeta", "SubGroup", "pvproperty", "PVSpec", "expand_macros",
    "get_pv_pair_wrapper", "scan_wrapper", "FieldSpec", "FieldProxy",
    "PvpropertyData", "PvpropertyReadOnlyData", "PvpropertyChar", "PvpropertyByte",
    "PvpropertyShort", "PvpropertyInteger", "PvpropertyFloat", "PvpropertyDouble",
    "PvpropertyString", "PvpropertyEnum", "PvpropertyBoolEnum", "PvpropertyCharRO",
    "PvpropertyByteRO", "PvpropertyShortRO", "PvpropertyIntegerRO", "PvpropertyFloatRO",
    "PvpropertyDoubleRO", "PvpropertyStringRO", "PvpropertyEnumRO", "PvpropertyBoolEnumRO",
    "ChannelData", "ChannelAlarm", "ChannelByte", "ChannelChar", "ChannelDouble",
    "ChannelEnum", "ChannelFloat", "ChannelInteger", "ChannelShort", "ChannelString",
    "ChannelType", "AccessRights", "AlarmSeverity", "AlarmStatus", "SkipWrite",
]
