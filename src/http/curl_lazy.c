/* curl_lazy.c — libcurl's functions that pyworkerd calls, loading libcurl.so.4 at the first
 * one (host process; base/lazy_lib.h says why): a server that never fetches never maps
 * libcurl and the ~25 libraries it needs. The binary does not link libcurl; these definitions
 * are the ones fetch.c and ws_client.c call. Only functions listed here may be called: a new
 * one is a link error until it is added.
 */
#define CURL_DISABLE_TYPECHECK      /* the type-checking macros would rename the functions */
#include <curl/curl.h>

#include "base/lazy_lib.h"

#include <stdarg.h>

static pw_lazy_lib_t curl = PW_LAZY_LIB("libcurl.so.4");

PW_LAZY_FN(curl, CURLcode, curl_global_init, (long flags), (flags), CURLE_FAILED_INIT)
PW_LAZY_FN(curl, CURL *, curl_easy_init, (void), (), NULL)
PW_LAZY_VOID_FN(curl, curl_easy_cleanup, (CURL *h), (h))
PW_LAZY_FN(curl, const char *, curl_easy_strerror, (CURLcode code), (code),
           "libcurl.so.4 cannot be loaded")
PW_LAZY_VOID_FN(curl, curl_free, (void *p), (p))
PW_LAZY_FN(curl, CURLM *, curl_multi_init, (void), (), NULL)
PW_LAZY_FN(curl, CURLMcode, curl_multi_add_handle, (CURLM *m, CURL *h), (m, h),
           CURLM_INTERNAL_ERROR)
PW_LAZY_FN(curl, CURLMcode, curl_multi_remove_handle, (CURLM *m, CURL *h), (m, h),
           CURLM_INTERNAL_ERROR)
PW_LAZY_FN(curl, CURLMcode, curl_multi_assign, (CURLM *m, curl_socket_t s, void *p), (m, s, p),
           CURLM_INTERNAL_ERROR)
PW_LAZY_FN(curl, CURLMcode, curl_multi_cleanup, (CURLM *m), (m), CURLM_INTERNAL_ERROR)
PW_LAZY_FN(curl, CURLMsg *, curl_multi_info_read, (CURLM *m, int *left), (m, left), NULL)
PW_LAZY_FN(curl, CURLMcode, curl_multi_socket_action,
           (CURLM *m, curl_socket_t s, int events, int *running), (m, s, events, running),
           CURLM_INTERNAL_ERROR)
PW_LAZY_FN(curl, struct curl_slist *, curl_slist_append, (struct curl_slist *l, const char *s),
           (l, s), NULL)
PW_LAZY_VOID_FN(curl, curl_slist_free_all, (struct curl_slist *l), (l))
PW_LAZY_FN(curl, CURLU *, curl_url, (void), (), NULL)
PW_LAZY_VOID_FN(curl, curl_url_cleanup, (CURLU *u), (u))
PW_LAZY_FN(curl, CURLUcode, curl_url_get, (CURLU *u, CURLUPart what, char **part, unsigned flags),
           (u, what, part, flags), CURLUE_OUT_OF_MEMORY)
PW_LAZY_FN(curl, CURLUcode, curl_url_set,
           (CURLU *u, CURLUPart what, const char *part, unsigned flags), (u, what, part, flags),
           CURLUE_OUT_OF_MEMORY)

/* The variadic three: one argument after the option, whose type the option's number range
 * says (curl.h's CURLOPTTYPE_*): a long, a curl_off_t, or a pointer (data, blob or function);
 * getinfo's is always a pointer to the answer. */
#define OPTION_IS_LONG(o) ((o) < CURLOPTTYPE_OBJECTPOINT)
#define OPTION_IS_OFF_T(o) ((o) >= CURLOPTTYPE_OFF_T && (o) < CURLOPTTYPE_BLOB)
#define ANY_OPTION(o) 0
#define FORWARD_ONE(ret, name, handle_t, option_t, is_long, is_off_t, fail)                  \
    ret name(handle_t *h, option_t option, ...)                                             \
    {                                                                                       \
        typedef ret (*real_fn)(handle_t *, option_t, ...);                                  \
        static real_fn kept;                                                                \
        real_fn real = __atomic_load_n(&kept, __ATOMIC_ACQUIRE);                            \
        if (!real && !(real = (real_fn)pw_lazy_sym(&curl, #name)))                          \
            return fail;                                                                    \
        __atomic_store_n(&kept, real, __ATOMIC_RELEASE);                                    \
        va_list ap;                                                                         \
        va_start(ap, option);                                                               \
        ret rc = is_long(option)    ? real(h, option, va_arg(ap, long))                     \
                 : is_off_t(option) ? real(h, option, va_arg(ap, curl_off_t))               \
                                    : real(h, option, va_arg(ap, void *));                  \
        va_end(ap);                                                                         \
        return rc;                                                                          \
    }

FORWARD_ONE(CURLcode, curl_easy_setopt, CURL, CURLoption, OPTION_IS_LONG, OPTION_IS_OFF_T,
            CURLE_FAILED_INIT)
FORWARD_ONE(CURLMcode, curl_multi_setopt, CURLM, CURLMoption, OPTION_IS_LONG, OPTION_IS_OFF_T,
            CURLM_INTERNAL_ERROR)
FORWARD_ONE(CURLcode, curl_easy_getinfo, CURL, CURLINFO, ANY_OPTION, ANY_OPTION, CURLE_FAILED_INIT)
