/* http_date.h — HTTP dates (RFC 9110 §5.6.7) for Last-Modified, If-Modified-Since and
 * If-Range (host process; pure functions on the caller's buffers, no locale, no statics).
 */
#ifndef PW_HTTP_DATE_H
#define PW_HTTP_DATE_H

#include <stddef.h>
#include <time.h>

#define PW_HTTP_DATE_LEN 29     /* "Sun, 06 Nov 1994 08:49:37 GMT" */

/* Writes the IMF-fixdate of t (UTC) and a NUL into out (PW_HTTP_DATE_LEN + 1 bytes). */
void pw_http_date_format(time_t t, char *out);

/* Reads an IMF-fixdate (the form every sender must use; the obsolete RFC 850 and asctime
 * forms are not taken): 0 with *out, or -1. */
int pw_http_date_parse(const char *text, size_t len, time_t *out);

#endif
