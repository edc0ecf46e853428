"""Server operations, one module each (as pvxs's ``serverget.cpp``,
``servermon.cpp``...): :mod:`.get`, :mod:`.put`, :mod:`.put_get`,
:mod:`.process`, :mod:`.rpc`, :mod:`.monitor`, :mod:`.array`, :mod:`.field`;
what they share (the operation object, the INIT checks, the field selection
of a pvRequest) is in :mod:`.base`.

Each module has the handler of its request message, ``on_<op>(circuit,
msg)``, called by :class:`~pva.server.circuit.ServerCircuit` after the
circuit validated the message, and the execution as a coroutine the circuit
starts eagerly.  Loop-free: the reactor runs the coroutines.
"""
