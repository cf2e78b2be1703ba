/* call.c — call lists and error answers (host process); see call.h. */
#include "host/call.h"

void pw_call_list_init(pw_call_t *head)
{
    head->prev = head->next = head;
}

int pw_call_list_empty(const pw_call_t *head)
{
    return head->next == head;
}

void pw_call_list_push(pw_call_t *head, pw_call_t *call)
{
    call->prev = head->prev;
    call->next = head;
    head->prev->next = call;
    head->prev = call;
}

void pw_call_list_remove(pw_call_t *call)
{
    call->prev->next = call->next;
    call->next->prev = call->prev;
    call->prev = call->next = call;
}

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

void pw_call_list_fail(pw_call_t *head, int status, const char *text)
{
    while (!pw_call_list_empty(head)) {
        pw_call_t *call = head->next;
        pw_call_list_remove(call);
        pw_call_fail(call, status, text);
    }
}
