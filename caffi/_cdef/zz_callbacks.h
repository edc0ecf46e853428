/* Trampolines implemented in Python (caffi/_callbacks.py).  They are the
 * only functions libca ever calls back into; read last by build_ffi.py. */

extern "Python" void _caffi_connection_cb(struct connection_handler_args);
extern "Python" void _caffi_access_rights_cb(struct access_rights_handler_args);
extern "Python" void _caffi_event_cb(struct event_handler_args);
extern "Python" void _caffi_request_cb(struct event_handler_args);
extern "Python" void _caffi_exception_cb(struct exception_handler_args);
extern "Python" void _caffi_default_exception_cb(struct exception_handler_args);
