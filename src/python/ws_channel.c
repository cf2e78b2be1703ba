/* ws_channel.c — WebSocket frames at the isolate's end of the wire (isolate process; see
 * ws_channel.h). Text from the host was checked as UTF-8 by the host; it is decoded with
 * surrogateescape all the same, so that a broken host cannot make decoding raise.
 */
#include "python/ws_channel.h"
#include "wire/ws_frames.h"

#include <errno.h>

int pw_ws_channel_is_event(uint8_t type)
{
    return type == PW_FRAME_WS_MESSAGE || type == PW_FRAME_WS_CLOSE || type == PW_FRAME_WS_ACK;
}

static PyObject *message_data(const pw_frame_t *frame)
{
    if (frame->flags & PW_FRAME_FLAG_BINARY)
        return PyBytes_FromStringAndSize((const char *)frame->payload, (Py_ssize_t)frame->len);
    return PyUnicode_DecodeUTF8((const char *)frame->payload, (Py_ssize_t)frame->len,
                                "surrogateescape");
}

PyObject *pw_ws_channel_event(const pw_frame_t *frame)
{
    if (frame->type == PW_FRAME_WS_MESSAGE) {
        PyObject *data = message_data(frame);
        return data ? Py_BuildValue("[IiNn]", frame->id, 0, data, (Py_ssize_t)frame->len) : NULL;
    }
    if (frame->type == PW_FRAME_WS_CLOSE) {
        uint16_t code;
        pw_bytes_t reason;
        if (pw_ws_frame_decode_close(frame, &code, &reason) < 0)
            return PyErr_Format(PyExc_ValueError, "malformed WS_CLOSE frame %u from the host", frame->id);
        PyObject *text = PyUnicode_DecodeUTF8((const char *)reason.base, (Py_ssize_t)reason.len,
                                              "replace");
        return text ? Py_BuildValue("[Ii(IN)]", frame->id, 1, (unsigned)code, text) : NULL;
    }
    uint32_t bytes;
    if (pw_frame_decode_u32(frame, &bytes) < 0)
        return PyErr_Format(PyExc_ValueError, "malformed WS_ACK frame %u from the host", frame->id);
    return Py_BuildValue("[IiI]", frame->id, 2, bytes);
}

static PyObject *queued(int rc, const char *what)
{
    if (rc == -ENOMEM)
        return PyErr_NoMemory();
    if (rc < 0)
        return PyErr_Format(PyExc_ValueError, "%s too large for the wire", what);
    Py_RETURN_NONE;
}

PyObject *pw_ws_channel_send(pw_buf_t *out, PyObject *args)
{
    unsigned int id;
    PyObject *data;
    if (!PyArg_ParseTuple(args, "IO", &id, &data))
        return NULL;
    if (PyUnicode_Check(data)) {
        Py_ssize_t len;
        const char *s = PyUnicode_AsUTF8AndSize(data, &len);
        if (!s)
            return NULL;
        return queued(pw_ws_frame_put_message(out, PW_FRAME_WS_SEND, id, 0, s, (size_t)len),
                      "WebSocket message");
    }
    Py_buffer view;
    if (PyObject_GetBuffer(data, &view, PyBUF_SIMPLE) < 0)
        return NULL;
    int rc = pw_ws_frame_put_message(out, PW_FRAME_WS_SEND, id, 1, view.buf, (size_t)view.len);
    PyBuffer_Release(&view);
    return queued(rc, "WebSocket message");
}

PyObject *pw_ws_channel_close(pw_buf_t *out, PyObject *args)
{
    unsigned int id, code;
    const char *reason;
    Py_ssize_t len;
    if (!PyArg_ParseTuple(args, "IIs#", &id, &code, &reason, &len))
        return NULL;
    if (code > 0xffff)
        return PyErr_Format(PyExc_ValueError, "close code %u out of range", code);
    pw_bytes_t r = { (const uint8_t *)reason, (size_t)len };
    return queued(pw_ws_frame_put_close(out, PW_FRAME_WS_SEND_CLOSE, id, (uint16_t)code, r),
                  "WebSocket close");
}

PyObject *pw_ws_channel_taken(pw_buf_t *out, PyObject *args)
{
    unsigned int id, bytes;
    if (!PyArg_ParseTuple(args, "II", &id, &bytes))
        return NULL;
    return queued(pw_frame_put_u32_frame(out, PW_FRAME_WS_TAKEN, id, bytes), "ack");
}

PyObject *pw_ws_channel_response(pw_buf_t *out, PyObject *args)
{
    unsigned int id, existing = 0;
    PyObject *headers_obj;
    if (!PyArg_ParseTuple(args, "IO|I", &id, &headers_obj, &existing))
        return NULL;
    uint8_t body[4] = { (uint8_t)existing, (uint8_t)(existing >> 8), (uint8_t)(existing >> 16),
                        (uint8_t)(existing >> 24) };
    PyObject *fast = PySequence_Fast(headers_obj, "headers must be a sequence of (name, value) pairs");
    if (!fast)
        return NULL;
    Py_ssize_t n = PySequence_Fast_GET_SIZE(fast);
    pw_header_t *headers = PyMem_Malloc(sizeof *headers * (size_t)(n ? n : 1));
    int rc = headers ? 0 : -ENOMEM;
    for (Py_ssize_t i = 0; rc == 0 && i < n; i++) {
        PyObject *pair = PySequence_Fast_GET_ITEM(fast, i);
        Py_ssize_t nl, vl;
        const char *name, *value;
        if (!PyTuple_Check(pair) || PyTuple_GET_SIZE(pair) != 2 ||
            !(name = PyUnicode_AsUTF8AndSize(PyTuple_GET_ITEM(pair, 0), &nl)) ||
            !(value = PyUnicode_AsUTF8AndSize(PyTuple_GET_ITEM(pair, 1), &vl))) {
            if (!PyErr_Occurred())
                PyErr_SetString(PyExc_TypeError, "each header must be a (str, str) tuple");
            rc = -EINVAL;
            break;
        }
        headers[i] = (pw_header_t){ { (const uint8_t *)name, (size_t)nl }, { (const uint8_t *)value, (size_t)vl } };
    }
    size_t start = out->len;
    if (rc == 0)
        rc = pw_frame_put_response(out, id, 101, headers, (size_t)n,
                                   (pw_bytes_t){ body, existing ? 4 : 0 });
    if (rc == 0)
        out->data[start + 5] = PW_FRAME_FLAG_WEBSOCKET;
    PyMem_Free(headers);
    Py_DECREF(fast);
    if (rc == -EINVAL)
        return NULL;
    return queued(rc, "WebSocket response");
}
