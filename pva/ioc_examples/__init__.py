"""Example IOCs; run one with ``python -m pva.ioc_examples.NAME --prefix P: --list-pvs``.

- :mod:`~pva.ioc_examples.normative` -- NTScalar / NTScalarArray of every scalar type
- :mod:`~pva.ioc_examples.group` -- a PVAGroup with a startup loop, a putter and RPC
- :mod:`~pva.ioc_examples.table` -- an NTTable (rows appended over RPC)
- :mod:`~pva.ioc_examples.ndarray` -- an NTNDArray image source
- :mod:`~pva.ioc_examples.advanced` -- a plain pvdb dict of DataWrapperBase entries
"""
