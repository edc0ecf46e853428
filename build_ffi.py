"""cffi builder for ``caffi._ca``: API mode, out of line, over epicscorelibs.

The C declarations live in ``caffi/_cdef/*.h`` and are read in name order;
the ``extern "Python"`` trampolines sort last.  Run directly to build in place
(``python build_ffi.py``); ``setup.py`` uses ``ffibuilder`` via
``cffi_modules``.
"""
import os
import sys

from cffi import FFI

import epicscorelibs.path
from epicscorelibs.config import get_config_var

HERE = os.path.dirname(os.path.abspath(__file__))
CDEF_DIR = os.path.join(HERE, "caffi", "_cdef")


def _include_dirs():
    base = epicscorelibs.path.include_path
    dirs = [base]
    # Older epicscorelibs releases keep OS and compiler specific headers in
    # sub-directories; newer ones flatten them into the base directory.
    for sub in (
        os.path.join("os", get_config_var("OS_CLASS")),
        os.path.join("compiler", get_config_var("CMPLR_CLASS")),
    ):
        path = os.path.join(base, sub)
        if os.path.isdir(path):
            dirs.append(path)
    return dirs


def _cdef_text():
    names = sorted(n for n in os.listdir(CDEF_DIR) if n.endswith(".h"))
    parts = []
    for name in names:
        with open(os.path.join(CDEF_DIR, name)) as f:
            parts.append(f.read())
    return "\n".join(parts)


SOURCE = r"""
#include <errno.h>
#ifndef _WIN32
#include <pthread.h>
#endif
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cadef.h>
#include <epicsAtomic.h>
#include <epicsEvent.h>
#include <epicsMutex.h>
#include <epicsThread.h>
#include <db_access.h>
#include <caerr.h>
#include <alarm.h>
#include <epicsTime.h>

/* Exported by libca with C linkage (repeater.cpp) but not in its headers. */
#ifdef __cplusplus
extern "C"
#endif
void caRepeaterThread(void *pDummy);

/* caffi/_cdef/helpers.h */
union caffi_plain {
    dbr_string_t s;
    dbr_short_t h;
    dbr_float_t f;
    dbr_enum_t e;
    dbr_char_t c;
    dbr_long_t l;
    dbr_double_t d;
};

static int caffi_put_double(chid ch, double value, caEventCallBackFunc *cb, void *usr)
{
    if (ca_state(ch) != cs_conn || ca_field_type(ch) != DBR_DOUBLE)
        return -1;
    if (cb == NULL)
        return ca_array_put(DBR_DOUBLE, 1, ch, &value);
    return ca_array_put_callback(DBR_DOUBLE, 1, ch, &value, cb, usr);
}

static double caffi_monotonic(void)
{
    return 1e-9 * (double)epicsMonotonicGet();
}

/* Sleep up to `seconds`: -1 if a signal handler ran meanwhile, else 0. */
static int caffi_sleep(double seconds)
{
    if (seconds <= 0.0)
        return 0;
#ifdef _WIN32
    epicsThreadSleep(seconds);  /* no EINTR: the caller's give_up bounds the wait */
#else
    {
        struct timespec delay;
        delay.tv_sec = (time_t)seconds;
        delay.tv_nsec = (long)((seconds - (double)delay.tv_sec) * 1e9);
        if (nanosleep(&delay, NULL) == -1 && errno == EINTR)
            return -1;
    }
#endif
    return 0;
}

/* The polling interval: an eighth of the time waited so far, within
 * [10 us, 1 ms], and never past `limit`.  A reply is seen at most 12 % (or
 * 10 us) after it arrived, at a few hundred polls a second at most. */
static double caffi_step(double started, double now, double limit)
{
    double step = (now - started) / 8.0;
    if (step < 10e-6)
        step = 10e-6;
    else if (step > 1e-3)
        step = 1e-3;
    if (step > limit - now)
        step = limit - now;
    return step;
}

static int caffi_wait_io(double started, double deadline, double give_up)
{
    int preemptive = ca_preemtive_callback_is_enabled();
    double now = caffi_monotonic();
    double limit = deadline < give_up ? deadline : give_up;
    for (;;) {
        int status = ca_test_io();
        if (status != ECA_IOINPROGRESS)
            return status;
        if (now >= deadline)
            return ECA_TIMEOUT;
        if (now >= give_up)
            return -1;
        if (preemptive) {
            if (caffi_sleep(caffi_step(started, now, limit)) < 0)
                return -1;
        }
        else {
            /* Callbacks run only while the owner thread is in a pend call. */
            ca_pend_event(caffi_step(started, now, limit));
        }
        now = caffi_monotonic();
    }
}

/* caffi/_cdef/helpers.h: synchronous groups */
struct caffi_group {
    epicsEventId done;          /* signalled when pending drops to 0 */
    int pending;                /* changed under the lock, read atomically */
};
struct caffi_request {
    void *dest;
    unsigned long size;
    int status;
    int done;
    int abandoned;
    struct caffi_group *group;
};

/* One lock for all groups, held for a few instructions (and a copy) at a
 * time.  Not an epicsMutex: those inherit priority, which makes every
 * contended lock a system call, and the issuing thread and libca's receive
 * thread contend for it at every request while replies stream in. */
#ifdef _WIN32
static epicsMutexId caffi_groups_lock;
#define CAFFI_LOCK() epicsMutexMustLock(caffi_groups_lock)
#define CAFFI_UNLOCK() epicsMutexUnlock(caffi_groups_lock)

static int caffi_groups_init(void)
{
    if (!caffi_groups_lock)
        caffi_groups_lock = epicsMutexCreate();
    return caffi_groups_lock ? 0 : -1;
}
#else
static pthread_mutex_t caffi_groups_lock = PTHREAD_MUTEX_INITIALIZER;
#define CAFFI_LOCK() pthread_mutex_lock(&caffi_groups_lock)
#define CAFFI_UNLOCK() pthread_mutex_unlock(&caffi_groups_lock)

static int caffi_groups_init(void)
{
    return 0;
}
#endif

static struct caffi_group *caffi_group_new(void)
{
    struct caffi_group *group = calloc(1, sizeof(*group));
    if (!group)
        return NULL;
    group->done = epicsEventCreate(epicsEventEmpty);
    if (!group->done) {
        free(group);
        return NULL;
    }
    return group;
}

static void caffi_group_free(struct caffi_group *group)
{
    epicsEventDestroy(group->done);
    free(group);
}

/* Under the lock: a request of the group reached its end. */
static void caffi_group_count_down(struct caffi_request *request, int status)
{
    struct caffi_group *group = request->group;
    request->status = status;
    request->done = 1;
    if (!request->abandoned && epicsAtomicDecrIntT(&group->pending) == 0)
        epicsEventSignal(group->done);
}

static void caffi_group_done(struct event_handler_args args)
{
    struct caffi_request *request = args.usr;
    CAFFI_LOCK();
    if (!request->done) {
        if (!request->abandoned && request->dest && args.status == ECA_NORMAL && args.dbr) {
            unsigned long size = dbr_size_n(args.type, args.count);
            memcpy(request->dest, args.dbr, size < request->size ? size : request->size);
        }
        caffi_group_count_down(request, args.status);
    }
    CAFFI_UNLOCK();
}

/* No lock: nobody else sees the request before libca has it, and the
 * counter is changed atomically (the completion lowers it under the lock). */
static void caffi_group_issue(struct caffi_group *group, struct caffi_request *request,
                              void *dest, unsigned long size)
{
    request->group = group;
    request->dest = dest;
    request->size = size;
    request->status = 0;
    request->done = 0;
    request->abandoned = 0;
    epicsAtomicIncrIntT(&group->pending);
}

static void caffi_group_refused(struct caffi_request *request, int status)
{
    CAFFI_LOCK();
    caffi_group_count_down(request, status);
    request->abandoned = 1;
    CAFFI_UNLOCK();
}

static int caffi_group_get(struct caffi_group *group, struct caffi_request *request,
                           chtype type, unsigned long count, chid ch, void *dest,
                           unsigned long size)
{
    int status;
    caffi_group_issue(group, request, dest, size);
    status = ca_array_get_callback(type, count, ch, caffi_group_done, request);
    if (status != ECA_NORMAL)
        caffi_group_refused(request, status);
    return status;
}

static int caffi_group_put(struct caffi_group *group, struct caffi_request *request,
                           chtype type, unsigned long count, chid ch, const void *value)
{
    int status;
    caffi_group_issue(group, request, NULL, 0);
    status = ca_array_put_callback(type, count, ch, value, caffi_group_done, request);
    if (status != ECA_NORMAL)
        caffi_group_refused(request, status);
    return status;
}

static unsigned caffi_group_pending(struct caffi_group *group)
{
    unsigned pending;
    CAFFI_LOCK();
    pending = group->pending;
    CAFFI_UNLOCK();
    return pending;
}

static int caffi_request_abandon(struct caffi_request *request)
{
    int done;
    CAFFI_LOCK();
    if (!request->abandoned && !request->done)
        epicsAtomicDecrIntT(&request->group->pending);
    request->abandoned = 1;
    done = request->done;
    CAFFI_UNLOCK();
    return done;
}

static int caffi_request_done(struct caffi_request *request)
{
    int done;
    CAFFI_LOCK();
    done = request->done;
    CAFFI_UNLOCK();
    return done;
}

static int caffi_group_wait(struct caffi_group *group, double started, double deadline,
                            double give_up)
{
    int preemptive = ca_preemtive_callback_is_enabled();
    double now = caffi_monotonic();
    double limit = deadline < give_up ? deadline : give_up;
    for (;;) {
        /* Without the lock: a completion signals while holding it, and the
         * woken waiter would block on it at once. */
        if (epicsAtomicGetIntT(&group->pending) == 0)
            return ECA_IODONE;
        if (now >= deadline)
            return ECA_TIMEOUT;
        if (now >= give_up)
            return -1;
        if (preemptive)
            epicsEventWaitWithTimeout(group->done, limit - now);
        else
            ca_pend_event(caffi_step(started, now, limit));
        now = caffi_monotonic();
    }
}

/* One element of the channel's native plain type, read into *buf as a
 * request of `group` (the context's pend_io group). */
static int caffi_get_plain(chid ch, union caffi_plain *buf, struct caffi_group *group,
                           struct caffi_request *request)
{
    short type = ca_field_type(ch);
    int status;
    if (type < 0 || type > LAST_TYPE || ca_element_count(ch) != 1)
        return -1;
    status = caffi_group_get(group, request, type, 1, ch, buf, dbr_size[type]);
    return status * 16 + type;
}

static int caffi_wait_events(double deadline, double give_up)
{
    double now = caffi_monotonic();
    double limit = deadline < give_up ? deadline : give_up;
    if (limit > now) {
        if (ca_preemtive_callback_is_enabled()) {
            if (caffi_sleep(limit - now) < 0)
                return -1;
        }
        else {
            ca_pend_event(limit - now);
        }
        now = caffi_monotonic();
    }
    return now >= deadline ? ECA_TIMEOUT : -1;
}
"""

ffibuilder = FFI()
ffibuilder.cdef(_cdef_text())

_extra_link_args = []
if sys.platform.startswith("linux"):
    # Where pip puts both packages side by side; caffi/__init__.py also
    # preloads the libraries by soname, which covers every other layout.
    _extra_link_args.append("-Wl,-rpath,$ORIGIN/../epicscorelibs/lib")
elif sys.platform == "darwin":
    _extra_link_args.append("-Wl,-rpath,@loader_path/../epicscorelibs/lib")

ffibuilder.set_source(
    "caffi._ca",
    SOURCE,
    include_dirs=_include_dirs(),
    library_dirs=[epicscorelibs.path.lib_path],
    libraries=["ca", "Com"],
    define_macros=[(k, v) for k, v in get_config_var("CPPFLAGS")],
    extra_link_args=_extra_link_args,
)

if __name__ == "__main__":
    ffibuilder.compile(tmpdir=HERE, verbose=True)
