"""libca requests whose callbacks receive libca's own arguments.

caffi.aio converts a DBR buffer straight into an augmented value inside the
callback (libca lends the buffer for the duration of the call only), so its
subscriptions and get/put completions skip the dict that :mod:`caffi.ca`
builds.  They are kinds of the handle objects of :mod:`caffi._ids` and
follow its rules: registered until libca's final callback or the clear call,
tracked by their channel, so clearing the channel or destroying the context
invalidates them and a late callback finds nothing.
"""
from .._ffi import ffi, lib
from .._ids import Request, Subscription

__all__ = ["RawSubscription", "RawRequest", "subscribe", "unsubscribe", "get", "put"]

_NORMAL = lib.ECA_NORMAL
_EVENT_CB = lib._caffi_event_cb
_REQUEST_CB = lib._caffi_request_cb
_BADCHID = lib.ECA_BADCHID


class RawSubscription(Subscription):
    """A subscription whose callback is called with libca's ``event_handler_args``."""

    __slots__ = ()

    def on_event(self, args):
        self.callback(args)


class RawRequest(Request):
    """A get or put callback called once with libca's ``event_handler_args``."""

    __slots__ = ()

    def on_done(self, args):
        self.cancel()
        self.callback(args)


def subscribe(chid, callback, dbrcode, count, mask):
    """``ca_create_subscription`` on caffi channel *chid*: ``(status, evid or None)``."""
    if chid.ptr is None:
        return _BADCHID, None
    subscription = RawSubscription(chid, callback, False)
    pevid = ffi.new("evid *")
    status = lib.ca_create_subscription(dbrcode, count, chid.ptr, mask, _EVENT_CB,
                                        subscription.usr, pevid)
    if status != _NORMAL:
        subscription.invalidate()
        return status, None
    subscription.ptr = pevid[0]
    chid.subscriptions.add(subscription)
    return status, subscription


def unsubscribe(subscription):
    """``ca_clear_subscription``; nothing for one already cleared (or its channel)."""
    ptr = subscription.ptr
    if ptr is None:
        return _NORMAL
    subscription.ptr = None
    status = lib.ca_clear_subscription(ptr)
    subscription.invalidate()
    return status


def get(chid, callback, dbrcode, count):
    """``ca_array_get_callback``: the status (the callback comes only after NORMAL)."""
    if chid.ptr is None:
        return _BADCHID
    request = RawRequest(chid, callback, False, True)
    status = lib.ca_array_get_callback(dbrcode, count, chid.ptr, _REQUEST_CB, request.usr)
    if status != _NORMAL:
        request.cancel()
    return status


def put(chid, callback, dbrcode, count, buffer):
    """``ca_array_put_callback``, or ``ca_array_put`` when *callback* is None."""
    if chid.ptr is None:
        return _BADCHID
    if callback is None:
        return lib.ca_array_put(dbrcode, count, chid.ptr, buffer)
    request = RawRequest(chid, callback, False, False)
    status = lib.ca_array_put_callback(dbrcode, count, chid.ptr, buffer, _REQUEST_CB,
                                       request.usr)
    if status != _NORMAL:
        request.cancel()
    return status
