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

/* ca_array_get of the channel's one element of its native plain type into
 * *buf: returns status * 16 + type.  -1 (no request made) for a channel
 * without a native type (never connected, or disconnected), a non-plain
 * type or an element count other than 1. */
int caffi_get_plain(chid ch, union caffi_plain *buf);

/* A put of one double to a connected channel of native type DBR_DOUBLE, with
 * ca_array_put_callback(cb, usr) when cb is not NULL, else ca_array_put
 * (libca copies the value during the call): the ECA status.  -1 (no request
 * made) for any other channel. */
int caffi_put_double(chid ch, double value, caEventCallBackFunc *cb, void *usr);
