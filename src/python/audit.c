/* audit.c — pyworkerd's CPython audit hook (zygote installs it; templates and isolates turn
 * it on). It answers a worker's attempt to leave the sandbox with an exception that says what
 * to do instead: files outside its modules and /tmp → PermissionError (use bindings or
 * fetch), sockets → PermissionError (use fetch), threads → RuntimeError("can't start new
 * thread"), processes, signals to others, ctypes libraries, raising rlimits → PermissionError.
 * The hook is for clear errors, not the boundary: paths are checked lexically, and the
 * kernel's layers (isolate/sandbox.c, seccomp.c, guard.c) hold even when the hook is
 * bypassed — and it can be: ctypes reads and writes memory without an audit event, so the
 * worker can switch the mode off (tests/e2e/test_top_level_sandbox.py does).
 * Invariant: only C sets the mode; nothing may depend on the hook for safety.
 */
#include "python/audit.h"

#include <Python.h>
#include <errno.h>
#include <fcntl.h>
#include <frameobject.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAX_READ_DIRS 64

static const char FS_MESSAGE[] =
    "the file system is not available to workers: only the worker's own modules, the standard "
    "library and installed packages can be read, and /tmp (private to this isolate) written. "
    "Reach data through bindings (env.NAME: KV, services) or fetch()";
static const char NET_MESSAGE[] =
    "network sockets are not available to workers: make HTTP requests with fetch() "
    "(from js import fetch, or workers.fetch)";
static const char PROCESS_MESSAGE[] =
    "workers cannot start processes (fork, exec, subprocess, os.system)";

static pw_audit_mode_t mode = PW_AUDIT_OFF;
static char *read_dirs[MAX_READ_DIRS];
static size_t n_read_dirs;
static PyObject *socket_file;       /* socket.__file__: its socketpair() makes asyncio's pipe */

typedef enum {
    ACT_OPEN, ACT_READ_PATH, ACT_WRITE_PATH, ACT_WRITE_2PATHS, ACT_SOCKET, ACT_NET, ACT_THREAD,
    ACT_PROCESS, ACT_KILL, ACT_KILLPG, ACT_DLOPEN, ACT_CTYPES, ACT_SETRLIMIT, ACT_PRLIMIT,
} action_t;

static const struct { const char *event; action_t action; } rules[] = {
    { "open", ACT_OPEN },
    { "os.listdir", ACT_READ_PATH }, { "os.scandir", ACT_READ_PATH },
    { "os.getxattr", ACT_READ_PATH }, { "os.listxattr", ACT_READ_PATH },
    { "os.mkdir", ACT_WRITE_PATH }, { "os.remove", ACT_WRITE_PATH },
    { "os.rmdir", ACT_WRITE_PATH }, { "os.truncate", ACT_WRITE_PATH },
    { "os.chmod", ACT_WRITE_PATH }, { "os.chown", ACT_WRITE_PATH },
    { "os.utime", ACT_WRITE_PATH }, { "os.chflags", ACT_WRITE_PATH },
    { "os.setxattr", ACT_WRITE_PATH }, { "os.removexattr", ACT_WRITE_PATH },
    { "os.rename", ACT_WRITE_2PATHS }, { "os.link", ACT_WRITE_2PATHS },
    { "os.symlink", ACT_WRITE_2PATHS },
    { "socket.__new__", ACT_SOCKET },
    { "socket.connect", ACT_NET }, { "socket.bind", ACT_NET }, { "socket.sendto", ACT_NET },
    { "socket.getaddrinfo", ACT_NET }, { "socket.gethostbyname", ACT_NET },
    { "socket.gethostbyaddr", ACT_NET }, { "socket.getnameinfo", ACT_NET },
    { "_thread.start_new_thread", ACT_THREAD },
    { "os.fork", ACT_PROCESS }, { "os.forkpty", ACT_PROCESS }, { "os.system", ACT_PROCESS },
    { "os.exec", ACT_PROCESS }, { "os.posix_spawn", ACT_PROCESS }, { "os.spawn", ACT_PROCESS },
    { "subprocess.Popen", ACT_PROCESS },
    { "os.kill", ACT_KILL }, { "os.killpg", ACT_KILLPG },
    { "ctypes.dlopen", ACT_DLOPEN }, { "ctypes.dlsym", ACT_CTYPES },
    { "ctypes.dlsym/handle", ACT_CTYPES }, { "ctypes.call_function", ACT_CTYPES },
    { "ctypes.cdata", ACT_CTYPES }, { "ctypes.PyObj_FromPtr", ACT_CTYPES },
    { "resource.setrlimit", ACT_SETRLIMIT }, { "resource.prlimit", ACT_PRLIMIT },
};

/* ---- paths ---- */

static int is_under(const char *path, const char *dir)
{
    size_t n = strlen(dir);
    return strncmp(path, dir, n) == 0 && (path[n] == '/' || path[n] == '\0');
}

/* Makes `path` absolute (against the cwd) and removes ".", ".." and repeated slashes. */
static void normalize(const char *path, char *out, size_t len)
{
    char joined[PATH_MAX * 2];
    char cwd[PATH_MAX] = "/";
    if (path[0] != '/' && !getcwd(cwd, sizeof cwd))
        strcpy(cwd, "/");
    snprintf(joined, sizeof joined, "%s/%s", path[0] == '/' ? "" : cwd, path);
    size_t o = 0;
    out[0] = '\0';
    for (char *save = NULL, *part = strtok_r(joined, "/", &save); part; part = strtok_r(NULL, "/", &save)) {
        if (strcmp(part, ".") == 0)
            continue;
        if (strcmp(part, "..") == 0) {
            while (o > 0 && out[o - 1] != '/')
                o--;
            if (o > 0)
                o--;
            out[o] = '\0';
            continue;
        }
        o += (size_t)snprintf(out + o, len - o, "/%s", part);
        if (o >= len)
            o = len - 1;
    }
    if (o == 0)
        snprintf(out, len, "/");
}

static int readable(const char *path)
{
    if (is_under(path, "/tmp") || strcmp(path, "/dev/null") == 0 ||
        strcmp(path, "/dev/zero") == 0 || strcmp(path, "/dev/urandom") == 0)
        return 1;
    for (size_t i = 0; i < n_read_dirs; i++)
        if (is_under(path, read_dirs[i]))
            return 1;
    return 0;
}

static int writable(const char *path)
{
    if (strcmp(path, "/dev/null") == 0)
        return 1;
    if (!is_under(path, "/tmp"))
        return 0;
    for (size_t i = 0; i < n_read_dirs; i++)
        if (is_under(path, read_dirs[i]))
            return 0;   /* the worker's own directory, when it lives under /tmp */
    return 1;
}

static int deny(PyObject *type, const char *message, PyObject *filename)
{
    PyObject *exc = filename ? PyObject_CallFunction(type, "isO", EACCES, message, filename)
                             : PyObject_CallFunction(type, "is", EACCES, message);
    if (exc) {
        PyErr_SetObject(type, exc);
        Py_DECREF(exc);
    }
    return -1;
}

/* Checks one path argument; ints are descriptors the worker already holds. */
static int check_path(PyObject *arg, int write)
{
    if (!arg || PyLong_Check(arg))
        return 0;
    PyObject *bytes = NULL;
    if (arg == Py_None) {
        bytes = PyBytes_FromString(".");
    } else {
        PyObject *fspath = PyOS_FSPath(arg);
        if (!fspath) {
            PyErr_Clear();
            return 0;       /* not a path: the call itself will raise TypeError */
        }
        if (PyBytes_Check(fspath)) {
            bytes = fspath;
        } else {
            bytes = PyUnicode_EncodeFSDefault(fspath);
            Py_DECREF(fspath);
        }
    }
    if (!bytes)
        return -1;
    char norm[PATH_MAX];
    normalize(PyBytes_AS_STRING(bytes), norm, sizeof norm);
    Py_DECREF(bytes);
    if (write ? writable(norm) : readable(norm))
        return 0;
    return deny(PyExc_PermissionError, FS_MESSAGE, arg == Py_None ? NULL : arg);
}

static PyObject *arg_at(PyObject *args, Py_ssize_t i)
{
    return PyTuple_Check(args) && PyTuple_GET_SIZE(args) > i ? PyTuple_GET_ITEM(args, i) : NULL;
}

static int check_open(PyObject *args)
{
    PyObject *flags_obj = arg_at(args, 2);
    long flags = flags_obj && PyLong_Check(flags_obj) ? PyLong_AsLong(flags_obj) : 0;
    int write = (flags & O_ACCMODE) != O_RDONLY || (flags & (O_CREAT | O_TRUNC | O_APPEND));
    PyObject *mode_obj = arg_at(args, 1);
    if (mode_obj && PyUnicode_Check(mode_obj)) {
        const char *m = PyUnicode_AsUTF8(mode_obj);
        write |= m && strpbrk(m, "wax+") != NULL;
    }
    return check_path(arg_at(args, 0), write);
}

/* ---- sockets ---- */

static int code_is(PyFrameObject *frame, const char *name)
{
    PyCodeObject *code = PyFrame_GetCode(frame);
    int match = socket_file && PyUnicode_CompareWithASCIIString(code->co_name, name) == 0 &&
                PyUnicode_Compare(code->co_filename, socket_file) == 0;
    Py_DECREF(code);
    return match;
}

/* socket.socketpair() wraps the pair it made in socket objects: the one socket allowed. */
static int from_socketpair(void)
{
    PyFrameObject *frame = PyEval_GetFrame();
    if (!frame || !code_is(frame, "__init__"))
        return 0;
    PyFrameObject *back = PyFrame_GetBack(frame);
    int ok = back && code_is(back, "socketpair");
    Py_XDECREF(back);
    return ok;
}

/* pyworkerd.host_socket's HostSocket wraps a socketpair's end (the host makes the TCP
 * connection): socket.socket.__init__ called from HostSocket.__init__. */
static int from_host_socket(void)
{
    static const char suffix[] = "pyworkerd/host_socket.py";
    PyFrameObject *frame = PyEval_GetFrame();
    if (!frame || !code_is(frame, "__init__"))
        return 0;
    PyFrameObject *back = PyFrame_GetBack(frame);
    PyCodeObject *code = back ? PyFrame_GetCode(back) : NULL;
    const char *file = code ? PyUnicode_AsUTF8(code->co_filename) : NULL;
    size_t len = file ? strlen(file) : 0;
    int ok = file && len >= sizeof suffix - 1 && strcmp(file + len - (sizeof suffix - 1), suffix) == 0 &&
             PyUnicode_CompareWithASCIIString(code->co_name, "__init__") == 0;
    if (!file)
        PyErr_Clear();
    Py_XDECREF(code);
    Py_XDECREF(back);
    return ok;
}

static int check_socket(PyObject *args)
{
    PyObject *family = arg_at(args, 1);
    if (family && PyLong_Check(family) && PyLong_AsLong(family) == AF_UNIX && from_socketpair())
        return 0;
    if (from_host_socket())
        return 0;
    return deny(PyExc_PermissionError, NET_MESSAGE, NULL);
}

/* ---- the hook ---- */

static int check_kill(PyObject *args)
{
    PyObject *pid = arg_at(args, 0);
    if (pid && PyLong_Check(pid) && PyLong_AsLong(pid) == (long)getpid())
        return 0;
    return deny(PyExc_PermissionError, "workers can only send signals to themselves", NULL);
}

static int check_dlopen(PyObject *args)
{
    if (arg_at(args, 0) == Py_None)
        return 0;   /* `import ctypes` opens the running program itself (numpy imports
                     * ctypes); finding or calling anything in it is refused */
    return deny(PyExc_PermissionError, "workers cannot load native libraries with ctypes", NULL);
}

static int apply(action_t action, PyObject *args)
{
    switch (action) {
    case ACT_OPEN: return check_open(args);
    case ACT_READ_PATH: return check_path(arg_at(args, 0), 0);
    case ACT_WRITE_PATH: return check_path(arg_at(args, 0), 1);
    case ACT_WRITE_2PATHS:
        return check_path(arg_at(args, 0), 1) < 0 ? -1 : check_path(arg_at(args, 1), 1);
    case ACT_SOCKET: return check_socket(args);
    case ACT_NET: return deny(PyExc_PermissionError, NET_MESSAGE, NULL);
    case ACT_THREAD:
        PyErr_SetString(PyExc_RuntimeError, "can't start new thread");
        return -1;
    case ACT_PROCESS: return deny(PyExc_PermissionError, PROCESS_MESSAGE, NULL);
    case ACT_KILL: return check_kill(args);
    case ACT_KILLPG: return deny(PyExc_PermissionError, "workers can only send signals to themselves", NULL);
    case ACT_DLOPEN: return check_dlopen(args);
    case ACT_CTYPES:
        return deny(PyExc_PermissionError, "ctypes is not available to workers", NULL);
    case ACT_SETRLIMIT:
        return deny(PyExc_PermissionError, "workers cannot change their resource limits", NULL);
    case ACT_PRLIMIT:
        return arg_at(args, 2) == Py_None || !arg_at(args, 2) ? 0
               : deny(PyExc_PermissionError, "workers cannot change their resource limits", NULL);
    }
    return 0;
}

static int audit_hook(const char *event, PyObject *args, void *data)
{
    if (mode == PW_AUDIT_OFF)
        return 0;
    char first = event[0];
    if (first != 'o' && first != 's' && first != '_' && first != 'c' && first != 'r')
        return 0;
    for (size_t i = 0; i < sizeof rules / sizeof rules[0]; i++)
        if (rules[i].event[0] == first && strcmp(rules[i].event, event) == 0)
            return apply(rules[i].action, args);
    return 0;
}

int pw_audit_install(void)
{
    PyObject *socket_mod = PyImport_ImportModule("socket");
    if (!socket_mod)
        return -1;
    socket_file = PyObject_GetAttrString(socket_mod, "__file__");
    Py_DECREF(socket_mod);
    if (!socket_file)
        return -1;
    return PySys_AddAuditHook(audit_hook, NULL) < 0 ? -1 : 0;
}

int pw_audit_allow_read(const char *const *dirs, size_t n)
{
    for (size_t i = 0; i < n && n_read_dirs < MAX_READ_DIRS; i++) {
        char norm[PATH_MAX];
        normalize(dirs[i], norm, sizeof norm);
        if (!(read_dirs[n_read_dirs] = strdup(norm)))
            return -1;
        n_read_dirs++;
    }
    return 0;
}

void pw_audit_set_mode(pw_audit_mode_t new_mode)
{
    mode = new_mode;
}
