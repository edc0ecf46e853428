"""The names caproto's CA core documents exist in caffi.protocol with the
documented signatures, so ``import caffi.protocol as caproto`` works."""
import inspect

import pytest

import caffi.protocol as caproto

COMMANDS = {
    "VersionRequest": ["priority", "version"], "VersionResponse": ["version"],
    "SearchRequest": ["name", "cid", "version", "reply"],
    "SearchResponse": ["port", "ip", "cid", "version"],
    "NotFoundResponse": ["version", "cid"], "EchoRequest": [], "EchoResponse": [],
    "Beacon": ["version", "server_port", "beacon_id", "address"],
    "RepeaterRegisterRequest": ["client_address"],
    "RepeaterConfirmResponse": ["repeater_address"],
    "EventAddRequest": ["data_type", "data_count", "sid", "subscriptionid", "low", "high",
                        "to", "mask"],
    "EventAddResponse": ["data", "data_type", "data_count", "status", "subscriptionid"],
    "EventCancelRequest": ["data_type", "sid", "subscriptionid"],
    "EventCancelResponse": ["data_type", "sid", "subscriptionid", "data_count"],
    "ReadRequest": ["data_type", "data_count", "sid", "ioid"],
    "ReadResponse": ["data", "data_type", "data_count", "sid", "ioid"],
    "WriteRequest": ["data", "data_type", "data_count", "sid", "ioid"],
    "EventsOffRequest": [], "EventsOnRequest": [], "ReadSyncRequest": [],
    "ErrorResponse": ["original_request", "cid", "status", "error_message"],
    "ClearChannelRequest": ["sid", "cid"], "ClearChannelResponse": ["sid", "cid"],
    "ReadNotifyRequest": ["data_type", "data_count", "sid", "ioid"],
    "ReadNotifyResponse": ["data", "data_type", "data_count", "status", "ioid"],
    "WriteNotifyRequest": ["data", "data_type", "data_count", "sid", "ioid"],
    "WriteNotifyResponse": ["data_type", "data_count", "status", "ioid"],
    "ClientNameRequest": ["name"], "HostNameRequest": ["name"],
    "AccessRightsResponse": ["cid", "access_rights"],
    "CreateChanRequest": ["name", "cid", "version"],
    "CreateChanResponse": ["data_type", "data_count", "cid", "sid"],
    "CreateChFailResponse": ["cid"], "ServerDisconnResponse": ["cid"],
}

OTHER = ["VirtualCircuit", "Broadcaster", "ClientChannel", "ServerChannel", "ChannelType",
         "SubscriptionType", "AccessRights", "AlarmSeverity", "AlarmStatus", "CLIENT",
         "SERVER", "NEED_DATA", "DISCONNECTED", "SEND_SEARCH_REQUEST", "AWAIT_SEARCH_RESPONSE",
         "SEND_SEARCH_RESPONSE", "SEND_VERSION_REQUEST", "AWAIT_VERSION_RESPONSE",
         "SEND_VERSION_RESPONSE", "SEND_CREATE_CHAN_REQUEST", "AWAIT_CREATE_CHAN_RESPONSE",
         "SEND_CREATE_CHAN_RESPONSE", "CONNECTED", "MUST_CLOSE", "CLOSED", "IDLE", "FAILED",
         "RemoteProtocolError", "LocalProtocolError", "ProtocolError", "CaprotoError",
         "CaprotoKeyError", "get_address_list", "get_beacon_address_list",
         "get_environment_variables", "bcast_socket", "extract_address", "MessageHeader",
         "ExtendedMessageHeader", "DBR_TIME_DOUBLE", "CAStatus", "CAStatusCode"]

METHODS = {
    "VirtualCircuit": ["send", "recv", "process_command", "disconnect", "our_role", "log",
                       "host", "port", "key"],
    "Broadcaster": ["send", "recv", "process_commands", "register", "our_role", "log"],
    "ClientChannel": ["version", "host_name", "client_name", "create", "read", "write",
                      "subscribe", "unsubscribe", "clear"],
    "ServerChannel": ["version", "create", "create_fail", "read", "write", "subscribe",
                      "unsubscribe", "clear", "disconnect"],
}


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_command_signature(name):
    cls = getattr(caproto, name)
    params = [p.name for p in inspect.signature(cls).parameters.values()
              if p.kind is p.POSITIONAL_OR_KEYWORD]
    assert params == COMMANDS[name]
    assert name in caproto.__all__


@pytest.mark.parametrize("name", OTHER)
def test_name(name):
    assert hasattr(caproto, name) and name in caproto.__all__


def test_methods():
    circuit = caproto.VirtualCircuit(caproto.CLIENT, ("h", 1), 0)
    objects = {"VirtualCircuit": circuit, "Broadcaster": caproto.Broadcaster(caproto.CLIENT),
               "ClientChannel": caproto.ClientChannel("x", circuit),
               "ServerChannel": caproto.ServerChannel(
                   "x", caproto.VirtualCircuit(caproto.SERVER, ("h", 1), 0))}
    for cls, names in METHODS.items():
        for name in names:
            assert hasattr(objects[cls], name), (cls, name)


def test_documented_examples():
    com = caproto.VersionRequest(version=13, priority=0)
    assert repr(com) == "VersionRequest(priority=0, version=13)"
    assert repr(com.header) == ("MessageHeader(command=0, payload_size=0, data_type=0, "
                                "data_count=13, parameter1=0, parameter2=0)")
    circuit = caproto.VirtualCircuit(our_role=caproto.CLIENT, address=("0.0.0.0", 5555),
                                     priority=0)
    circuit.send(caproto.VersionRequest(version=13, priority=0))
    assert circuit.states[caproto.SERVER] is caproto.SEND_VERSION_RESPONSE
    md = caproto.DBR_TIME_DOUBLE(1, 0, 3, 5)
    r = caproto.ReadNotifyResponse(data_type=caproto.ChannelType.TIME_DOUBLE, data_count=1,
                                   data=(7,), metadata=md, status=1, ioid=0)
    assert r.metadata == md
    r2 = caproto.ReadNotifyResponse(data_type=caproto.ChannelType.TIME_DOUBLE, data_count=1,
                                    data=(7,), metadata=(1, 0, 3, 5), status=1, ioid=0)
    assert bytes(r) == bytes(r2)


def test_sans_io_modules_import_no_io():
    """Only ``_sockets`` may import socket, threading, asyncio, select or getpass."""
    import ast
    import os
    folder = os.path.dirname(caproto.__file__)
    for name in sorted(os.listdir(folder)):
        if not name.endswith(".py") or name == "_sockets.py":
            continue
        with open(os.path.join(folder, name)) as f:
            tree = ast.parse(f.read())
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                modules = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                modules = [node.module]
            else:
                continue
            for module in modules:
                assert module.split(".")[0] not in (
                    "socket", "threading", "asyncio", "select", "getpass", "selectors"), (
                    name, module)
