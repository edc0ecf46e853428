#!/usr/bin/env python3
"""NTScalar and NTScalarArray PVs of every scalar type (plus the caproto.pva shortcuts)."""
from pva import nt
from pva.server import PVAGroup, ServerRPC, ioc_arg_parser, pvaproperty, run


class NormativeIOC(PVAGroup):
    # plain Python values become NTScalar / NTScalarArray (caproto.pva style)
    nt_bool = pvaproperty(value=True)
    nt_int = pvaproperty(value=42)
    nt_float = pvaproperty(value=42.1)
    nt_string = pvaproperty(value="test")
    nt_int_array = pvaproperty(value=[42])
    nt_float_array = pvaproperty(value=[42.1])
    nt_string_array = pvaproperty(value=["test"])

    # every pvData scalar type
    boolean = pvaproperty(value=nt.NTScalarBoolean(value=True))
    int8 = pvaproperty(value=nt.NTScalarInt8(value=-8))
    uint8 = pvaproperty(value=nt.NTScalarUInt8(value=8))
    int16 = pvaproperty(value=nt.NTScalarInt16(value=-16))
    uint16 = pvaproperty(value=nt.NTScalarUInt16(value=16))
    int32 = pvaproperty(value=nt.NTScalarInt32(value=-32))
    uint32 = pvaproperty(value=nt.NTScalarUInt32(value=32))
    int64 = pvaproperty(value=nt.NTScalarInt64(value=-64))
    uint64 = pvaproperty(value=nt.NTScalarUInt64(value=64))
    float32 = pvaproperty(value=nt.NTScalarFloat32(value=3.25))
    float64 = pvaproperty(value=nt.NTScalarFloat64(value=6.5))
    string = pvaproperty(value=nt.NTScalarString(value="hello"))

    boolean_array = pvaproperty(value=nt.NTScalarArrayBoolean(value=[True, False]))
    int8_array = pvaproperty(value=nt.NTScalarArrayInt8(value=[-1, 2]))
    uint8_array = pvaproperty(value=nt.NTScalarArrayUInt8(value=[1, 2]))
    int16_array = pvaproperty(value=nt.NTScalarArrayInt16(value=[-1, 2]))
    uint16_array = pvaproperty(value=nt.NTScalarArrayUInt16(value=[1, 2]))
    int32_array = pvaproperty(value=nt.NTScalarArrayInt32(value=[-1, 2]))
    uint32_array = pvaproperty(value=nt.NTScalarArrayUInt32(value=[1, 2]))
    int64_array = pvaproperty(value=nt.NTScalarArrayInt64(value=[-1, 2]))
    uint64_array = pvaproperty(value=nt.NTScalarArrayUInt64(value=[1, 2]))
    float32_array = pvaproperty(value=nt.NTScalarArrayFloat32(value=[0.5, 1.5]))
    float64_array = pvaproperty(value=nt.NTScalarArrayFloat64(value=[0.25, 2.5]))
    string_array = pvaproperty(value=nt.NTScalarArrayString(value=["a", "b"]))

    read_only = pvaproperty(value=1.0, read_only=True)


def main():
    ioc_options, run_options = ioc_arg_parser(
        default_prefix="pva:normative:",
        desc="NTScalar and NTScalarArray PVs of every scalar type.")
    ioc = NormativeIOC(**ioc_options)
    server_info = ServerRPC(prefix=ioc_options["prefix"], server_instance=ioc)
    ioc.pvdb.update(server_info.pvdb)
    run(ioc.pvdb, **run_options)


if __name__ == "__main__":
    main()
