"""EPICS_CA_* and EPICS_CAS_* environment variables, read as libca and rsrv do.

Pure functions: ``env`` defaults to ``os.environ`` and the broadcast
addresses of the host's interfaces (needed when an automatic address list
is on) come from ``broadcast_addresses``, a list or a callable, by default
:func:`caffi.protocol._sockets.broadcast_addresses` (the one place that asks
the operating system).
"""
import os
from typing import Callable, Dict, List, Mapping, Optional, Sequence, Tuple, Union

from ._constants import CA_REPEATER_PORT, CA_SERVER_PORT, DEFAULT_MAX_ARRAY_BYTES
from ._errors import CaprotoEnvironmentSetupError

__all__ = ["get_environment_variables", "get_address_list", "get_client_address_list",
           "get_server_address_list", "get_beacon_address_list",
           "get_address_and_port_from_string"]

_DEFAULTS = {
    "EPICS_CA_ADDR_LIST": "",
    "EPICS_CA_AUTO_ADDR_LIST": "YES",
    "EPICS_CA_CONN_TMO": 30.0,
    "EPICS_CA_BEACON_PERIOD": 15.0,
    "EPICS_CA_REPEATER_PORT": CA_REPEATER_PORT,
    "EPICS_CA_SERVER_PORT": CA_SERVER_PORT,
    "EPICS_CA_MAX_ARRAY_BYTES": DEFAULT_MAX_ARRAY_BYTES,
    "EPICS_CA_MAX_SEARCH_PERIOD": 300.0,
    "EPICS_CA_NAME_SERVERS": "",
    "EPICS_TS_MIN_WEST": 360,
    # server variables default to their client counterparts (rsrv)
    "EPICS_CAS_SERVER_PORT": None,
    "EPICS_CAS_AUTO_BEACON_ADDR_LIST": None,
    "EPICS_CAS_BEACON_ADDR_LIST": None,
    "EPICS_CAS_BEACON_PERIOD": None,
    "EPICS_CAS_BEACON_PORT": None,
    "EPICS_CAS_INTF_ADDR_LIST": "",
    "EPICS_CAS_IGNORE_ADDR_LIST": "",
}
_FALLBACK = {
    "EPICS_CAS_SERVER_PORT": "EPICS_CA_SERVER_PORT",
    "EPICS_CAS_AUTO_BEACON_ADDR_LIST": "EPICS_CA_AUTO_ADDR_LIST",
    "EPICS_CAS_BEACON_ADDR_LIST": "EPICS_CA_ADDR_LIST",
    "EPICS_CAS_BEACON_PERIOD": "EPICS_CA_BEACON_PERIOD",
    "EPICS_CAS_BEACON_PORT": "EPICS_CA_REPEATER_PORT",
}

Addresses = Union[Sequence[str], Callable[[], Sequence[str]], None]


def get_environment_variables(env: Optional[Mapping[str, str]] = None) -> Dict[str, object]:
    """Every variable of ``env`` (default ``os.environ``), with the EPICS CA
    variables parsed (ports and sizes as int, periods as float) and
    defaulted as libca and rsrv default them."""
    env = os.environ if env is None else env
    result: Dict[str, object] = dict(env)
    for key, default in _DEFAULTS.items():
        raw = env.get(key, "")
        if not raw.strip():
            # unset or empty: the default (EPICS treats both alike)
            result[key] = default
            continue
        kind = type(default if default is not None else _DEFAULTS[_FALLBACK[key]])
        try:
            result[key] = raw if kind is str else kind(raw.strip())
        except ValueError as exc:
            raise CaprotoEnvironmentSetupError("%s=%r: %s" % (key, raw, exc)) from None
    for key, base in _FALLBACK.items():
        if result[key] is None:
            result[key] = result[base]
    return result


def _split(text: str) -> List[str]:
    out: List[str] = []
    for item in text.split():
        if item not in out:
            out.append(item)
    return out


def _auto(value) -> bool:
    return str(value).strip().lower() != "no"


def _broadcast(broadcast_addresses: Addresses) -> List[str]:
    if broadcast_addresses is None:
        from ._sockets import broadcast_addresses as discover
        broadcast_addresses = discover
    if callable(broadcast_addresses):
        broadcast_addresses = broadcast_addresses()
    return list(broadcast_addresses)


def get_address_and_port_from_string(address: str, default_port: int) -> Tuple[str, int]:
    """``'host:port'`` or ``'host'`` -> ``(host, port)``."""
    host, sep, port = address.partition(":")
    if not sep:
        return address, int(default_port)
    try:
        return host, int(port)
    except ValueError:
        raise CaprotoEnvironmentSetupError("bad port in address %r" % (address,)) from None


def get_address_list(env: Optional[Mapping[str, str]] = None,
                     broadcast_addresses: Addresses = None) -> List[str]:
    """The client's search destinations as strings (``'host'`` or
    ``'host:port'``): EPICS_CA_ADDR_LIST, then, unless EPICS_CA_AUTO_ADDR_LIST
    is NO, the broadcast addresses of the interfaces."""
    e = get_environment_variables(env)
    addresses = _split(e["EPICS_CA_ADDR_LIST"])
    if _auto(e["EPICS_CA_AUTO_ADDR_LIST"]):
        for bcast in _broadcast(broadcast_addresses):
            if bcast not in addresses:
                addresses.append(bcast)
    return addresses


def get_client_address_list(env: Optional[Mapping[str, str]] = None,
                            broadcast_addresses: Addresses = None) -> List[Tuple[str, int]]:
    """:func:`get_address_list` as ``(host, port)`` (port EPICS_CA_SERVER_PORT
    unless given)."""
    port = get_environment_variables(env)["EPICS_CA_SERVER_PORT"]
    return [get_address_and_port_from_string(a, port)
            for a in get_address_list(env, broadcast_addresses)]


def get_server_address_list(env: Optional[Mapping[str, str]] = None) -> List[str]:
    """Interfaces a server binds (EPICS_CAS_INTF_ADDR_LIST, else 0.0.0.0);
    ports given there are ignored, as rsrv does."""
    items = _split(get_environment_variables(env)["EPICS_CAS_INTF_ADDR_LIST"])
    return [item.partition(":")[0] for item in items] or ["0.0.0.0"]


def get_beacon_address_list(env: Optional[Mapping[str, str]] = None,
                            broadcast_addresses: Addresses = None) -> List[Tuple[str, int]]:
    """Where a server sends beacons, as ``(host, port)``: EPICS_CAS_BEACON_ADDR_LIST
    (else EPICS_CA_ADDR_LIST) and, unless EPICS_CAS_AUTO_BEACON_ADDR_LIST (else
    EPICS_CA_AUTO_ADDR_LIST) is NO, the interfaces' broadcast addresses; the
    port is EPICS_CAS_BEACON_PORT (else EPICS_CA_REPEATER_PORT)."""
    e = get_environment_variables(env)
    port = e["EPICS_CAS_BEACON_PORT"]
    addresses = _split(e["EPICS_CAS_BEACON_ADDR_LIST"])
    if _auto(e["EPICS_CAS_AUTO_BEACON_ADDR_LIST"]):
        for bcast in _broadcast(broadcast_addresses):
            if bcast not in addresses:
                addresses.append(bcast)
    return [get_address_and_port_from_string(a, port) for a in addresses]
