"""pvinfo: the server and type of PVs.  ``pvinfo [-w sec] [-D] name ...``

Prints ``name from host:port`` and the type, as pvxs's ``pvxinfo``; ``-D``
prints host troubleshooting information (versions, ``EPICS_PVA*``
variables, network interfaces and the search destinations they give).
"""
from __future__ import annotations

import os
import sys

from ._format import format_type
from ._options import EXIT_ERROR, parser, run, version_information

__all__ = ["main", "target_information"]


def target_information() -> str:
    """What ``pvinfo -D`` prints."""
    from ..io.netif import broadcast_addresses, interfaces
    from ..client.config import ClientConfig
    lines = [version_information().rstrip("\n"), "Environment"]
    env = sorted((k, v) for k, v in os.environ.items() if k.startswith("EPICS_PVA"))
    lines += [f"    {k}={v}" for k, v in env] or ["    (no EPICS_PVA* variables)"]
    lines.append("Interfaces")
    try:
        for iface in interfaces():
            bcast = f" broadcast {iface.broadcast}" if iface.broadcast else ""
            lines.append(f"    {iface.name} {iface.address}/{iface.netmask}{bcast}")
    except OSError as ex:
        lines.append(f"    cannot list interfaces: {ex}")
    lines.append("Effective client config")
    for key, value in sorted(ClientConfig.from_conf(None, True).to_conf().items()):
        lines.append(f"    {key}={value}")
    try:
        lines.append("Broadcast addresses (EPICS_PVA_AUTO_ADDR_LIST)")
        lines += [f"    {a}" for a in broadcast_addresses()]
    except OSError as ex:
        lines.append(f"    cannot list them: {ex}")
    return "\n".join(lines) + "\n"


def _info(args, ctx) -> int:
    status = 0
    for name in args.names:
        try:
            desc = ctx.info(name, args.timeout)
        except Exception as ex:
            print(f"{name} Error: {ex}")
            status = EXIT_ERROR
            continue
        ch = ctx._ctx.core.channels.get(name)
        server = ch.server if ch is not None else None
        peer = f" from {server[0]}:{server[1]}" if server else ""
        sys.stdout.write(f"{name}{peer}\n" + format_type(desc))
    return status


def main(argv=None) -> None:
    p = parser("pvinfo", "Show the server and type of PVs.", request=False)
    p.add_argument("-D", action="store_true", dest="diagnose",
                   help="print host troubleshooting information and exit")
    p.add_argument("names", nargs="*", metavar="name")
    args = p.parse_args(argv)
    if args.diagnose:
        sys.stdout.write(target_information())
        sys.exit(0)
    if not args.names:
        p.error("expected a PV name")
    run(_info, args)


if __name__ == "__main__":
    main(sys.argv[1:])
