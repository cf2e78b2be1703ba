/* workflow_sqlite.h — the SQLite backend of Workflows (host process, loop thread): the
 * store of storage/workflow.h behind the vtable of storage/workflow_backend.h. Every
 * operation answers before it returns; one host owns the file, so due() claims nothing and
 * instances a previous host left queued or running are due again once it is opened.
 */
#ifndef PW_WORKFLOW_SQLITE_H
#define PW_WORKFLOW_SQLITE_H

#include <stddef.h>

#include "storage/workflow_backend.h"

/* `dir`/workflows.sqlite3, or in memory when dir is NULL. Returns 0, or -1 with why in err.
 * Freed by its ops->close. */
int pw_wf_sqlite_open(const char *dir, pw_wf_backend_t **out, char *err, size_t err_len);

#endif
