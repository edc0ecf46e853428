"""Command-line tools: pvget, pvput, pvmonitor, pvinfo, pvcall, pvlist.

Run as ``python -m pva.cli.pvget ...`` (or the console scripts).  Options
follow pvxs/pvAccessCPP: ``-w`` timeout, ``-r`` pvRequest, ``-M`` output
mode (``nt``, ``raw``, ``json``), ``-v`` verbose.  Configuration comes from
the ``EPICS_PVA_*`` environment variables.
"""
__all__ = ["pvget", "pvput", "pvmonitor", "pvinfo", "pvcall", "pvlist"]
