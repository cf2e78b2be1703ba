/* pyext.h — the _pyworkerd module's init (zygote, template and isolate processes): what
 * /usr/bin/python3.11 calls when it imports build/pyext/_pyworkerd.so, and what
 * pw_python_init() registers as a built-in module in build/pyworkerd-isolate. */
#ifndef PW_PYEXT_H
#define PW_PYEXT_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>

PyMODINIT_FUNC PyInit__pyworkerd(void);

#endif
