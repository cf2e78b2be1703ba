/* module.c — defines the _pyworkerd module (isolate, template and zygote processes): the
 * Channel type (channel.c). Single-phase init; the module is only ever created once per
 * process, in the zygote, and inherited by fork.
 */
#include "python/module.h"
#include "wire/frame.h"

static struct PyModuleDef pw_module_def = {
    PyModuleDef_HEAD_INIT,
    .m_name = "_pyworkerd",
    .m_doc = "pyworkerd's native runtime support: the isolate's wire to the host.",
    .m_size = -1,
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
