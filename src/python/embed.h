/* embed.h — the C side of CPython in pyworkerd's child processes: start the interpreter in
 * the zygote, load a worker in a template, serve requests in an isolate. Nothing here runs
 * in the host, which never starts Python.
 */
#ifndef PW_EMBED_H
#define PW_EMBED_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stddef.h>

/* The _pyworkerd module's init function (isolate/pyext.h). */
typedef PyObject *(*pw_python_module_init_t)(void);

/* Zygote (and cold isolate, `cold` = 1): initialises CPython with the _pyworkerd module
 * (made by init_module) built in, puts `python_dir` (the SDK modules) first on sys.path and
 * imports the SDK (the zygote also the stdlib modules workers commonly need; a cold isolate
 * only what it must). Returns 0, or -1 with err set. */
int pw_python_init(const char *python_dir, int cold, pw_python_module_init_t init_module,
                   char *err, size_t err_len);

/* The absolute entries of sys.path, malloc'ed into out[0..max); returns how many. */
size_t pw_python_path_dirs(char **out, size_t max);

/* Template: runs pyworkerd.runtime.load(spec) for the spec JSON file at spec_path (imports
 * the worker's modules). Returns 0, or -1 with the Python traceback in err (give it
 * PW_ERR_TEXT_MAX bytes). */
int pw_python_load_worker(const char *spec_path, char *err, size_t err_len);

/* Zygote, while idle: imports the next of the modules only some workers need, and settles
 * the heap after the last. Returns 1 while more remain, 0 when all are imported. */
int pw_python_preload_next(void);

/* Zygote, once the SDK is imported, and template, once loaded: collects garbage, moves every
 * object to the collector's permanent generation (gc.freeze: a child's collections never
 * walk, hence never copy, the pages of what it inherited — in the template this made its own
 * collection ~1 ms instead of ~50 ms of CPU and ~1000 fewer page copies,
 * bench/results/dev-startup.md) and gives freed heap pages back (fewer pages for fork to copy). */
void pw_python_settle_heap(void);

/* Isolate: serves REQUEST frames on fd until the host closes it. Returns 0 at a clean end. */
int pw_python_serve(int fd);

/* Around fork() in a process that runs Python. */
void pw_python_before_fork(void);
void pw_python_after_fork_parent(void);
void pw_python_after_fork_child(void);

#endif
