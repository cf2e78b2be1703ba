/* lazy_lib.h — a shared library loaded at its first use instead of at the process's start
 * (host process: libcurl on the first outbound fetch, libpq only with --storage). Linked
 * normally, libcurl and libpq bring ~28 more libraries (LDAP, Kerberos, SASL, GnuTLS, ...) that
 * the dynamic loader maps and relocates before main(): ~18 ms of CPU on every start, on the
 * way to `pyworkerd dev`'s first response (bench/results/dev-startup.md).
 *
 * A module that wraps a library defines the library's functions itself, each calling the real
 * one through pw_lazy_sym(); the binary does not link the library. Thread-safe: shards may
 * make the first call.
 */
#ifndef PW_BASE_LAZY_LIB_H
#define PW_BASE_LAZY_LIB_H

#include <pthread.h>

typedef struct {
    const char *soname;         /* e.g. "libcurl.so.4" */
    pthread_once_t once;        /* PTHREAD_ONCE_INIT */
    void *handle;               /* NULL until loaded, or when it cannot be */
} pw_lazy_lib_t;

#define PW_LAZY_LIB(soname) { (soname), PTHREAD_ONCE_INIT, NULL }

/* The library's function `name`, loading the library on the first call; NULL (logged once per
 * library) when the library or the symbol cannot be loaded. */
void *pw_lazy_sym(pw_lazy_lib_t *lib, const char *name);

/* Defines `ret name params` as a call of lib's own `name` with `args`; returns `fail` when it
 * cannot be loaded. The pointer found is kept (atomically: any thread may call first). */
#define PW_LAZY_FN(lib, ret, name, params, args, fail)                                      \
    ret name params                                                                         \
    {                                                                                       \
        static ret (*kept) params;                                                          \
        ret (*real) params = __atomic_load_n(&kept, __ATOMIC_ACQUIRE);                      \
        if (!real) {                                                                        \
            if (!(real = (ret (*) params)pw_lazy_sym(&(lib), #name)))                       \
                return fail;                                                                \
            __atomic_store_n(&kept, real, __ATOMIC_RELEASE);                                \
        }                                                                                   \
        return real args;                                                                   \
    }

/* The same for a function that returns nothing. */
#define PW_LAZY_VOID_FN(lib, name, params, args)                                            \
    void name params                                                                        \
    {                                                                                       \
        static void (*kept) params;                                                         \
        void (*real) params = __atomic_load_n(&kept, __ATOMIC_ACQUIRE);                     \
        if (!real) {                                                                        \
            if (!(real = (void (*) params)pw_lazy_sym(&(lib), #name)))                      \
                return;                                                                     \
            __atomic_store_n(&kept, real, __ATOMIC_RELEASE);                                \
        }                                                                                   \
        real args;                                                                          \
    }

#endif
