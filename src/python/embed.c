/* embed.c — starting CPython and calling into the SDK from the runtime's child processes:
 * the zygote initialises the interpreter, a template loads one worker, an isolate serves.
 * Invariant: these functions only run in single-threaded processes that fork, never in
 * the host.
 */
#include "python/embed.h"
#include "base/err.h"
#include "base/log.h"
#include "python/audit.h"

#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Modules every worker's template needs (a hello worker's too: tomllib and pathlib read
 * its pyproject.toml), imported once in the zygote before its first template is forked
 * (the SDK imports some of them only where it uses them: see below). */
static const char *const snapshot_modules[] = {
    "asyncio", "json", "traceback", "http", "inspect", "tomllib", "pathlib", "workers", "js",
    "pyworkerd.entropy", "pyworkerd.packages", "pyworkerd.runtime", "pyworkerd.loop", NULL,
};

/* Modules some workers need (packages, ASGI/WSGI apps, Workflows: ~25 ms of CPU together),
 * imported by the zygote while no template is asked for (pw_python_preload_next), so that
 * they are not on the way to the first template and later templates fork them. */
static const char *const later_modules[] = {
    "importlib.metadata", "workers.asgi", "workers.wsgi", "workers.workflows", NULL,
};
static const char *const *next_later = later_modules;

/* A cold isolate's: only what loading and serving a worker needs; asyncio, inspect and the
 * package machinery come when the worker uses them (a sync hello worker never does). */
static const char *const cold_modules[] = {
    "pyworkerd.runtime", "pyworkerd.loop", NULL,
};

/* An exception whose `show_traceback` attribute is false (pyworkerd's own errors about the
 * user's setup, such as a missing package) is reported by its message alone: returns it
 * malloc'ed, or NULL for any other exception. */
static char *plain_message(PyObject *value)
{
    if (!value)
        return NULL;
    PyObject *show = PyObject_GetAttrString(value, "show_traceback");
    int plain = show && PyObject_Not(show) == 1;
    Py_XDECREF(show);
    PyErr_Clear();
    PyObject *str = plain ? PyObject_Str(value) : NULL;
    const char *utf8 = str ? PyUnicode_AsUTF8(str) : NULL;
    char *text = utf8 ? strdup(utf8) : NULL;
    Py_XDECREF(str);
    PyErr_Clear();
    return text;
}

/* Formats the pending Python exception as a traceback; clears it. Returns malloc'ed text. */
static char *take_exception_text(void)
{
    PyObject *type, *value, *tb;
    PyErr_Fetch(&type, &value, &tb);
    PyErr_NormalizeException(&type, &value, &tb);
    if (tb && value)
        PyException_SetTraceback(value, tb);
    char *text = plain_message(value);
    if (text) {
        Py_XDECREF(type);
        Py_XDECREF(value);
        Py_XDECREF(tb);
        return text;
    }
    PyObject *mod = PyImport_ImportModule("traceback");
    PyObject *lines = mod ? PyObject_CallMethod(mod, "format_exception", "O", value ? value : Py_None) : NULL;
    PyObject *empty = lines ? PyUnicode_FromString("") : NULL;
    PyObject *joined = empty ? PyUnicode_Join(empty, lines) : NULL;
    const char *utf8 = joined ? PyUnicode_AsUTF8(joined) : NULL;
    text = strdup(utf8 ? utf8 : "unknown Python error (the traceback could not be formatted)");
    PyErr_Clear();
    Py_XDECREF(joined);
    Py_XDECREF(empty);
    Py_XDECREF(lines);
    Py_XDECREF(mod);
    Py_XDECREF(type);
    Py_XDECREF(value);
    Py_XDECREF(tb);
    return text;
}

static int prepend_sys_path(const char *dir)
{
    PyObject *path = PySys_GetObject("path");   /* borrowed */
    PyObject *entry = PyUnicode_DecodeFSDefault(dir);
    int rc = (path && entry) ? PyList_Insert(path, 0, entry) : -1;
    Py_XDECREF(entry);
    return rc;
}

/* Starts CPython with _pyworkerd built in, unless this process is /usr/bin/python3.11
 * itself, which started it already with the same settings (-I -S -B: isolate/child_command.c)
 * and imported _pyworkerd as an extension module. */
static int start_interpreter(pw_python_module_init_t init_module, char *err, size_t err_len)
{
    if (Py_IsInitialized())
        return 0;
    if (PyImport_AppendInittab("_pyworkerd", init_module) < 0) {
        snprintf(err, err_len, "cannot register the _pyworkerd module");
        return -1;
    }
    PyConfig config;
    PyConfig_InitPythonConfig(&config);
    config.install_signal_handlers = 0;
    config.parse_argv = 0;
    config.user_site_directory = 0;
    config.write_bytecode = 0;
    config.site_import = 0;     /* no site-packages, no .pth code: packages.py decides imports */
    PyStatus status = PyConfig_SetBytesString(&config, &config.program_name, "/usr/bin/python3.11");
    if (!PyStatus_Exception(status))
        status = Py_InitializeFromConfig(&config);
    PyConfig_Clear(&config);
    if (PyStatus_Exception(status)) {
        snprintf(err, err_len, "cannot start Python: %s", status.err_msg ? status.err_msg : "unknown error");
        return -1;
    }
    return 0;
}

/* SIGXFSZ ignored, as Python's own start leaves it (which an embedded interpreter does not
 * do by itself): a worker over its file size limit (RLIMIT_FSIZE, the size of its /tmp:
 * isolate/sandbox.c) gets OSError(EFBIG) from the write instead of being killed with every
 * request it serves. Through the signal module, so that signal.getsignal() tells the truth. */
static int ignore_sigxfsz(void)
{
    PyObject *signal_module = PyImport_ImportModule("signal");
    PyObject *ign = signal_module ? PyObject_GetAttrString(signal_module, "SIG_IGN") : NULL;
    PyObject *done = ign ? PyObject_CallMethod(signal_module, "signal", "iO", SIGXFSZ, ign) : NULL;
    int rc = done ? 0 : -1;
    Py_XDECREF(done);
    Py_XDECREF(ign);
    Py_XDECREF(signal_module);
    return rc;
}

int pw_python_init(const char *python_dir, int cold, pw_python_module_init_t init_module,
                   char *err, size_t err_len)
{
    const char *const *preload_modules = cold ? cold_modules : snapshot_modules;
    if (start_interpreter(init_module, err, err_len) < 0)
        return -1;
    if (ignore_sigxfsz() < 0) {
        char *text = take_exception_text();
        snprintf(err, err_len, "cannot ignore SIGXFSZ: %s", text);
        free(text);
        return -1;
    }
    if (prepend_sys_path(python_dir) < 0) {
        char *text = take_exception_text();
        snprintf(err, err_len, "cannot set sys.path: %s", text);
        free(text);
        return -1;
    }
    for (const char *const *name = preload_modules; *name; name++) {
        PyObject *mod = PyImport_ImportModule(*name);
        if (!mod) {
            char *text = take_exception_text();
            snprintf(err, err_len, "cannot import the SDK module %s from %s:\n%s", *name, python_dir, text);
            free(text);
            return -1;
        }
        Py_DECREF(mod);
    }
    if (pw_audit_install() < 0) {
        char *text = take_exception_text();
        snprintf(err, err_len, "cannot install the audit hook: %s", text);
        free(text);
        return -1;
    }
    return 0;
}

size_t pw_python_path_dirs(char **out, size_t max)
{
    PyObject *path = PySys_GetObject("path");   /* borrowed */
    size_t n = 0;
    for (Py_ssize_t i = 0; path && PyList_Check(path) && i < PyList_GET_SIZE(path) && n < max; i++) {
        PyObject *item = PyList_GET_ITEM(path, i);
        PyObject *bytes = PyUnicode_Check(item) ? PyUnicode_EncodeFSDefault(item) : NULL;
        if (!bytes) {
            PyErr_Clear();
            continue;
        }
        const char *dir = PyBytes_AS_STRING(bytes);
        if (dir[0] == '/' && (out[n] = strdup(dir)))
            n++;
        Py_DECREF(bytes);
    }
    return n;
}

static PyObject *read_spec(const char *spec_path)
{
    PyObject *json = PyImport_ImportModule("json");
    PyObject *io = json ? PyImport_ImportModule("io") : NULL;
    PyObject *file = io ? PyObject_CallMethod(io, "open", "ss", spec_path, "rb") : NULL;
    PyObject *spec = file ? PyObject_CallMethod(json, "load", "O", file) : NULL;
    if (file) {
        PyObject *closed = PyObject_CallMethod(file, "close", NULL);
        if (!closed && spec) {
            Py_CLEAR(spec);
        }
        Py_XDECREF(closed);
    }
    Py_XDECREF(file);
    Py_XDECREF(io);
    Py_XDECREF(json);
    return spec;
}

int pw_python_load_worker(const char *spec_path, char *err, size_t err_len)
{
    PyObject *spec = read_spec(spec_path);
    PyObject *runtime = spec ? PyImport_ImportModule("pyworkerd.runtime") : NULL;
    PyObject *result = runtime ? PyObject_CallMethod(runtime, "load", "O", spec) : NULL;
    Py_XDECREF(runtime);
    Py_XDECREF(spec);
    if (!result) {
        char *text = take_exception_text();
        pw_err_set(err, err_len, "%s", text ? text : "out of memory");
        free(text);
        return -1;
    }
    Py_DECREF(result);
    return 0;
}

int pw_python_serve(int fd)
{
    PyObject *loop = PyImport_ImportModule("pyworkerd.loop");
    PyObject *result = loop ? PyObject_CallMethod(loop, "serve", "i", fd) : NULL;
    Py_XDECREF(loop);
    if (!result) {
        char *text = take_exception_text();
        pw_log_error("isolate %d stopped: %s", (int)getpid(), text);
        free(text);
        return -1;
    }
    Py_DECREF(result);
    return 0;
}

int pw_python_preload_next(void)
{
    if (!*next_later)
        return 0;
    const char *name = *next_later++;
    PyObject *mod = PyImport_ImportModule(name);
    if (!mod) {     /* a template of a worker that uses it will say why, with its traceback */
        PyErr_Clear();
        pw_log_error("zygote: cannot preload %s; templates import it when they need it", name);
    }
    Py_XDECREF(mod);
    if (*next_later)
        return 1;
    pw_python_settle_heap();
    return 0;
}

void pw_python_settle_heap(void)
{
    PyObject *gc = PyImport_ImportModule("gc");
    PyObject *rc = gc ? PyObject_CallMethod(gc, "collect", NULL) : NULL;
    Py_XDECREF(rc);
    rc = gc ? PyObject_CallMethod(gc, "freeze", NULL) : NULL;
    Py_XDECREF(rc);
    Py_XDECREF(gc);
    PyErr_Clear();      /* best effort: only memory and start time depend on it */
    malloc_trim(0);
}

void pw_python_before_fork(void)
{
    PyOS_BeforeFork();
}

void pw_python_after_fork_parent(void)
{
    PyOS_AfterFork_Parent();
}

void pw_python_after_fork_child(void)
{
    PyOS_AfterFork_Child();
}
