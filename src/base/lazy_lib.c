/* lazy_lib.c — dlopen() at first use (host process; see lazy_lib.h). */
#include "base/lazy_lib.h"
#include "base/log.h"

#include <dlfcn.h>

/* pthread_once takes no argument: the library being loaded is passed through this slot,
 * written and read under loading_lock. */
static pthread_mutex_t loading_lock = PTHREAD_MUTEX_INITIALIZER;
static pw_lazy_lib_t *loading;

static void load_it(void)
{
    pw_lazy_lib_t *lib = loading;
    lib->handle = dlopen(lib->soname, RTLD_NOW | RTLD_LOCAL);
    if (!lib->handle)
        pw_log_error("cannot load %s: %s (install it: make deps)", lib->soname, dlerror());
}

static void load_once(pw_lazy_lib_t *lib)
{
    pthread_mutex_lock(&loading_lock);
    loading = lib;
    pthread_once(&lib->once, load_it);
    pthread_mutex_unlock(&loading_lock);
}

void *pw_lazy_sym(pw_lazy_lib_t *lib, const char *name)
{
    load_once(lib);
    if (!lib->handle)
        return NULL;
    void *sym = dlsym(lib->handle, name);
    if (!sym)
        pw_log_error("%s has no %s", lib->soname, name);
    return sym;
}
