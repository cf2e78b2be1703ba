/* pg_schema.c — creating and migrating pyworkerd's tables (host process, at start; see
 * pg_schema.h). Each entry of `steps` takes the schema from version i to i+1; steps are
 * only ever appended. Tables:
 *   pw_kv          KV entries of every namespace (its disk service's name), keys as bytea
 *   pw_nodes       the cluster's nodes: id, internal address, heartbeat (item 3 routes
 *                  Durable Objects and D1 between nodes by it)
 *   pw_queue       queue messages; visible_ms is when it may be taken (again)
 *   pw_cron_ticks  one row per (worker, schedule, tick) fired: the node that inserts it runs it
 *   pw_leases      what a node holds (kind 'do': a Durable Object, named
 *                  "<service>/<class>/<id>") and until when (ms since the epoch, the server's clock)
 *   pw_do_state    each Durable Object's SQLite database (its whole image, shipped after every
 *                  committed transaction by the lease holder) and its alarm
 *   pw_d1_state    each D1 database (named by its disk service) held by one node under a lease
 *                  (kind 'd1'): its whole image, shipped after every write by the holder
 *   pw_wf_instances  Workflow instances: status, params, output or error, when to run next
 *                  (wake_ms), and the node running it (owner) until lease_ms (the server's clock)
 *   pw_wf_steps    each instance's completed steps (result) and sleeps and waits (wake_ms)
 *   pw_wf_events   events sent to instances, until a wait_for_event takes them
 */
#include "storage/pg_schema.h"

#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const steps[PW_PG_SCHEMA_VERSION] = {
    /* 0 → 1 */
    "CREATE TABLE pw_kv (namespace text NOT NULL, key bytea NOT NULL, value bytea NOT NULL,"
    "  expiration int8, metadata bytea, PRIMARY KEY (namespace, key));"
    "CREATE INDEX pw_kv_expiration ON pw_kv (expiration) WHERE expiration IS NOT NULL;"
    "CREATE TABLE pw_nodes (id text PRIMARY KEY, internal_address text, hostname text,"
    "  pid int4, started_at timestamptz NOT NULL DEFAULT now(),"
    "  heartbeat_at timestamptz NOT NULL DEFAULT now());",
    /* 1 → 2 */
    "CREATE TABLE pw_queue (seq bigserial PRIMARY KEY, queue text NOT NULL, id text NOT NULL,"
    "  body bytea NOT NULL, content_type text NOT NULL, sent_ms int8 NOT NULL,"
    "  visible_ms int8 NOT NULL, attempts int4 NOT NULL DEFAULT 0);"
    "CREATE INDEX pw_queue_ready ON pw_queue (queue, visible_ms, seq);"
    "CREATE TABLE pw_cron_ticks (service text NOT NULL, cron text NOT NULL, tick_ms int8 NOT NULL,"
    "  node text NOT NULL, fired_at timestamptz NOT NULL DEFAULT now(),"
    "  PRIMARY KEY (service, cron, tick_ms));"
    "CREATE TABLE pw_leases (kind text NOT NULL, name text NOT NULL, node text NOT NULL,"
    "  until_ms int8 NOT NULL, PRIMARY KEY (kind, name));",
    /* 2 → 3: Durable Objects across nodes (storage/pg_do.c) */
    "CREATE TABLE pw_do_state (name text PRIMARY KEY, image bytea NOT NULL, version int8 NOT NULL,"
    "  alarm_ms int8);"
    "CREATE INDEX pw_do_state_alarm ON pw_do_state (alarm_ms) WHERE alarm_ms IS NOT NULL;",
    /* 3 → 4: D1 databases across nodes (storage/pg_d1.c) */
    "CREATE TABLE pw_d1_state (name text PRIMARY KEY, image bytea NOT NULL, version int8 NOT NULL);",
    /* 4 → 5: Workflows across nodes (storage/pg_workflow.c) */
    "CREATE TABLE pw_wf_instances (workflow text NOT NULL, id text NOT NULL, params bytea NOT NULL,"
    "  status text NOT NULL, output bytea, error bytea, created_ms int8 NOT NULL,"
    "  updated_ms int8 NOT NULL, wake_ms int8, owner text, lease_ms int8 NOT NULL DEFAULT 0,"
    "  PRIMARY KEY (workflow, id));"
    "CREATE INDEX pw_wf_instances_wake ON pw_wf_instances (wake_ms) WHERE wake_ms IS NOT NULL;"
    "CREATE INDEX pw_wf_instances_owner ON pw_wf_instances (owner) WHERE owner IS NOT NULL;"
    "CREATE INDEX pw_wf_instances_orphan ON pw_wf_instances (lease_ms) WHERE wake_ms IS NULL"
    "  AND status IN ('queued', 'running');"
    "CREATE TABLE pw_wf_steps (workflow text NOT NULL, instance text NOT NULL, name bytea NOT NULL,"
    "  result bytea, wake_ms int8, PRIMARY KEY (workflow, instance, name));"
    "CREATE TABLE pw_wf_events (seq bigserial PRIMARY KEY, workflow text NOT NULL,"
    "  instance text NOT NULL, type bytea NOT NULL, payload bytea, sent_ms int8 NOT NULL);"
    "CREATE INDEX pw_wf_events_instance ON pw_wf_events (workflow, instance, type, seq);",
};

void pw_pg_url_redact(const char *url, char *out, size_t len)
{
    const char *scheme = strstr(url, "://"), *at = strchr(url, '@');
    const char *colon = scheme ? memchr(scheme + 3, ':', at ? (size_t)(at - scheme - 3) : 0) : NULL;
    if (scheme && at && colon && colon < at)
        snprintf(out, len, "%.*s:***%s", (int)(colon - url), url, at);
    else
        snprintf(out, len, "%s", url);
}

static void trim(char *s)
{
    size_t n = strlen(s);
    while (n && (s[n - 1] == '\n' || s[n - 1] == ' '))
        s[--n] = '\0';
}

/* Runs sql; 0, or -1 with the server's words in err. */
static int exec(PGconn *c, const char *sql, PGresult **out, char *err, size_t err_len)
{
    PGresult *r = PQexec(c, sql);
    ExecStatusType st = PQresultStatus(r);
    if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) {
        if (out)
            *out = r;
        else
            PQclear(r);
        return 0;
    }
    snprintf(err, err_len, "%s", PQresultErrorMessage(r));
    trim(err);
    PQclear(r);
    return -1;
}

static void ignore_notice(void *arg, const char *message)
{
    (void)arg;
    (void)message;
}

/* The version recorded (0: none yet), under the transaction's advisory lock. */
static int current_version(PGconn *c, char *err, size_t err_len)
{
    PGresult *r;
    if (exec(c, "SELECT pg_advisory_xact_lock(7071001);"
                "CREATE TABLE IF NOT EXISTS pw_schema (version int4 NOT NULL);"
                "SELECT coalesce(max(version), 0) FROM pw_schema", &r, err, err_len) < 0)
        return -1;
    int v = atoi(PQgetvalue(r, 0, 0));
    PQclear(r);
    return v;
}

static int migrate(PGconn *c, char *err, size_t err_len)
{
    if (exec(c, "BEGIN", NULL, err, err_len) < 0)
        return -1;
    int found = current_version(c, err, err_len);
    if (found > PW_PG_SCHEMA_VERSION) {
        snprintf(err, err_len, "the database's pyworkerd schema is version %d, newer than this "
                 "pyworkerd's (%d): run the newer pyworkerd, or another database", found,
                 PW_PG_SCHEMA_VERSION);
        found = -1;
    }
    for (int v = found; v >= 0 && v < PW_PG_SCHEMA_VERSION; v++) {
        char set[96];
        snprintf(set, sizeof set, "DELETE FROM pw_schema; INSERT INTO pw_schema VALUES (%d)", v + 1);
        if (exec(c, steps[v], NULL, err, err_len) < 0 || exec(c, set, NULL, err, err_len) < 0) {
            char why[512];
            snprintf(why, sizeof why, "%.500s", err);
            snprintf(err, err_len, "migrating the schema from version %d to %d failed: %s", v, v + 1, why);
            found = -1;
        }
    }
    char ignored[256];
    if (found < 0 || exec(c, "COMMIT", NULL, err, err_len) < 0) {
        exec(c, "ROLLBACK", NULL, ignored, sizeof ignored);
        return -1;
    }
    return found;
}

int pw_pg_schema_migrate(const char *url, char *err, size_t err_len)
{
    char shown[1024];
    pw_pg_url_redact(url, shown, sizeof shown);
    PGconn *c = PQconnectdb(url);
    if (!c || PQstatus(c) != CONNECTION_OK) {
        char why[1024];
        snprintf(why, sizeof why, "%s", c ? PQerrorMessage(c) : "out of memory");
        trim(why);
        snprintf(err, err_len, "--storage %s: cannot connect to PostgreSQL: %s", shown, why);
        PQfinish(c);
        return -1;
    }
    PQsetNoticeProcessor(c, ignore_notice, NULL);
    char why[1536];
    int rc = migrate(c, why, sizeof why);
    if (rc < 0)
        snprintf(err, err_len, "--storage %s: %s", shown, why);
    PQfinish(c);
    return rc;
}
