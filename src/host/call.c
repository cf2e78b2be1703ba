/* call.c — answering calls with an error (host process); see call.h. */
#include "host/call.h"

void pw_call_fail(pw_call_t *call, int status, const char *text)
{
    call->state = PW_CALL_DONE;
    call->isolate = NULL;
    call->respond(call, NULL, status, text);
}

void pw_call_fail_retry(pw_call_t *call, int status, const char *text, unsigned retry_after_s)
{
    call->retry_after_s = retry_after_s;
    pw_call_fail(call, status, text);
}

void pw_call_list_fail(pw_list_t *head, int status, const char *text)
{
    while (!pw_call_list_empty(head)) {
        pw_call_t *call = pw_call_list_first(head);
        pw_call_list_remove(call);
        pw_call_fail(call, status, text);
    }
}
