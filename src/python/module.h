/* module.h — the _pyworkerd extension module, compiled into the pyworkerd binary and
 * registered before CPython starts (zygote). Its Channel type is the isolate's end of the
 * wire: frames in, Python tuples out, and back.
 */
#ifndef PW_MODULE_H
#define PW_MODULE_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>

PyMODINIT_FUNC PyInit__pyworkerd(void);

/* Defined in channel.c; added to the module by module.c. */
extern PyType_Spec pw_channel_spec;

#endif
