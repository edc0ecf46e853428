/* Declarations from db_access.h, alarm.h and epicsTime.h.  Each DBR struct
 * lists the fields caffi reads; ``...;`` leaves padding and layout to the
 * compiler, so offsets always match the C headers. */

typedef char epicsOldString[40];
typedef epicsOldString dbr_string_t;
typedef uint8_t dbr_char_t;
typedef int16_t dbr_short_t;
typedef uint16_t dbr_ushort_t;
typedef int16_t dbr_int_t;
typedef uint16_t dbr_enum_t;
typedef int32_t dbr_long_t;
typedef uint32_t dbr_ulong_t;
typedef float dbr_float_t;
typedef double dbr_double_t;
typedef uint16_t dbr_put_ackt_t;
typedef uint16_t dbr_put_acks_t;
typedef epicsOldString dbr_stsack_string_t;
typedef epicsOldString dbr_class_name_t;

typedef struct epicsTimeStamp {
    uint32_t secPastEpoch;
    uint32_t nsec;
} epicsTimeStamp;

#define MAX_STRING_SIZE ...
#define MAX_UNITS_SIZE ...
#define MAX_ENUM_STRING_SIZE ...
#define MAX_ENUM_STATES ...
#define LAST_TYPE ...
#define LAST_BUFFER_TYPE ...
#define POSIX_TIME_AT_EPICS_EPOCH ...

extern const unsigned short dbr_size[];
extern const unsigned short dbr_value_size[];
extern const unsigned short dbr_value_offset[];
enum dbr_value_class { dbr_class_int, dbr_class_float, dbr_class_string, dbr_class_max };
extern const enum dbr_value_class dbr_value_class[];
extern const char *dbf_text[];
extern const short dbf_text_dim;
extern const char *dbf_text_invalid;
extern const char *dbr_text[];
extern const short dbr_text_dim;
extern const char *dbr_text_invalid;

typedef enum { epicsSevNone, epicsSevMinor, epicsSevMajor, epicsSevInvalid,
               ALARM_NSEV } epicsAlarmSeverity;
typedef enum {
    epicsAlarmNone, epicsAlarmRead, epicsAlarmWrite, epicsAlarmHiHi,
    epicsAlarmHigh, epicsAlarmLoLo, epicsAlarmLow, epicsAlarmState,
    epicsAlarmCos, epicsAlarmComm, epicsAlarmTimeout, epicsAlarmHwLimit,
    epicsAlarmCalc, epicsAlarmScan, epicsAlarmLink, epicsAlarmSoft,
    epicsAlarmBadSub, epicsAlarmUDF, epicsAlarmDisable, epicsAlarmSimm,
    epicsAlarmReadAccess, epicsAlarmWriteAccess, ALARM_NSTATUS
} epicsAlarmCondition;

struct dbr_sts_string { dbr_short_t status; dbr_short_t severity; dbr_string_t value; ...; };
struct dbr_sts_short { dbr_short_t status; dbr_short_t severity; dbr_short_t value; ...; };
struct dbr_sts_int { dbr_short_t status; dbr_short_t severity; dbr_int_t value; ...; };
struct dbr_sts_float { dbr_short_t status; dbr_short_t severity; dbr_float_t value; ...; };
struct dbr_sts_enum { dbr_short_t status; dbr_short_t severity; dbr_enum_t value; ...; };
struct dbr_sts_char { dbr_short_t status; dbr_short_t severity; dbr_char_t value; ...; };
struct dbr_sts_long { dbr_short_t status; dbr_short_t severity; dbr_long_t value; ...; };
struct dbr_sts_double { dbr_short_t status; dbr_short_t severity; dbr_double_t value; ...; };
struct dbr_stsack_string { dbr_ushort_t status; dbr_ushort_t severity; dbr_ushort_t ackt; dbr_ushort_t acks; dbr_string_t value; ...; };
struct dbr_time_string { dbr_short_t status; dbr_short_t severity; epicsTimeStamp stamp; dbr_string_t value; ...; };
struct dbr_time_short { dbr_short_t status; dbr_short_t severity; epicsTimeStamp stamp; dbr_short_t value; ...; };
struct dbr_time_float { dbr_short_t status; dbr_short_t severity; epicsTimeStamp stamp; dbr_float_t value; ...; };
struct dbr_time_enum { dbr_short_t status; dbr_short_t severity; epicsTimeStamp stamp; dbr_enum_t value; ...; };
struct dbr_time_char { dbr_short_t status; dbr_short_t severity; epicsTimeStamp stamp; dbr_char_t value; ...; };
struct dbr_time_long { dbr_short_t status; dbr_short_t severity; epicsTimeStamp stamp; dbr_long_t value; ...; };
struct dbr_time_double { dbr_short_t status; dbr_short_t severity; epicsTimeStamp stamp; dbr_double_t value; ...; };
struct dbr_gr_short { dbr_short_t status; dbr_short_t severity; char units[8]; dbr_short_t upper_disp_limit; dbr_short_t lower_disp_limit; dbr_short_t upper_alarm_limit; dbr_short_t upper_warning_limit; dbr_short_t lower_warning_limit; dbr_short_t lower_alarm_limit; dbr_short_t value; ...; };
struct dbr_gr_int { dbr_short_t status; dbr_short_t severity; char units[8]; dbr_int_t upper_disp_limit; dbr_int_t lower_disp_limit; dbr_int_t upper_alarm_limit; dbr_int_t upper_warning_limit; dbr_int_t lower_warning_limit; dbr_int_t lower_alarm_limit; dbr_int_t value; ...; };
struct dbr_gr_float { dbr_short_t status; dbr_short_t severity; dbr_short_t precision; char units[8]; dbr_float_t upper_disp_limit; dbr_float_t lower_disp_limit; dbr_float_t upper_alarm_limit; dbr_float_t upper_warning_limit; dbr_float_t lower_warning_limit; dbr_float_t lower_alarm_limit; dbr_float_t value; ...; };
struct dbr_gr_enum { dbr_short_t status; dbr_short_t severity; dbr_short_t no_str; char strs[16][26]; dbr_enum_t value; ...; };
struct dbr_gr_char { dbr_short_t status; dbr_short_t severity; char units[8]; dbr_char_t upper_disp_limit; dbr_char_t lower_disp_limit; dbr_char_t upper_alarm_limit; dbr_char_t upper_warning_limit; dbr_char_t lower_warning_limit; dbr_char_t lower_alarm_limit; dbr_char_t value; ...; };
struct dbr_gr_long { dbr_short_t status; dbr_short_t severity; char units[8]; dbr_long_t upper_disp_limit; dbr_long_t lower_disp_limit; dbr_long_t upper_alarm_limit; dbr_long_t upper_warning_limit; dbr_long_t lower_warning_limit; dbr_long_t lower_alarm_limit; dbr_long_t value; ...; };
struct dbr_gr_double { dbr_short_t status; dbr_short_t severity; dbr_short_t precision; char units[8]; dbr_double_t upper_disp_limit; dbr_double_t lower_disp_limit; dbr_double_t upper_alarm_limit; dbr_double_t upper_warning_limit; dbr_double_t lower_warning_limit; dbr_double_t lower_alarm_limit; dbr_double_t value; ...; };
struct dbr_ctrl_short { dbr_short_t status; dbr_short_t severity; char units[8]; dbr_short_t upper_disp_limit; dbr_short_t lower_disp_limit; dbr_short_t upper_alarm_limit; dbr_short_t upper_warning_limit; dbr_short_t lower_warning_limit; dbr_short_t lower_alarm_limit; dbr_short_t upper_ctrl_limit; dbr_short_t lower_ctrl_limit; dbr_short_t value; ...; };
struct dbr_ctrl_int { dbr_short_t status; dbr_short_t severity; char units[8]; dbr_int_t upper_disp_limit; dbr_int_t lower_disp_limit; dbr_int_t upper_alarm_limit; dbr_int_t upper_warning_limit; dbr_int_t lower_warning_limit; dbr_int_t lower_alarm_limit; dbr_int_t upper_ctrl_limit; dbr_int_t lower_ctrl_limit; dbr_int_t value; ...; };
struct dbr_ctrl_float { dbr_short_t status; dbr_short_t severity; dbr_short_t precision; char units[8]; dbr_float_t upper_disp_limit; dbr_float_t lower_disp_limit; dbr_float_t upper_alarm_limit; dbr_float_t upper_warning_limit; dbr_float_t lower_warning_limit; dbr_float_t lower_alarm_limit; dbr_float_t upper_ctrl_limit; dbr_float_t lower_ctrl_limit; dbr_float_t value; ...; };
struct dbr_ctrl_enum { dbr_short_t status; dbr_short_t severity; dbr_short_t no_str; char strs[16][26]; dbr_enum_t value; ...; };
struct dbr_ctrl_char { dbr_short_t status; dbr_short_t severity; char units[8]; dbr_char_t upper_disp_limit; dbr_char_t lower_disp_limit; dbr_char_t upper_alarm_limit; dbr_char_t upper_warning_limit; dbr_char_t lower_warning_limit; dbr_char_t lower_alarm_limit; dbr_char_t upper_ctrl_limit; dbr_char_t lower_ctrl_limit; dbr_char_t value; ...; };
struct dbr_ctrl_long { dbr_short_t status; dbr_short_t severity; char units[8]; dbr_long_t upper_disp_limit; dbr_long_t lower_disp_limit; dbr_long_t upper_alarm_limit; dbr_long_t upper_warning_limit; dbr_long_t lower_warning_limit; dbr_long_t lower_alarm_limit; dbr_long_t upper_ctrl_limit; dbr_long_t lower_ctrl_limit; dbr_long_t value; ...; };
struct dbr_ctrl_double { dbr_short_t status; dbr_short_t severity; dbr_short_t precision; char units[8]; dbr_double_t upper_disp_limit; dbr_double_t lower_disp_limit; dbr_double_t upper_alarm_limit; dbr_double_t upper_warning_limit; dbr_double_t lower_warning_limit; dbr_double_t lower_alarm_limit; dbr_double_t upper_ctrl_limit; dbr_double_t lower_ctrl_limit; dbr_double_t value; ...; };

