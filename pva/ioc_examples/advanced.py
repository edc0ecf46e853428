#!/usr/bin/env python3
"""A server from a plain pvdb dict of DataWrapperBase entries (no PVAGroup)."""
import pva
from pva.server import AuthenticationError, AuthOperation, DataWrapperBase, ioc_arg_parser, run


@pva.pva_dataclass
class MyData:
    value: int
    info: str


PVDB = {
    "test": MyData(value=5, info="a string"),
    "test2": MyData(value=6, info="a different string"),
    "test3": pva.nt.NTScalarFloat64(value=1.0),
}


class BasicDataWrapper(DataWrapperBase):
    """Everybody may read; only the "ca"-authenticated may write."""

    async def authorize(self, operation, *, authorization, request=None):
        if operation is AuthOperation.write and authorization["method"] != "ca":
            raise AuthenticationError("anonymous clients may not write")
        return self.data

    async def write(self, update):
        changes = update.data
        if "value" in changes and changes["value"] < 0:
            raise ValueError("negative values are refused")
        await super().write(update)


def main():
    ioc_options, run_options = ioc_arg_parser(default_prefix="pva:advanced:",
                                              desc="A plain pvdb dict server.")
    prefix = ioc_options["prefix"]
    pvdb = {prefix + key: BasicDataWrapper(prefix + key, value) for key, value in PVDB.items()}
    run(pvdb, **run_options)


if __name__ == "__main__":
    main()
