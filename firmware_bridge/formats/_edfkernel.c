/* One pass over an EDF/BDF channel: little-endian 16- or 24-bit integers, spread over the data records at a
 * fixed stride, to float32 physical values, counting the samples pinned at the digital limits.
 *
 * The numpy path in edf.py computes exactly the same floats (float32(digital) * float32(gain), then
 * + float32(offset) when there is an offset); this kernel does it in one pass instead of five and without
 * holding the interpreter lock, so both lanes of the reader convert at once. It is optional: when it is
 * not built, the reader uses the numpy path.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>

/* The loops are simple enough for the compiler to vectorise; built once for AVX2 and once for any x86-64 (or
 * once, elsewhere), the CPU picks at load time. */
#if defined(__GNUC__) && defined(__x86_64__) && defined(__linux__)
#define CLONES __attribute__((target_clones("avx2", "default")))
#else
#define CLONES
#endif

CLONES static void convert24(const uint8_t *base, Py_ssize_t record_bytes, Py_ssize_t n_records, Py_ssize_t spr,
                             float *out, float g, float a, int has_add, long long dmin, long long dmax,
                             Py_ssize_t *low_out, Py_ssize_t *high_out) {
    Py_ssize_t low = 0, high = 0;
    for (Py_ssize_t r = 0; r < n_records; r++) {
        const uint8_t *p = base + r * record_bytes;
        float *o = out + r * spr;
        for (Py_ssize_t i = 0; i < spr; i++) {
            const uint8_t *q = p + 3 * i;
            int32_t v = (int32_t)((uint32_t)q[0] | ((uint32_t)q[1] << 8) | ((uint32_t)q[2] << 16));
            if (v & 0x800000) v -= 0x1000000;
            low += v <= dmin;
            high += v >= dmax;
            o[i] = (float)v * g;
        }
        if (has_add)
            for (Py_ssize_t i = 0; i < spr; i++) o[i] += a;
    }
    *low_out = low;
    *high_out = high;
}

CLONES static void convert16(const uint8_t *base, Py_ssize_t record_bytes, Py_ssize_t n_records, Py_ssize_t spr,
                             float *out, float g, float a, int has_add, long long dmin, long long dmax,
                             Py_ssize_t *low_out, Py_ssize_t *high_out) {
    Py_ssize_t low = 0, high = 0;
    for (Py_ssize_t r = 0; r < n_records; r++) {
        const uint8_t *p = base + r * record_bytes;
        float *o = out + r * spr;
        for (Py_ssize_t i = 0; i < spr; i++) {
            const uint8_t *q = p + 2 * i;
            int32_t v = (int16_t)((uint16_t)q[0] | ((uint16_t)q[1] << 8));
            low += v <= dmin;
            high += v >= dmax;
            o[i] = (float)v * g;
        }
        if (has_add)
            for (Py_ssize_t i = 0; i < spr; i++) o[i] += a;
    }
    *low_out = low;
    *high_out = high;
}

static PyObject *convert(PyObject *self, PyObject *args) {
    Py_buffer src, dst;
    Py_ssize_t offset, record_bytes, n_records, spr;
    int bps;
    double gain, add;
    long long dmin, dmax;
    (void)self;
    if (!PyArg_ParseTuple(args, "y*nnnnw*iddLL", &src, &offset, &record_bytes, &n_records, &spr, &dst, &bps,
                          &gain, &add, &dmin, &dmax))
        return NULL;
    PyObject *result = NULL;
    if ((bps != 2 && bps != 3) || offset < 0 || record_bytes <= 0 || n_records < 0 || spr < 0) {
        PyErr_SetString(PyExc_ValueError, "bad layout");
        goto done;
    }
    if (n_records > 0 && offset + (n_records - 1) * record_bytes + spr * bps > src.len) {
        PyErr_SetString(PyExc_ValueError, "the records do not fit the source buffer");
        goto done;
    }
    if (dst.len < (Py_ssize_t)(n_records * spr * (Py_ssize_t)sizeof(float))) {
        PyErr_SetString(PyExc_ValueError, "the output buffer is too small");
        goto done;
    }
    {
        const uint8_t *base = (const uint8_t *)src.buf + offset;
        float *out = (float *)dst.buf;
        Py_ssize_t low = 0, high = 0;
        Py_BEGIN_ALLOW_THREADS
        if (bps == 3)
            convert24(base, record_bytes, n_records, spr, out, (float)gain, (float)add, add != 0.0, dmin, dmax, &low,
                      &high);
        else
            convert16(base, record_bytes, n_records, spr, out, (float)gain, (float)add, add != 0.0, dmin, dmax, &low,
                      &high);
        Py_END_ALLOW_THREADS
        result = Py_BuildValue("nn", low, high);
    }
done:
    PyBuffer_Release(&src);
    PyBuffer_Release(&dst);
    return result;
}

static PyMethodDef methods[] = {
    {"convert", convert, METH_VARARGS,
     "convert(src, offset, record_bytes, n_records, spr, dst, bytes_per_sample, gain, add, dmin, dmax)"
     " -> (samples <= dmin, samples >= dmax)"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_edfkernel", NULL, -1, methods};

PyMODINIT_FUNC PyInit__edfkernel(void) { return PyModule_Create(&module); }
