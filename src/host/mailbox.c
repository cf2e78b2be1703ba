/* mailbox.c — posting work to another host loop thread (host process; see mailbox.h): a
 * mutex-guarded queue and a uv_async_t that wakes the receiving loop, which takes the whole
 * queue at once and runs it outside the lock.
 */
#include "host/mailbox.h"
#include "base/list.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>

typedef struct {
    pw_list_t link;
    pw_mail_cb fn;
    void *arg;
} mail_t;

struct pw_mailbox {
    uv_async_t async;           /* first: the handle's data is the mailbox */
    pthread_mutex_t lock;
    pw_list_t queue;            /* mail_t, oldest first */
};

/* Moves the queue out under the lock; runs it outside. */
static void run_all(pw_mailbox_t *box, int closed)
{
    pw_list_t batch;
    pw_list_init(&batch);
    pthread_mutex_lock(&box->lock);
    if (!pw_list_empty(&box->queue)) {
        batch.next = box->queue.next;
        batch.prev = box->queue.prev;
        batch.next->prev = batch.prev->next = &batch;
        pw_list_init(&box->queue);
    }
    pthread_mutex_unlock(&box->lock);
    PW_LIST_FOR_EACH(node, &batch) {
        mail_t *mail = PW_CONTAINER_OF(node, mail_t, link);
        pw_list_remove(node);
        mail->fn(mail->arg, closed);
        free(mail);
    }
}

static void on_async(uv_async_t *async)
{
    run_all((pw_mailbox_t *)async, 0);
}

pw_mailbox_t *pw_mailbox_create(uv_loop_t *loop)
{
    pw_mailbox_t *box = calloc(1, sizeof *box);
    if (!box)
        return NULL;
    pw_list_init(&box->queue);
    if (pthread_mutex_init(&box->lock, NULL) != 0 || uv_async_init(loop, &box->async, on_async) < 0) {
        free(box);
        return NULL;
    }
    return box;                 /* it keeps its loop running until closed */
}

int pw_mailbox_post(pw_mailbox_t *box, pw_mail_cb fn, void *arg)
{
    mail_t *mail = calloc(1, sizeof *mail);
    if (!mail)
        return -ENOMEM;
    mail->fn = fn;
    mail->arg = arg;
    pthread_mutex_lock(&box->lock);
    pw_list_push_back(&box->queue, &mail->link);
    pthread_mutex_unlock(&box->lock);
    uv_async_send(&box->async);
    return 0;
}

static void on_closed(uv_handle_t *handle)
{
    pw_mailbox_t *box = (pw_mailbox_t *)handle;
    run_all(box, 1);
    pthread_mutex_destroy(&box->lock);
    free(box);
}

void pw_mailbox_close(pw_mailbox_t *box)
{
    run_all(box, 1);
    uv_close((uv_handle_t *)&box->async, on_closed);
}
