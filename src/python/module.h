/* module.h — the parts of the _pyworkerd extension module that python/ provides (zygote,
 * template and isolate processes); isolate/pyext.c assembles the module. Its Channel type is
 * the isolate's end of the wire: frames in, Python tuples out, and back.
 */
#ifndef PW_MODULE_H
#define PW_MODULE_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>

/* Adds trace_enabled(), trace(), Channel, STREAM_WINDOW and INLINE_BODY to the module.
 * Returns 0, or -1 with a Python exception set. */
int pw_module_add_parts(PyObject *module);

/* Defined in channel.c; added to the module by pw_module_add_parts(). */
extern PyType_Spec pw_channel_spec;

#endif
