/* module.c — the parts of the _pyworkerd module that python/ provides (isolate, template and
 * zygote processes): the Channel type (channel.c), the wire constants the SDK needs, and the
 * PYTHON_TRACE writer (trace_enabled(), trace()) that the SDK's lifecycle steps share with the
 * C side (base/log.h). isolate/pyext.c assembles the module from them.
 */
#include "python/module.h"
#include "wire/ws_frames.h"
#include "base/log.h"
#include "wire/frame.h"

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

static PyMethodDef trace_methods[] = {
    { "trace_enabled", trace_enabled, METH_NOARGS, "Whether PYTHON_TRACE lines are written." },
    { "trace", trace, METH_VARARGS, "trace(step, seconds): one PYTHON_TRACE line." },
    { NULL, NULL, 0, NULL },
};

int pw_module_add_parts(PyObject *module)
{
    if (PyModule_AddFunctions(module, trace_methods) < 0)
        return -1;
    PyObject *channel = PyType_FromSpec(&pw_channel_spec);
    if (!channel || PyModule_AddObject(module, "Channel", channel) < 0) {
        Py_XDECREF(channel);
        return -1;
    }
    if (PyModule_AddIntConstant(module, "STREAM_WINDOW", PW_FRAME_STREAM_WINDOW) < 0 ||
        PyModule_AddIntConstant(module, "INLINE_BODY", PW_FRAME_INLINE_BODY) < 0 ||
        PyModule_AddIntConstant(module, "WS_WINDOW", PW_WS_WINDOW) < 0 ||
        PyModule_AddIntConstant(module, "WS_MAX_MESSAGE", PW_WS_MAX_MESSAGE) < 0)
        return -1;
    return 0;
}
