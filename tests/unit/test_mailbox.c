/* test_mailbox.c — work posted between host loop threads (host/mailbox.h): from several
 * threads at once, everything posted runs on the mailbox's loop thread, each poster's in the
 * order posted, exactly once; closing runs what is left with `closed` set. Also request ids
 * (http/request_id.h) handed out to several threads at once stay distinct. */
#include <pthread.h>
#include <stdlib.h>
#include "unit.h"
#include "host/mailbox.h"
#include "http/request_id.h"

#define POSTERS 4
#define PER_POSTER 5000

typedef struct {
    pthread_t loop_thread;
    int ran[POSTERS];           /* the next sequence number expected from each poster */
    int out_of_order;
    int wrong_thread;
    int done;
    uv_loop_t *loop;
    pw_mailbox_t *box;
} state_t;

typedef struct {
    state_t *state;
    int poster, seq;
} mail_t;

static void on_mail(void *arg, int closed)
{
    mail_t *m = arg;
    state_t *s = m->state;
    if (!pthread_equal(pthread_self(), s->loop_thread))
        s->wrong_thread++;
    if (m->seq != s->ran[m->poster])
        s->out_of_order++;
    s->ran[m->poster] = m->seq + 1;
    if (++s->done == POSTERS * PER_POSTER)
        uv_stop(s->loop);
    free(m);
}

typedef struct {
    state_t *state;
    int poster;
} poster_t;

static void *post_many(void *arg)
{
    poster_t *p = arg;
    for (int i = 0; i < PER_POSTER; i++) {
        mail_t *m = malloc(sizeof *m);
        *m = (mail_t){ p->state, p->poster, i };
        if (pw_mailbox_post(p->state->box, on_mail, m) < 0)
            free(m);
    }
    return NULL;
}

TEST(posts_from_many_threads_run_in_order_on_the_loop)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    state_t s = { .loop_thread = pthread_self(), .loop = &loop };
    s.box = pw_mailbox_create(&loop);
    CHECK(s.box != NULL);
    pthread_t threads[POSTERS];
    poster_t posters[POSTERS];
    for (int i = 0; i < POSTERS; i++) {
        posters[i] = (poster_t){ &s, i };
        pthread_create(&threads[i], NULL, post_many, &posters[i]);
    }
    uv_run(&loop, UV_RUN_DEFAULT);
    for (int i = 0; i < POSTERS; i++)
        pthread_join(threads[i], NULL);
    CHECK(s.done == POSTERS * PER_POSTER);
    CHECK(s.out_of_order == 0);
    CHECK(s.wrong_thread == 0);
    pw_mailbox_close(s.box);
    uv_run(&loop, UV_RUN_DEFAULT);
    CHECK(uv_loop_close(&loop) == 0);
}

static void count_closed(void *arg, int closed)
{
    int *n = arg;
    n[closed]++;
}

TEST(closing_runs_what_is_left_with_closed_set)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    pw_mailbox_t *box = pw_mailbox_create(&loop);
    int counts[2] = { 0, 0 };
    for (int i = 0; i < 3; i++)
        CHECK(pw_mailbox_post(box, count_closed, counts) == 0);
    pw_mailbox_close(box);
    uv_run(&loop, UV_RUN_DEFAULT);
    CHECK(counts[0] == 0 && counts[1] == 3);
    CHECK(uv_loop_close(&loop) == 0);
}

#define ID_THREADS 4
#define IDS_EACH 20000

static void *take_ids(void *arg)
{
    uint64_t *ids = arg;
    for (int i = 0; i < IDS_EACH; i++)
        ids[i] = pw_request_id_next();
    return NULL;
}

static int compare_ids(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

TEST(request_ids_from_many_threads_are_distinct)
{
    static uint64_t ids[ID_THREADS * IDS_EACH];
    pthread_t threads[ID_THREADS];
    pw_request_id_init();
    for (int i = 0; i < ID_THREADS; i++)
        pthread_create(&threads[i], NULL, take_ids, ids + i * IDS_EACH);
    for (int i = 0; i < ID_THREADS; i++)
        pthread_join(threads[i], NULL);
    qsort(ids, ID_THREADS * IDS_EACH, sizeof ids[0], compare_ids);
    int repeats = 0;
    for (int i = 1; i < ID_THREADS * IDS_EACH; i++)
        repeats += ids[i] == ids[i - 1] || ids[i] == 0;
    CHECK(repeats == 0);
}

int main(void)
{
    RUN(posts_from_many_threads_run_in_order_on_the_loop);
    RUN(closing_runs_what_is_left_with_closed_set);
    RUN(request_ids_from_many_threads_are_distinct);
    return UNIT_DONE();
}
