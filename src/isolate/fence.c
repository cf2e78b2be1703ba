/* fence.c — the template's own seccomp filter, loaded before a worker's top-level code runs
 * (template process, and the throwaway probe child of the baseline and cold start types:
 * startmode.c). See fence.h.
 */
#include "isolate/fence.h"
#include "isolate/seccomp.h"
#include "wire/control.h"
#include "wire/frame.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

int pw_template_fence(int ctl_fd, int notify_forks, char *err, size_t err_len)
{
    pw_seccomp_prog_t prog;
    int rc = pw_seccomp_build_template(&prog, notify_forks);
    if (rc < 0) {
        snprintf(err, err_len, "sandbox: cannot build the template's seccomp filter: %s",
                 strerror(-rc));
        return -1;
    }
    int listener = pw_seccomp_apply_template(&prog, notify_forks);
    if (listener < 0) {
        snprintf(err, err_len, "sandbox: cannot load the template's seccomp filter: %s",
                 strerror(-listener));
        return -1;
    }
    if (!notify_forks)
        return 0;
    rc = pw_control_send(ctl_fd, PW_FRAME_CTL_GUARD_LISTENER, 0, NULL, 0, listener);
    close(listener);
    if (rc < 0) {
        snprintf(err, err_len, "sandbox: cannot hand the fork listener to the guard: %s",
                 strerror(-rc));
        return -1;
    }
    return 0;
}
