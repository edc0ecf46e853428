"""The alarm state one or more :class:`~caffi.protocol.ChannelData` share
(:class:`ChannelAlarm`, caproto's name) and the event flags (``DBE_*``) of
the changes they post.
"""
import weakref

from ._constants import AlarmSeverity, AlarmStatus, SubscriptionType

__all__ = ["ChannelAlarm", "DBE_VALUE", "DBE_LOG", "DBE_ALARM", "DBE_PROPERTY"]

DBE_VALUE = int(SubscriptionType.DBE_VALUE)
DBE_LOG = int(SubscriptionType.DBE_LOG)
DBE_ALARM = int(SubscriptionType.DBE_ALARM)
DBE_PROPERTY = int(SubscriptionType.DBE_PROPERTY)


class ChannelAlarm:
    """Alarm state (status, severity, acknowledgement) shared by one or more PVs.

    ``must_acknowledge_transient`` is ACKT, ``severity_to_acknowledge`` ACKS:
    the highest severity not yet acknowledged.  As in an IOC, a severity
    rising above ACKS raises ACKS to it; with ACKT off ACKS also follows the
    severity down; writing ACKS at or above the current ACKS clears it.
    """

    def __init__(self, *, status=0, severity=0, must_acknowledge_transient=True,
                 severity_to_acknowledge=0, alarm_string="", string_encoding="latin-1"):
        # the PVs using this alarm, in the order they joined (the order of
        # their posts when the alarm changes)
        self._channels = weakref.WeakKeyDictionary()
        self.string_encoding = string_encoding
        self.status = AlarmStatus(status)
        self.severity = AlarmSeverity(severity)
        self.must_acknowledge_transient = bool(must_acknowledge_transient)
        self.severity_to_acknowledge = AlarmSeverity(severity_to_acknowledge)
        self.alarm_string = alarm_string

    def __repr__(self):
        return "<ChannelAlarm(status=%s, severity=%s)>" % (int(self.status), int(self.severity))

    def __eq__(self, other):
        if not isinstance(other, ChannelAlarm):
            return NotImplemented
        return self._state() == other._state()

    __hash__ = object.__hash__

    def _state(self):
        return (self.status, self.severity, self.must_acknowledge_transient,
                self.severity_to_acknowledge, self.alarm_string)

    def connect(self, channel_data) -> None:
        self._channels[channel_data] = None

    def disconnect(self, channel_data) -> None:
        self._channels.pop(channel_data, None)

    async def read(self, dbr=None):
        """``(status, severity, ackt, acks, alarm_string)``."""
        return (int(self.status), int(self.severity), int(self.must_acknowledge_transient),
                int(self.severity_to_acknowledge), self.alarm_string)

    def apply(self, *, status=None, severity=None, must_acknowledge_transient=None,
              severity_to_acknowledge=None, alarm_string=None) -> int:
        """Change the alarm without publishing; returns the event flags of
        the change (DBE_ALARM, or 0 when nothing changed)."""
        before = self._state()
        if status is not None:
            self.status = status if type(status) is AlarmStatus else AlarmStatus(status)
        if severity is not None:
            self.severity = (severity if type(severity) is AlarmSeverity
                             else AlarmSeverity(severity))
            if not self.must_acknowledge_transient or self.severity > self.severity_to_acknowledge:
                self.severity_to_acknowledge = self.severity
        if must_acknowledge_transient is not None:
            self.must_acknowledge_transient = bool(must_acknowledge_transient)
            if not self.must_acknowledge_transient and \
                    self.severity_to_acknowledge > self.severity:
                self.severity_to_acknowledge = self.severity
        if severity_to_acknowledge is not None:
            if severity_to_acknowledge >= self.severity_to_acknowledge:
                self.severity_to_acknowledge = AlarmSeverity(0)
        if alarm_string is not None:
            self.alarm_string = alarm_string
        return DBE_ALARM if self._state() != before else 0

    async def write(self, *, status=None, severity=None, must_acknowledge_transient=None,
                    severity_to_acknowledge=None, alarm_string=None, flags=0, publish=True):
        """Change the alarm and (with ``publish``) post to every PV using it."""
        flags |= self.apply(status=status, severity=severity,
                            must_acknowledge_transient=must_acknowledge_transient,
                            severity_to_acknowledge=severity_to_acknowledge,
                            alarm_string=alarm_string)
        if publish and flags:
            await self.publish(flags)

    async def publish(self, flags, *, except_for=()):
        for channel in list(self._channels):
            if channel not in except_for:
                channel._alarm_changed(flags)
