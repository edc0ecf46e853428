/* C library: flush stdio after libca's status printouts (ca_client_status). */
typedef ... FILE;
int fflush(FILE *stream);
