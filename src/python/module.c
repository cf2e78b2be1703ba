/* module.c — defines the _pyworkerd module (isolate, template and zygote processes): the
 * Channel type (channel.c) and the PYTHON_TRACE writer (trace_enabled(), trace()) that the
 * SDK's lifecycle steps share with the C side (host/log.h). Single-phase init; the module is only ever created once per
 * process, in the zygote, and inherited by fork.
 */
#include "python/module.h"
#include "wire/frame.h"
#include "host/log.h"

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

static PyMethodDef pw_module_methods[] = {
    { "trace_enabled", trace_enabled, METH_NOARGS, "Whether PYTHON_TRACE lines are written." },
    { "trace", trace, METH_VARARGS, "trace(step, seconds): one PYTHON_TRACE line." },
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
    if (PyModule_AddIntConstant(module, "STREAM_WINDOW", PW_FRAME_STREAM_WINDOW) < 0) {
        Py_DECREF(module);
        return NULL;
    }
    return module;
}
