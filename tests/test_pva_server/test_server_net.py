"""Name-resolution networking of our server: interfaces, forwarding, broadcast.

- the interface list against ``ip -j -4 addr``;
- the classification and forwarding rules (:mod:`pva._forwarding`);
- our server and a p4p (pvxs) server on the same UDP port: a unicast search
  reaches one of them, which forwards it to the other (both directions);
- EPICS_PVAS_INTF_ADDR_LIST: a search to another local address is ignored;
- broadcast across a veth pair between two network namespaces: searches to
  and beacons on the interface's broadcast address, no address list.
"""
from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time

import pytest

import pva
from pva import nt
from pva._forwarding import LOCAL_MCAST_GROUP, Origin, classify, forward
from pva.io.netif import (IFF_BROADCAST, IFF_LOOPBACK, IFF_POINTOPOINT, IFF_UP, Interface,
                        InterfaceMap, broadcast_addresses, interfaces)

from netns_helpers import NetnsPair, netns_unavailable_reason
from server_helpers import LOOPBACK, free_udp_port, server_conf

pytestmark = pytest.mark.timeout(120)


# ---------------------------------------------------------------- interfaces
def _ip_addr():
    if shutil.which("ip") is None:
        pytest.skip("the 'ip' command (iproute2) is not installed")
    out = subprocess.run(["ip", "-j", "-4", "addr"], capture_output=True, text=True,
                         check=True).stdout
    return json.loads(out)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux interface query")
def test_interfaces_match_ip_addr():
    ours = {(i.name, i.address): i for i in interfaces()}
    theirs = {}
    for link in _ip_addr():
        for a in link.get("addr_info", []):
            if a.get("family") == "inet":
                theirs[(a.get("label", link["ifname"]), a["local"])] = (link, a)
    assert set(ours) == set(theirs)
    for key, (link, a) in theirs.items():
        intf = ours[key]
        assert intf.index == link["ifindex"]
        assert intf.up == ("UP" in link["flags"])
        assert intf.loopback == ("LOOPBACK" in link["flags"])
        assert intf.prefixlen == a["prefixlen"]
        if "BROADCAST" in link["flags"] and not a.get("secondary"):
            assert intf.broadcast == a.get("broadcast")
    expected = [a["broadcast"] for (link, a) in theirs.values()
                if "UP" in link["flags"] and "LOOPBACK" not in link["flags"]
                and "BROADCAST" in link["flags"] and a.get("broadcast")]
    assert sorted(broadcast_addresses()) == sorted(set(expected))


def _intf(name, index, address, flags, broadcast=None, peer=None):
    return Interface(name, index, address, "255.255.255.0", broadcast, peer, flags)


LO = _intf("lo", 1, "127.0.0.1", IFF_UP | IFF_LOOPBACK)
ETH = _intf("eth0", 2, "10.1.2.3", IFF_UP | IFF_BROADCAST, broadcast="10.1.2.255")
DOWN = _intf("eth1", 3, "10.9.9.9", IFF_BROADCAST, broadcast="10.9.9.255")
PPP = _intf("ppp0", 4, "10.5.0.1", IFF_UP | IFF_POINTOPOINT, peer="10.5.0.2")
NOBC = _intf("tun0", 5, "10.6.0.1", IFF_UP)
HOST = [LO, ETH, DOWN, PPP, NOBC]


def test_broadcast_address_rules():
    # all interfaces: up, not loopback; broadcast, else the point-to-point peer
    assert broadcast_addresses("0.0.0.0", HOST) == ["10.1.2.255", "10.5.0.2"]
    assert broadcast_addresses("10.1.2.3", HOST) == ["10.1.2.255"]
    assert broadcast_addresses("10.9.9.9", HOST) == []        # down
    assert broadcast_addresses("10.7.7.7", HOST) == []        # not ours
    assert broadcast_addresses("127.0.0.1", HOST) == ["127.0.0.1"]


# ---------------------------------------------------------------- forwarding rules
def _search(addr=("0.0.0.0", 5555), unicast=True):
    bc = pva.Broadcaster(pva.CLIENT)
    return bc.search(["a", "b"], reply_address=addr, unicast=unicast)


def _decode(data):
    return pva.Broadcaster(pva.SERVER).recv(data)


IFMAP = InterfaceMap(HOST)


def test_classify_broadcast_and_unicast():
    src = ("10.1.2.7", 5555)
    rx = classify([_search()], src, "10.1.2.255", 2, IFMAP)
    assert rx.origin is Origin.BROADCAST and rx.reply_from == "10.1.2.3"
    assert not rx.forward_search
    rx = classify([_search()], src, "255.255.255.255", 2, IFMAP)
    assert rx.origin is Origin.BROADCAST and not rx.forward_search
    rx = classify([_search()], src, "10.1.2.3", 2, IFMAP)
    assert rx.origin is Origin.UNICAST and rx.forward_search
    rx = classify([_search()], (LOOPBACK, 5555), LOOPBACK, 1, IFMAP)
    assert rx.forward_search and rx.destination == LOOPBACK
    # a multicast source is never answered nor forwarded
    assert classify([_search()], ("224.1.1.1", 1), "10.1.2.3", 2, IFMAP) is None


def test_forwarded_datagram():
    src = ("10.1.2.7", 6000)
    rx = classify([_search(("0.0.0.0", 0))], src, "10.1.2.3", 2, IFMAP)
    tag, search = _decode(forward(rx))
    assert isinstance(tag, pva.OriginTag) and tag.forwarder_address == "10.1.2.3"
    # the requester's address filled in, the unicast flag cleared
    assert (search.response_address, search.response_port) == src
    assert not search.flags & pva.SearchFlags.UNICAST
    assert [c.channel_name for c in search.channels] == ["a", "b"]
    # received back through the local group: handled, for the tagged address
    back = classify([tag, search], (LOOPBACK, 40000), LOCAL_MCAST_GROUP, 1, IFMAP)
    assert back.origin is Origin.FORWARDED and not back.forward_search
    assert back.destination == back.reply_from == "10.1.2.3"
    assert back.messages == [search]


def test_origin_tag_rules():
    search = _search(("10.1.2.7", 6000), unicast=False)
    local = pva.OriginTag("10.1.2.3")
    # accepted only through the group on a loopback interface
    assert classify([local, search], ("10.1.2.7", 1), LOCAL_MCAST_GROUP, 2, IFMAP) is None
    assert classify([local, search], ("10.1.2.7", 1), "10.1.2.3", 2, IFMAP) is None
    # naming an address of another host: dropped
    assert classify([pva.OriginTag("10.77.0.1"), search], (LOOPBACK, 1), LOCAL_MCAST_GROUP,
                    1, IFMAP) is None
    # 0.0.0.0: no information, only a server on every interface answers
    rx = classify([pva.OriginTag("0.0.0.0"), search], (LOOPBACK, 1), LOCAL_MCAST_GROUP, 1,
                  IFMAP)
    assert rx.destination == "0.0.0.0" and rx.messages == [search]
    # a forwarded search without response address cannot be answered
    rx = classify([local, _search(("0.0.0.0", 6000))], (LOOPBACK, 1), LOCAL_MCAST_GROUP, 1,
                  IFMAP)
    assert rx.messages == []


# ---------------------------------------------------------------- same host, same port
def _p4p_server(providers, udp_port, **extra):
    from p4p.server import Server
    conf = {
        "EPICS_PVAS_INTF_ADDR_LIST": LOOPBACK,
        "EPICS_PVAS_SERVER_PORT": "0",
        "EPICS_PVAS_BROADCAST_PORT": str(udp_port),
        "EPICS_PVAS_AUTO_BEACON_ADDR_LIST": "NO",
        "EPICS_PVAS_BEACON_ADDR_LIST": "",
        "EPICS_PVAS_IGNORE_ADDR_LIST": "",
    }
    conf.update(extra)
    return Server(providers=providers, conf=conf, useenv=False)


@pytest.fixture
def p4p_servers():
    made = []

    def start(providers, udp_port, **extra):
        srv = _p4p_server(providers, udp_port, **extra)
        made.append(srv)
        return srv
    yield start
    for srv in made:
        srv.stop()


def _unicast_client_conf(udp_port, shared):
    """Search 127.0.0.1 on the servers' port by unicast; ``shared``: the
    clients listen for beacons on that port too (the usual setup)."""
    return {
        "EPICS_PVA_ADDR_LIST": f"{LOOPBACK}:{udp_port}",
        "EPICS_PVA_AUTO_ADDR_LIST": "NO",
        "EPICS_PVA_NAME_SERVERS": "",
        "EPICS_PVA_BROADCAST_PORT": str(udp_port if shared else free_udp_port()),
    }


@pytest.mark.parametrize("clients_share_port", [False, True], ids=["clients-apart",
                                                                     "clients-on-port"])
@pytest.mark.parametrize("first", ["ours", "p4p"])
def test_same_port_both_servers_found(serve, p4p_servers, first, clients_share_port):
    """A unicast search lands on one socket of the shared port; forwarding
    lets every server there answer, whichever was bound last."""
    from p4p.client.thread import Context as P4PContext
    from p4p.nt import NTScalar
    from p4p.server.thread import SharedPV

    from pva.sync import Context

    udp_port = free_udp_port()
    p4p_pv = SharedPV(nt=NTScalar("d"), initial=1.5)

    def start_ours():
        return serve({"same:ours": nt.NTScalarFloat64(value=2.5)},
                     server_conf(EPICS_PVAS_BROADCAST_PORT=udp_port))

    if first == "ours":
        ours = start_ours()
        p4p_servers([{"same:p4p": p4p_pv}], udp_port)
    else:
        p4p_servers([{"same:p4p": p4p_pv}], udp_port)
        ours = start_ours()
    assert ours.udp_port == udp_port
    collector = ours.ctx._udp[0]
    assert collector.forwarding

    conf = _unicast_client_conf(udp_port, clients_share_port)
    p4p_ctx = P4PContext("pva", conf=conf, useenv=False, nt=False)
    our_ctx = Context(conf=conf, useenv=False)
    try:
        for name, value in (("same:ours", 2.5), ("same:p4p", 1.5)):
            assert p4p_ctx.get(name, timeout=5)["value"] == value
            assert our_ctx.get(name, timeout=5).value == value
    finally:
        p4p_ctx.close()
        our_ctx.close()
    if not clients_share_port:
        # the last bound socket received the unicast searches and forwarded them
        if first == "p4p":
            assert collector.forwarded > 0      # ours forwarded to p4p's
        else:
            assert collector.forwarded == 0     # p4p's forwarded to ours


def _search_answered(dest, port, name, timeout=1.5):
    bc = pva.Broadcaster(pva.CLIENT)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind((LOOPBACK, 0))
        s.settimeout(timeout)
        req = bc.search([name], reply_address=("0.0.0.0", 0), unicast=True)
        s.sendto(b"".join(bc.send(req)), (dest, port))
        try:
            data, addr = s.recvfrom(65536)
        except socket.timeout:
            return None
        (resp,) = bc.recv(data, addr)
        return resp


def test_interface_list_filters_by_destination(serve):
    """EPICS_PVAS_INTF_ADDR_LIST=127.0.0.1: a search sent to 127.0.0.2 (also
    this host) is forwarded and then not answered; 0.0.0.0 answers both."""
    only_lo = serve({"intf:x": nt.NTScalarInt32(value=1)})
    resp = _search_answered(LOOPBACK, only_lo.udp_port, "intf:x")
    assert resp is not None and resp.found and resp.server_port == only_lo.port
    assert _search_answered("127.0.0.2", only_lo.udp_port, "intf:x") is None
    everywhere = serve({"intf:y": nt.NTScalarInt32(value=1)},
                       server_conf(EPICS_PVAS_INTF_ADDR_LIST="0.0.0.0"))
    for dest in (LOOPBACK, "127.0.0.2"):
        resp = _search_answered(dest, everywhere.udp_port, "intf:y")
        assert resp is not None and resp.found and resp.server_port == everywhere.port


def test_auto_beacon_list(serve):
    from pva.server import ServerConfig
    cfg = ServerConfig.from_env({"EPICS_PVAS_BEACON_ADDR_LIST": "10.8.0.1 10.8.0.2:7000"},
                                useenv=False)
    # 0.0.0.0: every broadcast address of the host (loopback and down excluded)
    assert cfg.beacon_destinations(5076, HOST) == [
        ("10.8.0.1", 5076), ("10.8.0.2", 7000), ("10.1.2.255", 5076), ("10.5.0.2", 5076)]
    cfg.interfaces = ["10.1.2.3", "127.0.0.1"]
    assert cfg.beacon_destinations(5076, HOST)[2:] == [("10.1.2.255", 5076),
                                                        ("127.0.0.1", 5076)]
    cfg.auto_beacon = False
    assert cfg.beacon_destinations(5076, HOST) == [("10.8.0.1", 5076), ("10.8.0.2", 7000)]
    # a running server on 127.0.0.1 with the auto list beacons to 127.0.0.1
    srv = serve({"b:y": nt.NTScalarInt32(value=1)},
                server_conf(EPICS_PVAS_AUTO_BEACON_ADDR_LIST="YES"))
    assert srv.ctx.beacon_destinations == [(LOOPBACK, srv.udp_port)]


# ---------------------------------------------------------------- across namespaces
_SERVER_SCRIPT = r"""
import asyncio, sys
from pva import nt
from pva.server import Context

async def main():
    ctx = Context({"netns:ours": nt.NTScalarFloat64(value=2.5)}, useenv=False, conf={
        "EPICS_PVAS_SERVER_PORT": "0", "EPICS_PVAS_BROADCAST_PORT": sys.argv[1],
        "EPICS_PVAS_BEACON_PERIOD": "0.2"})
    await ctx.start()
    dests = " ".join("%s:%d" % d for d in ctx.beacon_destinations)
    print("READY", ctx.port, dests, flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
    await ctx.close()

asyncio.run(main())
"""

_P4P_SERVER_SCRIPT = r"""
import sys
from p4p.nt import NTScalar
from p4p.server import Server
from p4p.server.thread import SharedPV

pv = SharedPV(nt=NTScalar("d"), initial=7.5)
srv = Server(providers=[{"netns:p4p": pv}], useenv=False, conf={
    "EPICS_PVAS_SERVER_PORT": "0", "EPICS_PVAS_BROADCAST_PORT": sys.argv[1]})
print("READY", srv.conf()["EPICS_PVAS_SERVER_PORT"], flush=True)
sys.stdin.read()
srv.stop()
"""

_CLIENT_SCRIPT = r"""
import asyncio, json, socket, struct, sys, time
import pva
from pva.client.aio import Context
from pva.client.config import ClientConfig

port, want = int(sys.argv[1]), int(sys.argv[2])
conf = {"EPICS_PVA_BROADCAST_PORT": str(port)}     # no address list, auto list on
out = {"addr_list": ClientConfig.from_conf(conf, useenv=False).addr_list}

# where the beacons are sent: a listener that reads each datagram's destination
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.setsockopt(socket.IPPROTO_IP, 8, 1)               # IP_PKTINFO
s.bind(("0.0.0.0", port))
s.settimeout(20)

def beacon_destinations():
    dests = set()
    while len(dests) < want:
        data, anc, _, src = s.recvmsg(65536, 64)
        for msg in pva.Broadcaster(pva.CLIENT).recv(data, src):
            if isinstance(msg, pva.Beacon):
                dst = socket.inet_ntoa(struct.unpack("=I4s4s", anc[0][2])[2])
                dests.add((src[0], msg.server_port, dst))
    return sorted(dests)

async def main():
    loop = asyncio.get_running_loop()
    async with Context(conf=conf, useenv=False) as ctx:
        core = ctx.core
        while ctx._beacon is None:                 # the beacon listener is open
            await asyncio.sleep(0.01)
        print("LISTENING", flush=True)             # now the servers start
        raw = loop.run_in_executor(None, beacon_destinations)
        deadline = time.monotonic() + 20
        while len(core.servers) < want and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        out["heard"] = sorted(core.servers.values())     # from beacons only so far
        out["beacons"] = await raw
        out["values"] = {n: (await ctx.get(n, timeout=10)).value
                         for n in ("netns:ours", "netns:p4p")}

asyncio.run(main())
from p4p.client.thread import Context as P4PContext
ctx = P4PContext("pva", conf=conf, useenv=False, nt=False)
try:
    out["p4p_values"] = {n: ctx.get(n, timeout=10)["value"] for n in ("netns:ours", "netns:p4p")}
finally:
    ctx.close()
print(json.dumps(out), flush=True)
"""


@pytest.fixture
def netns_pair(request):
    why = netns_unavailable_reason()
    if why is not None:
        pytest.skip(why)
    pair = NetnsPair("s")
    request.addfinalizer(pair.remove)
    return pair.create()


def _clean_env():
    return {k: v for k, v in os.environ.items() if not k.startswith("EPICS_")}


def _ready(proc):
    line = proc.stdout.readline()
    if not line.startswith("READY"):
        proc.kill()
        raise AssertionError(f"no ready line: {line!r} {proc.stderr.read()!r}")
    return line.split()[1:]


def test_broadcast_between_namespaces(netns_pair):
    """Our server and p4p's share a UDP port in one namespace; in the other,
    our client (and p4p's) with no address list finds both by broadcast to
    the veth's broadcast address, and hears their beacons sent there."""
    pair = netns_pair
    port = free_udp_port()
    env = _clean_env()
    procs = []
    try:
        client = pair.popen(pair.b, [sys.executable, "-c", _CLIENT_SCRIPT, str(port), "2"],
                            env)
        procs.append(client)
        line = client.stdout.readline()
        assert line.startswith("LISTENING"), (line, client.stderr.read())
        ours = pair.popen(pair.a, [sys.executable, "-c", _SERVER_SCRIPT, str(port)], env)
        procs.append(ours)
        ours_tcp, *beacon_dests = _ready(ours)
        assert beacon_dests == [f"{pair.broadcast}:{port}"]
        theirs = pair.popen(pair.a, [sys.executable, "-c", _P4P_SERVER_SCRIPT, str(port)], env)
        procs.append(theirs)
        (p4p_tcp,) = _ready(theirs)
        stdout, stderr = client.communicate(timeout=90)
        assert client.returncode == 0, stderr
        out = json.loads(stdout.strip().splitlines()[-1])
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
            p.communicate(timeout=10)
    assert out["addr_list"] == [[pair.broadcast, port]]
    assert out["beacons"] == sorted([[pair.addr_a, int(ours_tcp), pair.broadcast],
                                     [pair.addr_a, int(p4p_tcp), pair.broadcast]])
    assert sorted(out["heard"]) == sorted([[pair.addr_a, int(ours_tcp)],
                                           [pair.addr_a, int(p4p_tcp)]])
    assert out["values"] == {"netns:ours": 2.5, "netns:p4p": 7.5}
    assert out["p4p_values"] == {"netns:ours": 2.5, "netns:p4p": 7.5}
