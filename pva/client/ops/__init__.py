"""Client operations, one module each, on the shared channels of a
:class:`~pva.client.core.ClientCore` (as pvxs's ``clientget.cpp``,
``clientmon.cpp``...): :mod:`.get`, :mod:`.put`, :mod:`.put_get`, :mod:`.rpc`,
:mod:`.process`, :mod:`.array`, :mod:`.info`, :mod:`.monitor`; what they
share is in :mod:`.base`.

An operation waits until its channel is connected, then runs its request
(INIT, then one execution marked "last" so the server destroys it); it runs
again when its channel reconnects.  Results go to the callback given to the
operation: ``callback(result, exception)`` for one-shot operations,
``on_event(item)`` for monitors.

These modules are loop-free: they send through the channel's circuit and
never wait.
"""
