/* pyext.c — assembles the _pyworkerd module (zygote, template and isolate processes): the
 * parts python/ provides (module.h) and child_main(), the entry of a zygote or cold isolate
 * that /usr/bin/python3.11 runs (isolate/child_command.h). The same init registers the module
 * built in when build/pyworkerd-isolate embeds CPython (pw_python_init). Single-phase init;
 * the module is only ever created once per process, in the zygote, and inherited by fork.
 */
#include "isolate/pyext.h"
#include "base/paths.h"
#include "isolate/child_args.h"
#include "isolate/child_command.h"
#include "isolate/child_main.h"
#include "python/module.h"

#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>

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

static PyMethodDef pyext_methods[] = {
    { "child_main", child_main, METH_VARARGS, "child_main(module_dir, argv): pyworkerd's zygote or cold isolate." },
    { NULL, NULL, 0, NULL },
};

static struct PyModuleDef pyext_def = {
    PyModuleDef_HEAD_INIT,
    .m_name = "_pyworkerd",
    .m_doc = "pyworkerd's native runtime support: the isolate's wire to the host.",
    .m_size = -1,
    .m_methods = pyext_methods,
};

PyMODINIT_FUNC PyInit__pyworkerd(void)
{
    PyObject *module = PyModule_Create(&pyext_def);
    if (module && pw_module_add_parts(module) < 0)
        Py_CLEAR(module);
    return module;
}
