#!/usr/bin/env python3
"""An NTTable; RPC ``append`` adds a row, puts replace columns."""
import time

from pva import nt
from pva.server import PVAGroup, ioc_arg_parser, pvaproperty, run, value_instance

COLUMNS = [("name", "s"), ("position", "d"), ("count", "i")]
TABLE = nt.NTTable(COLUMNS)


def make_table(rows):
    return value_instance(TABLE.wrap(rows, timestamp=time.time()), TABLE.type)


class TableIOC(PVAGroup):
    table = pvaproperty(value=make_table([
        {"name": "x", "position": 1.5, "count": 1},
        {"name": "y", "position": -2.0, "count": 2},
    ]))
    append = pvaproperty(value=nt.NTScalarInt32(value=0))

    @append.call
    async def append(self, instance, data):
        """Append a row ``{name, position, count}`` (an NTURI query or a plain structure)."""
        row = getattr(data, "query", data)
        cols = self.table.data.value
        new = {
            "name": list(cols.name) + [str(getattr(row, "name", ""))],
            "position": list(cols.position) + [float(getattr(row, "position", 0.0))],
            "count": list(cols.count) + [int(getattr(row, "count", 0))],
        }
        async with self.table as table:
            table.value = new
        async with self.append as counter:
            counter.value = len(new["name"])
        return nt.NTScalarInt32(value=len(new["name"]))


def main():
    ioc_options, run_options = ioc_arg_parser(default_prefix="pva:table:",
                                              desc="An NTTable server.")
    run(TableIOC(**ioc_options).pvdb, **run_options)


if __name__ == "__main__":
    main()
