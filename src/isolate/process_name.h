/* process_name.h — naming a guard, template or isolate process (those processes). */
#ifndef PW_PROCESS_NAME_H
#define PW_PROCESS_NAME_H

/* Names this process (ps, PYTHON_TRACE role) prefix + the service's name, which is the
 * directory of its spec: <runtime dir>/<service>/<spec file>. */
void pw_process_name(const char *prefix, const char *spec_path);

#endif
