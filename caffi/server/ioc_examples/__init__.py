"""Example IOCs: ``python -m caffi.server.ioc_examples.NAME --list-pvs``.

``simple`` (a few PVs with a putter), ``thermo_sim`` (a thermometer
simulation: a setpoint, a readback following it, a scan hook), ``records``
(pvproperties that answer record fields), ``waveform`` (an array source),
``enums`` (an enum state machine), ``random_walk`` (the server of the
Channel Access tutorial).
"""
