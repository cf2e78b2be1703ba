/* cluster_ship.h — shipping a held thing's committed writes to PostgreSQL, and the output
 * gate (host process, the main loop): shared by Durable Objects (host/do_cluster.h) and D1
 * databases (host/d1_cluster.h), whose whole SQLite image is stored after each commit.
 * One save in flight per thing (saves on different connections could land out of order);
 * commits made meanwhile are coalesced into the next save, which takes the image when it
 * starts. A waiter (a write's answer, or any answer: the output gate) is told once a save
 * that covers every commit before it has landed.
 * Embedded in what its kind keeps for the thing; ops->idle says when nothing is pending.
 */
#ifndef PW_CLUSTER_SHIP_H
#define PW_CLUSTER_SHIP_H

#include "base/list.h"
#include "storage/pg_pool.h"

typedef struct pw_ship pw_ship_t;
/* error NULL: stored in PostgreSQL; else why not (the write is not kept). */
typedef void (*pw_ship_told_cb)(void *arg, const char *error);

typedef struct {
    const char *what;           /* "Durable Object", "D1": the start of error messages */
    /* Starts storing the thing as it is now (the job's result: pw_pg_affected() 1 when stored,
     * 0 when this node no longer holds it). NULL: out of memory. */
    pw_pg_job_t *(*save)(pw_ship_t *sh, pw_pg_cb cb, void *cb_arg);
    /* A save failed or found the lease gone: the thing is no longer held here. */
    void (*lost)(pw_ship_t *sh);
    /* Nothing is pending any more (the owner may free what embeds sh). */
    void (*idle)(pw_ship_t *sh);
} pw_ship_ops_t;

struct pw_ship {
    const pw_ship_ops_t *ops;
    int in_flight;
    pw_list_t now, next;        /* waiters on the save in flight / on the next one */
    char error[160];
};

void pw_ship_init(pw_ship_t *sh, const pw_ship_ops_t *ops);
/* A commit happened: told() runs once a save that covers it landed (or failed). */
void pw_ship_commit(pw_ship_t *sh, pw_ship_told_cb told, void *arg);
/* The output gate: 1 when told() will run once the saves pending now have landed; 0 when
 * nothing is pending (told is not called). */
int pw_ship_gate(pw_ship_t *sh, pw_ship_told_cb told, void *arg);
/* 1 while a save is in flight or waiting. */
int pw_ship_busy(const pw_ship_t *sh);

#endif
