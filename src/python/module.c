/* module.c — defines the _pyworkerd module (isolate, template and zygote processes): the
 * Channel type (channel.c), the PYTHON_TRACE writer (trace_enabled(), trace()) that the
 * SDK's lifecycle steps share with the C side (host/log.h), and child_main(), the entry of a
 * zygote or cold isolate that /usr/bin/python3.11 runs (config/child_command.c). Single-phase
 * init; the module is only ever created once per process, in the zygote, and inherited by
 * fork.
 */
#include "python/module.h"
#include "config/child_command.h"
#include "isolate/child_args.h"
#include "config/paths.h"
#include "isolate/process.h"
#include "wire/frame.h"
#include "host/log.h"

#include <libgen.h>
#include <stdio.h>
#include <string.h>

static PyObject *trace_enabled(PyObject *module, PyObject *unused)
{
    return PyBool_FromLong(pw_trace_on);
}

static PyObject *trace(PyObject *module, PyObject *args)
{
    const char *step;
    double seconds;
    if (!PyArg_ParseTuple(args, "sd", &step, &seconds))
        return NULL;
    if (pw_trace_on)
        pw_trace_step_ns(seconds > 0 ? (uint64_t)(seconds * 1e9) : 0, "%s", step);
    Py_RETURN_NONE;
}

/* sys.argv as an embedded interpreter has it: [""] (the worker never sees pyworkerd's). */
static int reset_argv(void)
{
    PyObject *argv = Py_BuildValue("[s]", "");
    int rc = argv ? PySys_SetObject("argv", argv) : -1;
    Py_XDECREF(argv);
    return rc;
}

/* child_main(module_dir, argv): runs the zygote or a cold isolate, as pyworkerd-isolate's
 * main() does with the same argv ("pyworkerd", "--zygote", FD, ...); returns the exit code.
 * Only once per process: a worker calling it again gets RuntimeError. */
static PyObject *child_main(PyObject *module, PyObject *args)
{
    static int started;
    const char *module_dir;
    PyObject *list;
    if (!PyArg_ParseTuple(args, "sO!", &module_dir, &PyList_Type, &list))
        return NULL;
    Py_ssize_t argc = PyList_GET_SIZE(list);
    if (started || argc < 1 || argc > PW_CHILD_MAX_ARGS + 1) {
        PyErr_SetString(PyExc_RuntimeError, "child_main() runs once, from pyworkerd's own start");
        return NULL;
    }
    started = 1;
    char *argv[PW_CHILD_MAX_ARGS + 2];
    for (Py_ssize_t i = 0; i < argc; i++) {
        const char *arg = PyUnicode_Check(PyList_GET_ITEM(list, i)) ? PyUnicode_AsUTF8(PyList_GET_ITEM(list, i)) : NULL;
        if (!arg)
            return PyErr_Occurred() ? NULL : PyErr_Format(PyExc_TypeError, "child_main(): argv[%zd] is not a str", i);
        argv[i] = (char *)arg;      /* lives as long as `list`, i.e. this call */
    }
    argv[argc] = NULL;
    char bin_dir[PATH_MAX];
    snprintf(bin_dir, sizeof bin_dir, "%s", module_dir);
    pw_paths_set_bin_dir(dirname(bin_dir));     /* .../build/pyext -> .../build */
    if (reset_argv() < 0)
        return NULL;
    pw_child_args_t child;
    char err[1024];
    int parsed = pw_child_args_parse((int)argc, argv, &child, err, sizeof err);
    if (parsed != 0) {
        if (parsed < 0)
            fprintf(stderr, "%s\n", err);
        return PyLong_FromLong(1);
    }
    int rc = pw_child_main(&child);
    if (PyErr_Occurred())
        PyErr_Clear();
    return PyLong_FromLong(rc < 0 ? 1 : rc);
}

static PyMethodDef pw_module_methods[] = {
    { "trace_enabled", trace_enabled, METH_NOARGS, "Whether PYTHON_TRACE lines are written." },
    { "trace", trace, METH_VARARGS, "trace(step, seconds): one PYTHON_TRACE line." },
    { "child_main", child_main, METH_VARARGS, "child_main(module_dir, argv): pyworkerd's zygote or cold isolate." },
    { NULL, NULL, 0, NULL },
};

static struct PyModuleDef pw_module_def = {
    PyModuleDef_HEAD_INIT,
    .m_name = "_pyworkerd",
    .m_doc = "pyworkerd's native runtime support: the isolate's wire to the host.",
    .m_size = -1,
    .m_methods = pw_module_methods,
};

PyMODINIT_FUNC PyInit__pyworkerd(void)
{
    PyObject *module = PyModule_Create(&pw_module_def);
    if (!module)
        return NULL;
    PyObject *channel = PyType_FromSpec(&pw_channel_spec);
    if (!channel || PyModule_AddObject(module, "Channel", channel) < 0) {
        Py_XDECREF(channel);
        Py_DECREF(module);
        return NULL;
    }
    if (PyModule_AddIntConstant(module, "STREAM_WINDOW", PW_FRAME_STREAM_WINDOW) < 0 ||
        PyModule_AddIntConstant(module, "INLINE_BODY", PW_FRAME_INLINE_BODY) < 0) {
        Py_DECREF(module);
        return NULL;
    }
    return module;
}
