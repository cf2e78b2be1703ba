/* disk_dir.c — the directory of a disk service's stores (host process; see disk_dir.h). */
#include "host/disk_dir.h"

#include <stdio.h>
#include <string.h>

const char *pw_disk_store_dir(const char *persist_dir, const pw_service_t *disk, char *buf, size_t len)
{
    if (persist_dir && strcmp(persist_dir, ":memory:") == 0)
        return NULL;
    if (!persist_dir || disk->disk_path[0] == '/')
        return disk->disk_path;
    snprintf(buf, len, "%s/%s", persist_dir, disk->disk_path);
    return buf;
}
