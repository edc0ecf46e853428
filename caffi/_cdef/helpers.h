/* Helpers compiled into caffi._ca from build_ffi.py's SOURCE (not libca API):
 * the hot paths that would otherwise take several calls across cffi. */

/* Room for one element of any plain DBR type (DBR_STRING .. DBR_DOUBLE). */
union caffi_plain {
    dbr_string_t s;
    dbr_short_t h;
    dbr_float_t f;
    dbr_enum_t e;
    dbr_char_t c;
    dbr_long_t l;
    dbr_double_t d;
};



/* A put of one double to a connected channel of native type DBR_DOUBLE, with
 * ca_array_put_callback(cb, usr) when cb is not NULL, else ca_array_put
 * (libca copies the value during the call): the ECA status.  -1 (no request
 * made) for any other channel. */
int caffi_put_double(chid ch, double value, caEventCallBackFunc *cb, void *usr);

/* Interruptible waits (caffi/_wait.py).  libca's ca_pend_io, ca_pend_event
 * and ca_sg_block wait on condition variables that no signal interrupts, so
 * Ctrl-C would wait for them.  These helpers wait in short sleeps instead, and
 * return to Python as soon as a signal handler ran, so that Python can raise
 * KeyboardInterrupt. */

/* CLOCK_MONOTONIC in seconds. */
double caffi_monotonic(void);

/* Wait until the requests ca_pend_io waits for completed (ca_test_io), the
 * monotonic time deadline passed, a signal handler ran, or the time give_up
 * passed.  started is when the whole wait began (the polling interval grows
 * with the time waited).  Returns ECA_IODONE, ECA_TIMEOUT (deadline passed)
 * or -1 (signal or give_up: call again after Python handled signals). */
int caffi_wait_io(double started, double deadline, double give_up);

/* Process CA activity until the monotonic time deadline, as ca_pend_event:
 * ECA_TIMEOUT when it passed, -1 when a signal handler ran or give_up passed
 * first (call again). */
int caffi_wait_events(double deadline, double give_up);

/* Synchronous groups (caffi/_sg.py).  libca's ca_sg_test locks its context
 * mutex before the callback mutex, the reverse of libca's receive threads,
 * so polling it while replies arrive deadlocks (aborts, with priority
 * inheriting mutexes); and ca_sg_block cannot be interrupted.  caffi keeps
 * its own groups: each request is a ca_array_get_callback or
 * ca_array_put_callback whose completion (caffi_group_done, in C) copies the
 * data and counts down the group.  One lock serves all groups. */
struct caffi_group;
struct caffi_request {
    void *dest;                 /* get: where the value goes; NULL for a put */
    unsigned long size;         /* bytes at dest */
    int status;                 /* ECA status of the completion, 0 until then */
    int done;                   /* the completion came (or never will) */
    int abandoned;              /* the group forgot it: copy nothing */
    ...;
};

/* Once at import: the lock of all groups (0, or -1 without memory). */
int caffi_groups_init(void);
/* A new group, or NULL without memory; caffi_group_free after
 * caffi_group_abandon of each of its requests. */
struct caffi_group *caffi_group_new(void);
void caffi_group_free(struct caffi_group *group);
/* Issue a request of the group: ECA status of ca_array_get/put_callback. */
int caffi_group_get(struct caffi_group *group, struct caffi_request *request,
                    chtype type, unsigned long count, chid ch, void *dest,
                    unsigned long size);
int caffi_group_put(struct caffi_group *group, struct caffi_request *request,
                    chtype type, unsigned long count, chid ch, const void *value);
/* Requests of the group not yet complete. */
unsigned caffi_group_pending(struct caffi_group *group);
/* Forget a request: its completion will copy nothing and count nothing.
 * Returns 1 if it had completed (libca calls back no more), else 0. */
int caffi_request_abandon(struct caffi_request *request);
/* Whether a request completed (libca calls back no more). */
int caffi_request_done(struct caffi_request *request);
/* Wait as caffi_wait_io, for the group's pending requests. */
int caffi_group_wait(struct caffi_group *group, double started, double deadline,
                     double give_up);

/* A read of the channel's one element of its native plain type into *buf,
 * as a request of group (caffi_group_get): returns status * 16 + type.  -1
 * (no request made) for a channel without a native type (never connected, or
 * disconnected), a non-plain type or an element count other than 1. */
int caffi_get_plain(chid ch, union caffi_plain *buf, struct caffi_group *group,
                    struct caffi_request *request);
