/* audit.h — the CPython audit hook that turns what a worker may not do into clear Python
 * exceptions (DESIGN.md §5), before the kernel's layers (sandbox.h) would answer with a bare
 * EPERM. Installed from C in the zygote, so user code can never remove it; it stays passive
 * until a template or isolate switches it on. Zygote, template and isolate processes.
 */
#ifndef PW_AUDIT_H
#define PW_AUDIT_H

#include <stddef.h>

typedef enum {
    PW_AUDIT_OFF,           /* zygote, and every process under --no-sandbox */
    PW_AUDIT_TEMPLATE,      /* the worker's top-level code */
    PW_AUDIT_ISOLATE,       /* requests (the same rules today) */
} pw_audit_mode_t;

/* Zygote, after Py_Initialize: adds the hook. Returns 0, or -1 with a Python error set. */
int pw_audit_install(void);

/* Template: the directories whose files may be read (copied). /tmp is always readable and
 * writable. Returns 0 or -1 (out of memory). */
int pw_audit_allow_read(const char *const *dirs, size_t n);

void pw_audit_set_mode(pw_audit_mode_t mode);

#endif
