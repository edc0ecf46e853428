"""caffi.aio: caget, caput, connect, cainfo and their errors against the soft IOC."""
import asyncio
import time

import numpy
import pytest
from epicscorelibs.ca import cadef
from epicscorelibs.ca import dbr as edbr

import _ioc
from caffi import _shared, ca
from caffi.aio import (DBR_CHAR_STR, DBR_DOUBLE, DBR_ENUM_STR, DBR_STRING, FORMAT_CTRL,
                       FORMAT_TIME, CAException, CAInfo, CANothing, Disconnected, caget,
                       cainfo, caput, connect, get_channel_infos, purge_channel_caches)

NE = "caffi:aio:does:not:exist"


def run(coro, timeout=30.0):
    return asyncio.run(asyncio.wait_for(coro, timeout))


@pytest.fixture
def aio(ioc, record_baseline):
    """The session IOC's record names; caffi.aio's channels cleared afterwards."""
    yield lambda suffix: ioc.prefix + suffix
    purge_channel_caches()


# Reading ------------------------------------------------------------------------------
def test_caget_native_types(aio):
    async def main():
        return await caget([aio("ai"), aio("longin"), aio("stringin"), aio("mbbi"),
                            aio("short"), aio("float"), aio("char")])
    ai, longin, stringin, mbbi, short, flt, char = run(main())
    assert type(ai) is edbr.ca_float and ai == 1.5
    assert type(longin) is edbr.ca_int and longin == 42
    assert type(stringin) is edbr.ca_str and stringin == "hello"
    assert type(mbbi) is edbr.ca_int and mbbi == 2
    for value in (short, flt, char):    # one-element waveforms: scalars
        assert type(value) in (edbr.ca_int, edbr.ca_float)
    assert (ai.name, ai.ok, ai.datatype, ai.element_count) == (aio("ai"), True, 6, 1)
    assert (stringin.datatype, mbbi.datatype, char.datatype) == (0, 3, 4)
    assert not hasattr(ai, "timestamp")   # FORMAT_RAW: no time stamp


def test_caget_arrays_and_count(aio, ioc):
    ioc.dbpf_array(aio("wf:double"), [1.5, 2.5, 3.5])
    ioc.dbpf_array(aio("wf:string"), ["a", "bc"])

    async def main():
        return (await caget(aio("wf:double")), await caget(aio("wf:double"), count=-1),
                await caget(aio("wf:double"), count=2), await caget(aio("wf:double"), count=99),
                await caget(aio("wf:string")), await caget(aio("wf:double"), count=1))
    dynamic, full, two, clamped, strings, one = run(main())
    assert isinstance(dynamic, edbr.ca_array) and dynamic.dtype == numpy.float64
    assert list(dynamic) == [1.5, 2.5, 3.5]             # count 0: the server's length
    assert len(full) == 16 and list(full[:3]) == [1.5, 2.5, 3.5]
    assert list(two) == [1.5, 2.5] and len(clamped) == 16
    assert list(strings) == ["a", "bc"] and strings.element_count == 16
    assert isinstance(one, edbr.ca_array) and list(one) == [1.5]   # still an array PV


def test_caget_datatypes(aio, ioc):
    ioc.dbpf(aio("longstr"), "long text")

    async def main():
        return (await caget(aio("mbbi"), datatype=DBR_ENUM_STR),
                await caget(aio("longin"), datatype=DBR_STRING),
                await caget(aio("longin"), datatype=float),
                await caget(aio("longstr"), datatype=DBR_CHAR_STR),
                await caget(aio("ai"), datatype=DBR_ENUM_STR),
                await caget(aio("stringin.VAL$")))
    label, text, number, longstr, unchanged, dollar = run(main())
    assert label == "two" and type(label) is edbr.ca_str
    assert text == "42" and type(text) is edbr.ca_str and text.datatype == 0
    assert number == 42.0 and type(number) is edbr.ca_float and number.datatype == DBR_DOUBLE
    assert longstr == "long text"
    assert unchanged == 1.5 and type(unchanged) is edbr.ca_float
    assert dollar == "hello" and dollar.datatype == 4    # a name ending in $: CHAR as text


def test_caget_time_and_ctrl(aio, ioc):
    before = time.time()
    ioc.dbpf(aio("scratch"), 4.25)
    after = time.time()

    async def main():
        return (await caget(aio("scratch"), format=FORMAT_TIME),
                await caget(aio("alarm"), format=FORMAT_TIME),
                await caget(aio("ai"), format=FORMAT_CTRL),
                await caget(aio("mbbi"), format=FORMAT_CTRL),
                await caget(aio("stringin"), format=FORMAT_CTRL))
    stamped, alarm, ctrl, enum, text = run(main())
    assert stamped == 4.25
    assert before - 1 <= stamped.timestamp <= after + 1
    secs, nsec = stamped.raw_stamp
    assert abs(secs + nsec * 1e-9 - stamped.timestamp) < 1e-6
    assert (alarm.severity, alarm.status) == (2, 3)       # MAJOR, HIHI
    assert ctrl.units == "mm" and ctrl.precision == 3
    assert (ctrl.upper_disp_limit, ctrl.lower_disp_limit) == (100, -100)
    assert (ctrl.upper_alarm_limit, ctrl.upper_warning_limit) == (90, 80)
    assert (ctrl.lower_warning_limit, ctrl.lower_alarm_limit) == (-80, -90)
    assert enum == 2 and enum.enums == ["zero", "one", "two"]
    assert text == "hello" and hasattr(text, "timestamp")  # CTRL of a string: TIME


def test_caget_failures(aio):
    async def main():
        mixed = await caget([aio("ai"), NE], timeout=0.5, throw=False)
        with pytest.raises(CANothing) as many:
            await caget([aio("ai"), NE], timeout=0.5)
        with pytest.raises(CANothing) as one:
            await caget(NE, timeout=(time.time() + 0.3,))
        alone = await caget(NE, timeout=0.2, throw=False)
        return mixed, many.value, one.value, alone
    mixed, many, one, alone = run(main())
    assert mixed[0] == 1.5 and mixed[0].ok
    assert type(mixed[1]) is CANothing and not mixed[1] and mixed[1].errorcode == 80
    assert repr(many) == "CANothing('Multiple PVs', 80)"
    assert repr(one) == "CANothing(%r, 80)" % NE
    assert str(one) == NE + ": User specified timeout on IO operation expired"
    assert repr(alone) == repr(one) and not alone.ok


def test_caget_timeout_none_waits(aio):
    async def main():
        return await asyncio.wait_for(caget(aio("ai"), timeout=None), 10)
    assert run(main()) == 1.5


def test_caget_cancelled_forgets_its_wait(aio):
    async def main():
        from caffi.aio._channels import cache
        task = asyncio.ensure_future(caget(NE, timeout=None))
        while NE not in cache().channels:
            await asyncio.sleep(0.01)
        waiting = len(cache().channels[NE]._waiters)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        return waiting, len(cache().channels[NE]._waiters), get_channel_infos()
    waiting, left, infos = run(main())
    assert (waiting, left) == (1, 0)
    assert [(i.name, i.connected) for i in infos] == [(NE, False)]


def test_disconnected_channel_raises_disconnected(private_ioc):
    server = private_ioc()
    name = server.prefix + "ai"

    async def main():
        assert await caget(name) == 1.5
        from caffi.aio._channels import cache
        channel = cache().channels[name]
        server.stop()
        # Block the loop until libca saw the disconnection: the loop has not
        # been told yet, so the get is tried and refused by libca's state.
        _ioc.wait_for(lambda: not channel.libca_connected(), 10, "libca disconnect")
        assert channel.connected
        with pytest.raises(Disconnected) as raised:
            await caget(name, timeout=1)
        refused = await caget(name, timeout=1, throw=False)
        while channel.connected:            # until the loop heard of it
            await asyncio.sleep(0.01)
        failed = await caget(name, timeout=0.5, throw=False)
        return raised.value, refused, failed
    try:
        raised, refused, failed = run(main())
    finally:
        purge_channel_caches()
    assert isinstance(raised, cadef.Disconnected) and raised.name == name
    assert refused.errorcode == 192
    assert failed.errorcode == 80   # the loop knows now: waits, and times out


# Writing ----------------------------------------------------------------------------
def test_caput_values(aio, ioc):
    async def main():
        done = await caput(aio("scratch"), 12.5, wait=True)
        first = await caget(aio("scratch"))
        texts = await caput([aio("longout"), aio("stringout")], "44", wait=True)
        after_text = await caget([aio("longout"), aio("stringout")])
        pair = await caput((aio("longout"), aio("stringout")), [45, "abc"], wait=True)
        after_pair = await caget([aio("longout"), aio("stringout")])
        await caput(aio("wf:long"), [1, 2, 3], wait=True)
        await caput(aio("longstr"), "a long text", datatype=DBR_CHAR_STR, wait=True)
        await caput(aio("mbbo"), "three", wait=True)
        return (done, first, texts, after_text, pair, after_pair,
                await caget(aio("wf:long")), await caget(aio("longstr"), datatype=DBR_CHAR_STR),
                await caget(aio("mbbo")))
    done, first, texts, after_text, pair, after_pair, wf, longstr, mbbo = run(main())
    assert type(done) is CANothing and done.ok and done.name == aio("scratch")
    assert first == 12.5
    assert [t.ok for t in texts] == [True, True] and after_text == [44, "44"]
    assert after_pair == [45, "abc"]
    assert list(wf) == [1, 2, 3]
    assert longstr == "a long text"
    assert mbbo == 3
    assert ioc.dbgf(aio("scratch")).split()[-1] == "12.5"


def test_caput_refused(aio):
    readonly = aio("short.NELM")

    async def main():
        with pytest.raises(CAException) as refused:
            await caput(readonly, 43)
        denied = await caput(readonly, 43, throw=False)
        with pytest.raises(CAException) as long_string:
            await caput(aio("stringout"), "x" * 40)
        with pytest.raises(ValueError):
            await caput([aio("scratch"), aio("ao")], [1, 2, 3])
        return refused.value, denied, long_string.value
    refused, denied, long_string = run(main())
    assert isinstance(refused, cadef.CAException) and refused.status == ca.ECA.NOWTACCESS
    assert str(refused) == "Write access denied calling ca_array_put"
    assert not denied and str(denied).endswith("Write access denied")
    assert long_string.status == int(ca.ECA.STRTOBIG)


def test_caput_repeat_value(aio):
    async def main():
        await caput([aio("scratch"), aio("ao")], 7, wait=True)
        first = await caget([aio("scratch"), aio("ao")])
        await caput([aio("wf:long"), aio("wf:short")], [4, 5], repeat_value=True, wait=True)
        return first, await caget([aio("wf:long"), aio("wf:short")])
    first, arrays = run(main())
    assert first == [7, 7]
    assert [list(a) for a in arrays] == [[4, 5], [4, 5]]


# connect and cainfo --------------------------------------------------------------------
def test_connect_and_cainfo(aio):
    async def main():
        one = await connect(aio("ai"))
        two = await connect([aio("stringin"), NE], timeout=0.3, throw=False)
        lazy = await connect(aio("longin"), wait=False)
        infos = await cainfo([aio("wf:short"), aio("stringin")])
        info = await cainfo(aio("ao"))
        return one, two, lazy, infos, info
    one, two, lazy, infos, info = run(main())
    assert type(one) is CANothing and one.ok
    assert [x.ok for x in two] == [True, False] and two[1].errorcode == 80
    assert lazy.ok
    assert [i.datatype for i in infos] == [1, 0] and infos[0].count == 16
    assert isinstance(info, CAInfo) and info.ok and info.name == aio("ao")
    assert info.state_strings[info.state] == "connected"
    assert info.read is True and info.write is True
    assert info.datatype_strings[info.datatype] == "double" and info.count == 1
    assert str(info).startswith(aio("ao") + ":\n    State: connected\n    Host: ")


def test_cainfo_of_a_stopped_server(private_ioc):
    server = private_ioc()
    name = server.prefix + "longout"

    async def main():
        await connect(name)
        server.stop()
        from caffi.aio._channels import cache
        channel = cache().channels[name]
        while channel.connected:            # until the loop heard of it
            await asyncio.sleep(0.01)
        return await cainfo(name, wait=False)
    try:
        info = run(main())
    finally:
        purge_channel_caches()
    assert str(info) == ("%s:\n    State: previously connected\n    Host: <disconnected>\n"
                         "    Access: False, False\n    Data type: no access\n    Count: 0"
                         % name)


def test_channel_cache_per_loop_in_the_shared_context(aio):
    async def main():
        await caget(aio("ai"))
        await caget([aio("ai"), aio("ao")])
        return ca.current_context(), [i.name for i in get_channel_infos()]
    context, names = run(main())
    assert context is _shared.context()
    assert names == [aio("ai"), aio("ao")]      # one channel per name

    async def other():
        return [i.name for i in get_channel_infos()]
    assert run(other()) == []                   # a new loop has its own cache


def test_errors_are_aiocas():
    good, bad = CANothing("pv"), CANothing("pv", 192)
    assert good and not bad and bad.errorcode == 192
    with pytest.raises(TypeError):
        iter(good)
    assert str(bad) == "pv: Virtual circuit disconnect"
    assert issubclass(CAException, cadef.CAException)
    assert issubclass(Disconnected, cadef.Disconnected)


def test_bad_arguments_raise_clearly(aio):
    async def main():
        with pytest.raises(edbr.InvalidDatatype):
            await caget(aio("ai"), datatype=complex, throw=False)
        with pytest.raises(edbr.InvalidDatatype):
            await caget(aio("ai"), format=7)
        with pytest.raises(TypeError):
            await caget(42)
        with pytest.raises(ValueError):
            await caput(aio("wf:double"), [[1, 2], [3, 4]])
        bad_name = await caget("with\0nul", throw=False)
        return bad_name
    bad_name = run(main())
    assert not bad_name and bad_name.errorcode == int(ca.ECA.BADSTR)
    with pytest.raises(RuntimeError):
        from caffi.aio import camonitor
        camonitor(aio("ai"), print)         # no running event loop
