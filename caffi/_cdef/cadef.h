/* Declarations from cadef.h that caffi binds.  Types are opaque where the
 * C library keeps them opaque; ``...;`` lets the compiler fill in layouts. */

typedef struct oldChannelNotify *chid;
typedef chid chanId;
typedef long chtype;
typedef struct oldSubscription *evid;
typedef double ca_real;
typedef unsigned CA_SYNC_GID;
typedef unsigned capri;
struct ca_client_context;

struct connection_handler_args {
    chanId chid;
    long op;
};

typedef struct ca_access_rights {
    unsigned read_access:1;
    unsigned write_access:1;
} caar;

struct access_rights_handler_args {
    chanId chid;
    caar ar;
};

typedef struct event_handler_args {
    void *usr;
    chanId chid;
    long type;
    long count;
    const void *dbr;
    int status;
} evargs;

struct exception_handler_args {
    void *usr;
    chanId chid;
    long type;
    long count;
    void *addr;
    long stat;
    long op;
    const char *ctx;
    const char *pFile;
    unsigned lineNo;
};

typedef void caCh(struct connection_handler_args args);
typedef void caArh(struct access_rights_handler_args args);
typedef void caEventCallBackFunc(struct event_handler_args);
typedef void caExceptionHandler(struct exception_handler_args);

enum channel_state { cs_never_conn, cs_prev_conn, cs_conn, cs_closed };
enum ca_preemptive_callback_select {
    ca_disable_preemptive_callback, ca_enable_preemptive_callback
};

#define CA_OP_GET ...
#define CA_OP_PUT ...
#define CA_OP_CREATE_CHANNEL ...
#define CA_OP_ADD_EVENT ...
#define CA_OP_CLEAR_EVENT ...
#define CA_OP_OTHER ...
#define CA_OP_CONN_UP ...
#define CA_OP_CONN_DOWN ...
#define CA_PRIORITY_MAX ...
#define CA_PRIORITY_MIN ...
#define CA_PRIORITY_DEFAULT ...
#define CA_PRIORITY_DB_LINKS ...
#define CA_PRIORITY_ARCHIVE ...
#define CA_PRIORITY_OPI ...
#define DBE_VALUE ...
#define DBE_ARCHIVE ...
#define DBE_LOG ...
#define DBE_ALARM ...
#define DBE_PROPERTY ...

short ca_field_type(chid chan);
unsigned long ca_element_count(chid chan);
const char *ca_name(chid chan);
void ca_set_puser(chid chan, void *puser);
void *ca_puser(chid chan);
unsigned ca_read_access(chid chan);
unsigned ca_write_access(chid chan);
enum channel_state ca_state(chid chan);

int ca_context_create(enum ca_preemptive_callback_select select);
void ca_detach_context(void);
void ca_context_destroy(void);
struct ca_client_context *ca_current_context(void);
int ca_attach_context(struct ca_client_context *context);
int ca_client_status(unsigned level);
int ca_context_status(struct ca_client_context *context, unsigned level);
int ca_preemtive_callback_is_enabled(void);

int ca_create_channel(const char *pChanName, caCh *pConnStateCallback,
                      void *pUserPrivate, capri priority, chid *pChanID);
int ca_change_connection_event(chid chan, caCh *pfunc);
int ca_replace_access_rights_event(chid chan, caArh *pfunc);
int ca_add_exception_event(caExceptionHandler *pfunc, void *pArg);
int ca_clear_channel(chid chanId);

int ca_array_put(chtype type, unsigned long count, chid chanId,
                 const void *pValue);
int ca_array_put_callback(chtype type, unsigned long count, chid chanId,
                          const void *pValue, caEventCallBackFunc *pFunc,
                          void *pArg);
int ca_array_get(chtype type, unsigned long count, chid chanId,
                 void *pValue);
int ca_array_get_callback(chtype type, unsigned long count, chid chanId,
                          caEventCallBackFunc *pFunc, void *pArg);
int ca_create_subscription(chtype type, unsigned long count, chid chanId,
                           long mask, caEventCallBackFunc *pFunc,
                           void *pArg, evid *pEventID);
int ca_clear_subscription(evid eventID);
chid ca_evid_to_chid(evid id);

int ca_pend_event(ca_real timeout);
int ca_poll(void);                      /* a macro in cadef.h */
int ca_pend_io(ca_real timeout);
int ca_pend(ca_real timeout, int early);
int ca_test_io(void);
int ca_flush_io(void);

const char *ca_message(long ca_status);
unsigned ca_get_host_name(chid pChan, char *pBuf, unsigned bufLength);
const char *ca_version(void);

int ca_sg_create(CA_SYNC_GID *pgid);
int ca_sg_delete(const CA_SYNC_GID gid);
int ca_sg_block(const CA_SYNC_GID gid, ca_real timeout);
int ca_sg_test(const CA_SYNC_GID gid);
int ca_sg_reset(const CA_SYNC_GID gid);
int ca_sg_array_get(const CA_SYNC_GID gid, chtype type, unsigned long count,
                    chid chan, void *pValue);
int ca_sg_array_put(const CA_SYNC_GID gid, chtype type, unsigned long count,
                    chid chan, const void *pValue);

unsigned ca_get_ioc_connection_count(void);
unsigned ca_beacon_anomaly_count(void);
unsigned ca_search_attempts(chid chan);
double ca_beacon_period(chid chan);
double ca_receive_watchdog_delay(chid chan);

/* The body of the caRepeater executable (extern "C" in libca). */
void caRepeaterThread(void *pDummy);
