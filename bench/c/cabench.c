/* cabench: the C baseline for bench/run.py, straight on libca.
 *
 * usage: cabench WORKLOAD key=value ...
 *
 * Workloads mirror bench/workers/ca_*.py (same records, same counts) and print
 * one JSON object on the last stdout line.  Extra commands used by the runner:
 * "fill" writes a ramp into the waveform, "writer" is the monitor-flood writer.
 * Parameters: prefix, n, nchan, base, timeout; nclients (monitor_many), sync
 * (get_seq, get_batch and waveform: READY, then wait for a line on stdin; every
 * workload: after the result, wait for a line before disconnecting).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cadef.h>
#include <epicsEvent.h>

static const char *prefix = "bench:";
static long n = 1000, nchan = 1000, nclients = 1, sync_mode = 0;
static double base = 0.0, timeout = 30.0;

static double wall(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static double cpu(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static long rss_kb(void)
{
    char line[256];
    long kb = -1;
    FILE *f = fopen("/proc/self/status", "r");
    if (!f)
        return -1;
    while (fgets(line, sizeof line, f))
        if (strncmp(line, "VmRSS:", 6) == 0)
            kb = atol(line + 6);
    fclose(f);
    return kb;
}

static void check(int status, const char *what)
{
    if (status != ECA_NORMAL) {
        fprintf(stderr, "cabench: %s: %s\n", what, ca_message(status));
        exit(2);
    }
}

static chid connect_one(const char *suffix)
{
    char name[128];
    chid ch;
    snprintf(name, sizeof name, "%s%s", prefix, suffix);
    check(ca_create_channel(name, NULL, NULL, CA_PRIORITY_DEFAULT, &ch), "create_channel");
    check(ca_pend_io(timeout), "pend_io(connect)");
    return ch;
}

static chid *connect_many(long count)
{
    char name[128];
    chid *chans = calloc(count, sizeof(chid));
    for (long i = 0; i < count; i++) {
        snprintf(name, sizeof name, "%sai%ld", prefix, i);
        check(ca_create_channel(name, NULL, NULL, CA_PRIORITY_DEFAULT, &chans[i]),
              "create_channel");
    }
    check(ca_pend_io(timeout), "pend_io(connect)");
    return chans;
}

/* With sync=1: print READY once set up, then wait for a line on stdin before the
 * timed section (the runner measures the server's CPU around it). */
static void sync_point(void)
{
    char line[64];
    if (!sync_mode)
        return;
    printf("READY\n");
    fflush(stdout);
    if (!fgets(line, sizeof line, stdin)) {
        fprintf(stderr, "cabench: stdin closed before the go line\n");
        exit(3);
    }
}

static void result(double w, double c, long count, const char *extra)
{
    char line[64];
    printf("{\"wall\": %.9f, \"cpu\": %.9f, \"count\": %ld, \"rss_kb\": %ld%s%s}\n",
           w, c, count, rss_kb(), extra ? ", " : "", extra ? extra : "");
    fflush(stdout);
    /* with sync=1 the connections stay until a line (or EOF) on stdin: a
     * server's per-client threads, and the CPU they used, are still there
     * when the runner reads it */
    if (sync_mode && !fgets(line, sizeof line, stdin))
        return;
}

static int wl_connect(void)
{
    double w0 = wall(), c0 = cpu();
    connect_many(nchan);
    result(wall() - w0, cpu() - c0, nchan, NULL);
    return 0;
}

static int wl_get_seq(void)
{
    chid ch = connect_one("ai0");
    double v;
    sync_point();
    double w0 = wall(), c0 = cpu();
    for (long i = 0; i < n; i++) {
        check(ca_get(DBR_DOUBLE, ch, &v), "get");
        check(ca_pend_io(timeout), "pend_io");
    }
    result(wall() - w0, cpu() - c0, n, NULL);
    return 0;
}

static int wl_get_batch(void)
{
    chid *chans = connect_many(nchan);
    double *values = malloc(n * sizeof(double));
    sync_point();
    double w0 = wall(), c0 = cpu();
    for (long i = 0; i < n; i++)
        check(ca_get(DBR_DOUBLE, chans[i % nchan], &values[i]), "get");
    check(ca_pend_io(timeout), "pend_io");
    result(wall() - w0, cpu() - c0, n, NULL);
    return 0;
}

/* What caget_many must match: create all, one pend_io, get all, one pend_io. */
static int wl_get_many(void)
{
    double *values = malloc(nchan * sizeof(double));
    double w0 = wall(), c0 = cpu();
    chid *chans = connect_many(nchan);
    for (long i = 0; i < nchan; i++)
        check(ca_get(DBR_DOUBLE, chans[i], &values[i]), "get");
    check(ca_pend_io(timeout), "pend_io");
    result(wall() - w0, cpu() - c0, nchan, NULL);
    return 0;
}

static epicsEventId done;
static long put_status;

static void put_done(struct event_handler_args args)
{
    put_status = args.status;
    epicsEventSignal(done);
}

static int wl_put_cb(void)
{
    chid ch = connect_one("put");
    done = epicsEventMustCreate(epicsEventEmpty);
    double w0 = wall(), c0 = cpu();
    for (long i = 0; i < n; i++) {
        double v = (double)i;
        check(ca_put_callback(DBR_DOUBLE, ch, &v, put_done, NULL), "put_callback");
        ca_flush_io();
        if (epicsEventWaitWithTimeout(done, timeout) != epicsEventWaitOK)
            check(ECA_TIMEOUT, "put callback");
        check((int)put_status, "put callback status");
    }
    result(wall() - w0, cpu() - c0, n, NULL);
    return 0;
}

static volatile long events;
static double first_event, last_event, target;

static void on_event(struct event_handler_args args)
{
    double v = *(const double *)args.dbr;
    if (v <= base)
        return;                 /* the initial value, left by an earlier run */
    double now = wall();
    if (events == 0)
        first_event = now;
    events++;
    last_event = now;
    if (v >= target)
        epicsEventSignal(done);
}

static int wl_monitor(void)
{
    chid ch = connect_one("flood");
    evid ev;
    done = epicsEventMustCreate(epicsEventEmpty);
    target = base + n;
    check(ca_create_subscription(DBR_DOUBLE, 1, ch, DBE_VALUE, on_event, NULL, &ev),
          "create_subscription");
    ca_flush_io();
    printf("READY\n");
    fflush(stdout);
    double c0 = cpu();
    if (epicsEventWaitWithTimeout(done, timeout) != epicsEventWaitOK)
        check(ECA_TIMEOUT, "monitor flood");
    double c = cpu() - c0;
    char extra[128];
    snprintf(extra, sizeof extra, "\"lost\": %ld", n - events);
    result(last_event - first_event, c, events, extra);
    return 0;
}

static int wl_waveform(void)
{
    chid ch = connect_one("wf");
    unsigned long count = ca_element_count(ch);
    double *buf = malloc(count * sizeof(double));
    sync_point();
    double w0 = wall(), c0 = cpu();
    for (long i = 0; i < n; i++) {
        check(ca_array_get(DBR_DOUBLE, count, ch, buf), "array_get");
        check(ca_pend_io(timeout), "pend_io");
    }
    double w = wall() - w0, c = cpu() - c0;
    char extra[128];
    snprintf(extra, sizeof extra, "\"bytes\": %.0f", (double)n * count * sizeof(double));
    result(w, c, n, extra);
    return 0;
}

static int wl_ctrl_time(void)
{
    chid *chans = connect_many(nchan);
    struct dbr_ctrl_double *ctrl = malloc(n * sizeof *ctrl);
    struct dbr_time_double *tm = malloc(n * sizeof *tm);
    double w0 = wall(), c0 = cpu();
    for (long i = 0; i < n; i++)
        check(ca_get(DBR_CTRL_DOUBLE, chans[i % nchan], &ctrl[i]), "get ctrl");
    check(ca_pend_io(timeout), "pend_io");
    double w_ctrl = wall() - w0, c_ctrl = cpu() - c0;
    w0 = wall(), c0 = cpu();
    for (long i = 0; i < n; i++)
        check(ca_get(DBR_TIME_DOUBLE, chans[i % nchan], &tm[i]), "get time");
    check(ca_pend_io(timeout), "pend_io");
    double w_time = wall() - w0, c_time = cpu() - c0;
    char extra[256];
    snprintf(extra, sizeof extra,
             "\"wall_ctrl\": %.9f, \"cpu_ctrl\": %.9f, \"wall_time\": %.9f, \"cpu_time\": %.9f",
             w_ctrl, c_ctrl, w_time, c_time);
    result(w_ctrl + w_time, c_ctrl + c_time, 2 * n, extra);
    return 0;
}

/* nclients circuits (libca opens one per priority) each subscribing to the
 * nchan ai records; the result once every initial update arrived, then the
 * subscriptions are held until a line (or EOF) on stdin. */
static long mm_events, mm_target;

static void mm_event(struct event_handler_args args)
{
    (void)args;
    if (__sync_add_and_fetch(&mm_events, 1) == mm_target)
        epicsEventSignal(done);
}

static int wl_monitor_many(void)
{
    char name[128];
    long total = nclients * nchan;
    chid *chans = calloc(total, sizeof(chid));
    evid *evs = calloc(total, sizeof(evid));
    if (nclients > CA_PRIORITY_MAX + 1) {
        fprintf(stderr, "cabench: at most %d clients (one per priority)\n", CA_PRIORITY_MAX + 1);
        return 1;
    }
    done = epicsEventMustCreate(epicsEventEmpty);
    mm_target = total;
    double w0 = wall(), c0 = cpu();
    for (long p = 0; p < nclients; p++)
        for (long i = 0; i < nchan; i++) {
            snprintf(name, sizeof name, "%sai%ld", prefix, i);
            check(ca_create_channel(name, NULL, NULL, (capri)p, &chans[p * nchan + i]),
                  "create_channel");
        }
    check(ca_pend_io(timeout), "pend_io(connect)");
    for (long k = 0; k < total; k++)
        check(ca_create_subscription(DBR_DOUBLE, 1, chans[k], DBE_VALUE, mm_event, NULL,
                                     &evs[k]), "create_subscription");
    ca_flush_io();
    if (epicsEventWaitWithTimeout(done, timeout) != epicsEventWaitOK)
        check(ECA_TIMEOUT, "initial updates");
    result(wall() - w0, cpu() - c0, total, NULL);
    char line[64];
    if (!sync_mode && !fgets(line, sizeof line, stdin))
        return 0;
    return 0;
}

static int wl_import_mem(void)
{
    long rss0 = rss_kb();
    double w0 = wall(), c0 = cpu();
    check(ca_context_create(ca_enable_preemptive_callback), "context_create");
    connect_many(nchan);
    char extra[128];
    snprintf(extra, sizeof extra, "\"rss0_kb\": %ld", rss0);
    result(wall() - w0, cpu() - c0, nchan, extra);
    return 0;
}

static int cmd_fill(void)
{
    chid ch = connect_one("wf");
    unsigned long count = ca_element_count(ch);
    double *buf = malloc(count * sizeof(double));
    for (unsigned long i = 0; i < count; i++)
        buf[i] = (double)i;
    check(ca_array_put(DBR_DOUBLE, count, ch, buf), "array_put");
    check(ca_pend_io(timeout), "pend_io");
    /* a get round trip makes sure the put was processed */
    check(ca_array_get(DBR_DOUBLE, count, ch, buf), "array_get");
    check(ca_pend_io(timeout), "pend_io");
    result(0, 0, (long)count, NULL);
    return 0;
}

static int cmd_writer(void)
{
    chid ch = connect_one("flood");
    double w0 = wall(), c0 = cpu();
    for (long i = 1; i <= n; i++) {
        double v = base + i;
        check(ca_put(DBR_DOUBLE, ch, &v), "put");
    }
    double v;
    check(ca_get(DBR_DOUBLE, ch, &v), "get");    /* round trip: all puts were taken */
    check(ca_pend_io(timeout), "pend_io");
    result(wall() - w0, cpu() - c0, n, NULL);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: cabench WORKLOAD key=value ...\n");
        return 1;
    }
    for (int i = 2; i < argc; i++) {
        char *eq = strchr(argv[i], '=');
        if (!eq)
            continue;
        *eq = '\0';
        const char *k = argv[i], *v = eq + 1;
        if (!strcmp(k, "prefix")) prefix = v;
        else if (!strcmp(k, "n")) n = atol(v);
        else if (!strcmp(k, "nchan")) nchan = atol(v);
        else if (!strcmp(k, "base")) base = atof(v);
        else if (!strcmp(k, "timeout")) timeout = atof(v);
        else if (!strcmp(k, "nclients")) nclients = atol(v);
        else if (!strcmp(k, "sync")) sync_mode = atol(v);
    }
    const char *w = argv[1];
    if (!strcmp(w, "import_mem"))
        return wl_import_mem();
    check(ca_context_create(ca_enable_preemptive_callback), "context_create");
    if (!strcmp(w, "connect")) return wl_connect();
    if (!strcmp(w, "get_seq")) return wl_get_seq();
    if (!strcmp(w, "caget_one")) return wl_get_seq();   /* the C round trip */
    if (!strcmp(w, "caget_many")) return wl_get_many();
    if (!strcmp(w, "get_batch")) return wl_get_batch();
    if (!strcmp(w, "put_cb")) return wl_put_cb();
    if (!strcmp(w, "monitor")) return wl_monitor();
    if (!strcmp(w, "waveform")) return wl_waveform();
    if (!strcmp(w, "ctrl_time")) return wl_ctrl_time();
    if (!strcmp(w, "fill")) return cmd_fill();
    if (!strcmp(w, "writer")) return cmd_writer();
    if (!strcmp(w, "monitor_many")) return wl_monitor_many();
    fprintf(stderr, "cabench: unknown workload %s\n", w);
    return 1;
}
