/* Unit tests of tensorio, image and inputmeta: round trips for every dtype, every bad
 * input class of tests/data/bad (npy_*, tensor_*, img_*, meta_*) with its message,
 * image decoding and the preprocessing arithmetic against hand-computed values.
 * Run from the repository root, or set QP_TEST_DATA to tests/data. */
#include <errno.h>
#include <ftw.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "qp/diag.h"
#include "qp/image.h"
#include "qp/inputmeta.h"
#include "qp/tensorio.h"

#include "check.h"
static char data_dir[512], tmp_dir[256];


static const char *D(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static const char *D(const char *fmt, ...)
{
    static char bufs[8][1200];
    static int k;
    char *b = bufs[k++ % 8];
    char rel[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(rel, sizeof rel, fmt, ap);
    va_end(ap);
    snprintf(b, 1200, "%s/%s", data_dir, rel);
    return b;
}

static const char *T(const char *name)
{
    static char bufs[8][512];
    static int k;
    char *b = bufs[k++ % 8];
    snprintf(b, 512, "%s/%s", tmp_dir, name);
    return b;
}

/* rc must be code and the message must contain text. */
static void expect_err(int line, const char *what, int rc, int code, const char *text)
{
    const char *msg = qp_error_msg();
    if (rc == code && strstr(msg, text) && !strchr(msg, '\n')) {
        n_pass++;
    } else {
        n_fail++;
        fprintf(stderr, "FAIL %s:%d: %s: rc %d (want %d), message '%s' (want '%s')\n", __FILE__, line, what, rc,
                code, msg, text);
    }
    qp_error_clear();
}
#define EXPECT_ERR(what, expr, code, text) expect_err(__LINE__, what, (expr), code, text)

/* ---- dtypes and conversions ---- */

static void test_dtypes(void)
{
    static const struct { int dt; size_t size; const char *name; } t[] = {
        {QP_DT_F32, 4, "float32"}, {QP_DT_U8, 1, "uint8"},    {QP_DT_I8, 1, "int8"},     {QP_DT_U16, 2, "uint16"},
        {QP_DT_I16, 2, "int16"},   {QP_DT_I32, 4, "int32"},   {QP_DT_I64, 8, "int64"},   {QP_DT_BOOL, 1, "bool"},
        {QP_DT_F16, 2, "float16"}, {QP_DT_F64, 8, "float64"}, {QP_DT_U32, 4, "uint32"},  {QP_DT_U64, 8, "uint64"},
        {QP_DT_BF16, 2, "bfloat16"}};
    for (size_t i = 0; i < sizeof t / sizeof *t; i++) {
        CHECK(qp_dtype_size(t[i].dt) == t[i].size, "%s", t[i].name);
        CHECK(!strcmp(qp_dtype_name(t[i].dt), t[i].name), "%d", t[i].dt);
        CHECK(qp_dtype_parse(t[i].name) == t[i].dt, "%s", t[i].name);
    }
    CHECK(QP_DT_F32 == 1 && QP_DT_I64 == 7 && QP_DT_BOOL == 9 && QP_DT_F16 == 10 && QP_DT_BF16 == 16, "onnx codes");
    CHECK(qp_dtype_parse("f32") == QP_DT_F32 && qp_dtype_parse("bf16") == QP_DT_BF16, "short names");
    CHECK(qp_dtype_parse("complex64") == QP_DT_UNDEFINED && qp_dtype_size(8) == 0, "unknown");

    /* f16: every non-NaN pattern survives f16 -> f32 -> f16 */
    int bad = 0;
    for (unsigned h = 0; h < 65536; h++) {
        float f = qp_f16_to_f32((uint16_t)h);
        if (!isnan(f) && qp_f32_to_f16(f) != h)
            bad++;
    }
    CHECK(bad == 0, "%d f16 patterns do not round-trip", bad);
    CHECK(qp_f16_to_f32(0x3c00) == 1.0f && qp_f16_to_f32(0xc100) == -2.5f && qp_f16_to_f32(0x7bff) == 65504.0f,
          "f16 values");
    CHECK(qp_f16_to_f32(0x0001) == ldexpf(1, -24), "f16 subnormal");
    CHECK(qp_f32_to_f16(65520.0f) == 0x7c00 && qp_f32_to_f16(1.0f + ldexpf(1, -11)) == 0x3c00 &&
              qp_f32_to_f16(1.0f + 3 * ldexpf(1, -11)) == 0x3c02,
          "f16 rounding to nearest even");
    CHECK(qp_bf16_to_f32(0x3f80) == 1.0f && qp_f32_to_bf16(1.0f) == 0x3f80 && qp_f32_to_bf16(-2.0f) == 0xc000,
          "bf16");
}

static void test_shapes(void)
{
    int r;
    int64_t d[8];
    char b[64];
    CHECK(!qp_shape_parse("1,25200,85", &r, d) && r == 3 && d[1] == 25200, "parse");
    CHECK(!strcmp(qp_shape_format(b, sizeof b, r, d), "1x25200x85"), "%s", b);
    EXPECT_ERR("zero dim", qp_shape_parse("1,0", &r, d), QP_EUSAGE, "must be positive");
    EXPECT_ERR("junk", qp_shape_parse("1,a", &r, d), QP_EUSAGE, "bad shape '1,a'");
    EXPECT_ERR("rank 9", qp_shape_parse("1,1,1,1,1,1,1,1,1", &r, d), QP_EUSAGE, "more than 8");
    EXPECT_ERR("overflow", qp_shape_parse("4294967296,4294967296,16", &r, d), QP_EUSAGE, "overflows");
    CHECK(!strcmp(qp_shape_format(b, sizeof b, 0, d), "scalar"), "scalar");
}

/* ---- round trips ---- */

static void fill(qp_tensor *t)
{
    int64_t n = qp_tensor_numel(t);
    unsigned char *p = t->data;
    for (int64_t i = 0; i < n; i++) {
        double v = (double)((i * 37) % 23) - 11 + (i % 3) * 0.25; /* small, mixed sign */
        switch (t->dtype) {
        case QP_DT_F32: { float f = (float)(v * 1.0e-3 + (i == 1 ? 1e-41 : 0) + (i == 2 ? 3.0e38 : 0)); memcpy(p + 4 * i, &f, 4); break; }
        case QP_DT_F64: { double f = v * 1.5e-3; memcpy(p + 8 * i, &f, 8); break; }
        case QP_DT_F16: { uint16_t h = qp_f32_to_f16((float)v); memcpy(p + 2 * i, &h, 2); break; }
        case QP_DT_BF16: { uint16_t h = qp_f32_to_bf16((float)v); memcpy(p + 2 * i, &h, 2); break; }
        case QP_DT_BOOL: p[i] = (unsigned char)(i & 1); break;
        case QP_DT_U8: p[i] = (unsigned char)(i * 7 + 250); break;
        case QP_DT_I8: p[i] = (unsigned char)(int8_t)v; break;
        case QP_DT_U16: { uint16_t x = (uint16_t)(i * 4099 + 65000); memcpy(p + 2 * i, &x, 2); break; }
        case QP_DT_I16: { int16_t x = (int16_t)(v * 1000); memcpy(p + 2 * i, &x, 2); break; }
        case QP_DT_U32: { uint32_t x = (uint32_t)(i * 1000003u + 4000000000u); memcpy(p + 4 * i, &x, 4); break; }
        case QP_DT_I32: { int32_t x = (int32_t)(v * 100000); memcpy(p + 4 * i, &x, 4); break; }
        case QP_DT_U64: { uint64_t x = (uint64_t)i << 20; memcpy(p + 8 * i, &x, 8); break; }
        case QP_DT_I64: { int64_t x = (int64_t)(v * 4096); memcpy(p + 8 * i, &x, 8); break; }
        }
    }
}

static int same(const qp_tensor *a, const qp_tensor *b)
{
    if (a->dtype != b->dtype || a->rank != b->rank || a->nbytes != b->nbytes)
        return 0;
    for (int i = 0; i < a->rank; i++)
        if (a->dims[i] != b->dims[i])
            return 0;
    return !a->nbytes || !memcmp(a->data, b->data, a->nbytes);
}

static void test_round_trips(void)
{
    static const int all[] = {QP_DT_F32, QP_DT_U8,  QP_DT_I8,  QP_DT_U16, QP_DT_I16, QP_DT_I32, QP_DT_I64,
                              QP_DT_BOOL, QP_DT_F16, QP_DT_F64, QP_DT_U32, QP_DT_U64, QP_DT_BF16};
    static const struct { int rank; int64_t dims[8]; } shapes[] = {
        {0, {0}}, {1, {7}}, {2, {3, 5}}, {4, {1, 3, 2, 2}}, {8, {1, 2, 1, 2, 1, 2, 1, 3}}, {2, {0, 3}}};
    for (size_t k = 0; k < sizeof all / sizeof *all; k++)
        for (size_t s = 0; s < sizeof shapes / sizeof *shapes; s++) {
            int dt = all[k];
            qp_tensor t, r;
            char sh[64];
            qp_shape_format(sh, sizeof sh, shapes[s].rank, shapes[s].dims);
            CHECK(!qp_tensor_alloc(&t, dt, shapes[s].rank, shapes[s].dims), "alloc");
            fill(&t);
            /* .npy */
            if (dt != QP_DT_BF16) {
                int rc = qp_tensorio_write_npy(T("rt.npy"), &t);
                CHECK(!rc, "write npy %s %s: %s", qp_dtype_name(dt), sh, qp_error_msg());
                rc = qp_tensorio_read_npy(T("rt.npy"), &r);
                CHECK(!rc && same(&t, &r), "npy %s %s: %s", qp_dtype_name(dt), sh, rc ? qp_error_msg() : "differs");
                qp_tensor_free(&r);
                struct stat st;
                CHECK(!stat(T("rt.npy"), &st) && (st.st_size - (int64_t)t.nbytes) % 64 == 0, "npy header aligned");
            } else {
                EXPECT_ERR("bf16 npy", qp_tensorio_write_npy(T("rt.npy"), &t), QP_EUSAGE, "bfloat16 has no .npy type");
            }
            /* raw */
            CHECK(!qp_tensorio_write_raw(T("rt.bin"), &t), "write raw");
            int rc = qp_tensorio_read_raw(T("rt.bin"), dt, t.rank, t.dims, &r);
            CHECK(!rc && same(&t, &r), "raw %s %s: %s", qp_dtype_name(dt), sh, rc ? qp_error_msg() : "differs");
            qp_tensor_free(&r);
            /* .tensor: reads back as the float32 of every element, bit for bit */
            if (qp_tensor_numel(&t) > 0) {
                qp_tensor f;
                CHECK(!qp_tensor_to_f32(&t, &f), "to_f32");
                rc = qp_tensorio_write_tensor(T("rt.tensor"), &t);
                CHECK(!rc, "write tensor %s: %s", qp_dtype_name(dt), qp_error_msg());
                rc = qp_tensorio_read_tensor(T("rt.tensor"), t.rank, t.dims, &r);
                CHECK(!rc && same(&f, &r), ".tensor %s %s: %s", qp_dtype_name(dt), sh, rc ? qp_error_msg() : "differs");
                qp_tensor_free(&r);
                qp_tensor_free(&f);
            }
            qp_tensor_free(&t);
        }
    /* write errors: no partial output, no temporary left behind */
    qp_tensor t;
    int64_t d1 = 4;
    qp_tensor_alloc(&t, QP_DT_F32, 1, &d1);
    ((float *)t.data)[2] = NAN;
    EXPECT_ERR("NaN to .tensor", qp_tensorio_write_tensor(T("nan.tensor"), &t), QP_EINPUT, "element 2 is nan");
    CHECK(access(T("nan.tensor"), F_OK) != 0, "no output after an error");
    EXPECT_ERR("no dir", qp_tensorio_write_npy(T("nodir/x.npy"), &t), QP_EINPUT, "cannot write");
    if (access("/dev/full", W_OK) == 0)
        EXPECT_ERR("/dev/full", qp_tensorio_write_npy("/dev/full", &t), QP_ESYS, "cannot write '/dev/full': No space left");
    qp_tensor_free(&t);
}

static int fail_midway(FILE *f, void *arg)
{
    (void)arg;
    fputs("partial", f);
    return qp_errorf(QP_EINPUT, "made-up failure");
}

static int count_files(const char *dir)
{
    char cmd[600];
    snprintf(cmd, sizeof cmd, "ls -A '%s' | wc -l", dir);
    FILE *p = popen(cmd, "r");
    int n = -1;
    if (p) {
        if (fscanf(p, "%d", &n) != 1)
            n = -1;
        pclose(p);
    }
    return n;
}

static void test_atomic_write(void)
{
    char dir[300];
    snprintf(dir, sizeof dir, "%s/atomic", tmp_dir);
    mkdir(dir, 0755);
    char path[400];
    snprintf(path, sizeof path, "%s/out.txt", dir);
    FILE *f = fopen(path, "w");
    fputs("old\n", f);
    fclose(f);
    EXPECT_ERR("callback fails", qp_tensorio_write_file(path, fail_midway, NULL), QP_EINPUT,
               "out.txt': made-up failure");
    f = fopen(path, "r");
    char line[16] = "";
    CHECK(f && fgets(line, sizeof line, f) && !strcmp(line, "old\n"), "old content kept");
    if (f)
        fclose(f);
    CHECK(count_files(dir) == 1, "temporary removed (%d files)", count_files(dir));
}

/* ---- fixtures written by numpy ---- */

static void test_numpy_fixtures(void)
{
    qp_tensor t;
    int rc = qp_tensorio_read_npy(D("tensors/np_f32_2x3.npy"), &t);
    CHECK(!rc && t.dtype == QP_DT_F32 && t.rank == 2 && t.dims[0] == 2 && t.dims[1] == 3, "f32: %s", qp_error_msg());
    if (!rc)
        CHECK(((float *)t.data)[0] == -1.0f && ((float *)t.data)[5] == 1.5f, "f32 values");
    qp_tensor_free(&t);
    rc = qp_tensorio_read_npy(D("tensors/np_be_i16.npy"), &t);
    CHECK(!rc && t.dtype == QP_DT_I16 && ((int16_t *)t.data)[1] == -2 && ((int16_t *)t.data)[2] == 300, ">i2 swapped");
    qp_tensor_free(&t);
    rc = qp_tensorio_read_npy(D("tensors/np_be_f8.npy"), &t);
    CHECK(!rc && t.dtype == QP_DT_F64 && t.rank == 2 && ((double *)t.data)[0] == 0.1 && ((double *)t.data)[1] == -7,
          ">f8 swapped");
    qp_tensor_free(&t);
    rc = qp_tensorio_read_npy(D("tensors/np_f16.npy"), &t);
    double v[4];
    if (!rc)
        qp_tensor_get_f64(&t, v);
    CHECK(!rc && t.dtype == QP_DT_F16 && v[0] == 1 && v[1] == -2.5 && v[2] == 65504 && v[3] == ldexp(1, -24), "f16");
    qp_tensor_free(&t);
    rc = qp_tensorio_read_npy(D("tensors/np_bool.npy"), &t);
    CHECK(!rc && t.dtype == QP_DT_BOOL && !memcmp(t.data, "\1\0\1", 3), "bool");
    qp_tensor_free(&t);
    rc = qp_tensorio_read_npy(D("tensors/np_scalar_f64.npy"), &t);
    CHECK(!rc && t.rank == 0 && t.nbytes == 8 && ((double *)t.data)[0] == 3.25, "scalar");
    qp_tensor_free(&t);
    rc = qp_tensorio_read_npy(D("tensors/np_u8_v2.npy"), &t);
    CHECK(!rc && t.dtype == QP_DT_U8 && t.rank == 2 && !memcmp(t.data, "\0\1\2\3", 4), "v2.0: %s", qp_error_msg());
    qp_tensor_free(&t);
    rc = qp_tensorio_read_npy(D("tensors/np_i64_v3.npy"), &t);
    CHECK(!rc && t.dtype == QP_DT_I64 && ((int64_t *)t.data)[0] == -((int64_t)1 << 40), "v3.0: %s", qp_error_msg());
    qp_tensor_free(&t);

    /* .tensor text with the shape in its Acuity name */
    const char *tn = D("tensors/iter_0_attach_Concat_Concat_303_out0_0_out0_1_2_3.tensor");
    rc = qp_tensorio_read_tensor(tn, QP_SHAPE_FROM_NAME, NULL, &t);
    CHECK(!rc && t.rank == 3 && t.dims[0] == 1 && t.dims[1] == 2 && t.dims[2] == 3, ".tensor shape: %s", qp_error_msg());
    if (!rc) {
        const float *f = t.data;
        CHECK(f[0] == 0.5f && f[1] == -1.25f && f[2] == 3 && f[3] == 1e-3f && f[4] == 2.5f && f[5] == 0, "values");
    }
    qp_tensor_free(&t);
    int64_t d6 = 6;
    rc = qp_tensorio_read(tn, 0, 1, &d6, &t);
    CHECK(!rc && t.rank == 1 && t.dims[0] == 6, "explicit shape wins");
    qp_tensor_free(&t);
    int64_t d5 = 5;
    EXPECT_ERR("count vs given shape", qp_tensorio_read_tensor(tn, 1, &d5, &t), QP_EINPUT, "6 values, but shape 5 needs 5");
}

/* ---- names ---- */

static void test_names(void)
{
    char b[256];
    int64_t dims[3] = {1, 25200, 85}, d[8];
    int r;
    CHECK(!qp_tensorio_acuity_name(b, sizeof b, 0, "attach_Concat_Concat_303/out0_0", dims, 3) &&
              !strcmp(b, "iter_0_attach_Concat_Concat_303_out0_0_out0_1_25200_85.tensor"),
          "%s", b);
    CHECK(!qp_tensorio_acuity_name(b, sizeof b, 12, "Mul_/model.22/Mul_5", dims + 1, 1) &&
              !strcmp(b, "iter_12_Mul__model.22_Mul_5_out0_25200.tensor"),
          "%s", b);
    EXPECT_ERR("small buffer", qp_tensorio_acuity_name(b, 20, 0, "attach_Concat_Concat_303/out0_0", dims, 3), QP_EUSAGE,
               "longer than 20 bytes");
    EXPECT_ERR("empty key", qp_tensorio_acuity_name(b, sizeof b, 0, "", dims, 3), QP_EUSAGE, "empty layer key");
    CHECK(!qp_tensorio_name_dims("d/iter_0_attach_Concat_Concat_303_out0_0_out0_1_25200_85.tensor", &r, d) && r == 3 &&
              d[0] == 1 && d[1] == 25200 && d[2] == 85,
          "name dims");
    CHECK(!qp_tensorio_name_dims("iter_3_Conv_output_5_out0_1_16.tensor", &r, d) && r == 2 && d[1] == 16, "_output_");
    CHECK(!qp_tensorio_name_dims("iter_0_x_out1.tensor", &r, d) && r == 0, "rank 0");
    CHECK(qp_tensorio_name_dims("output.tensor", &r, d) == -1, "no suffix");
    CHECK(qp_tensorio_name_dims("iter_0_x_out0_1_a.tensor", &r, d) == -1, "junk dims");
    CHECK(qp_tensorio_name_dims("iter_0_x_out0_1_0_3.tensor", &r, d) == -1, "zero dim");
    CHECK(qp_tensorio_name_dims("x_out0_1_2_3_4_5_6_7_8_9.tensor", &r, d) == -1, "rank 9");
    /* build -> parse agrees */
    CHECK(!qp_tensorio_acuity_name(b, sizeof b, 1, "images_208", (int64_t[]){1, 3, 640, 640}, 4) &&
              !qp_tensorio_name_dims(b, &r, d) && r == 4 && d[3] == 640,
          "%s", b);
}

/* ---- bad inputs ---- */

static void test_bad_npy(void)
{
    static const struct { const char *file, *text; } cases[] = {
        {"npy_bad_magic.npy", "not a .npy file (bad magic)"},
        {"npy_bad_version.npy", "unsupported .npy version 4.0"},
        {"npy_header_past_eof.npy", "header of 1000 bytes runs past end of file (file is 25 bytes)"},
        {"npy_v2_short.npy", "header past end of file"},
        {"npy_pickle.npy", "descr '|O' (pickle) is not allowed"},
        {"npy_descr_unicode.npy", "descr '<U2' is not supported"},
        {"npy_fortran.npy", "fortran_order True is not supported"},
        {"npy_negative_shape.npy", "negative dimension"},
        {"npy_overflow_shape.npy", "shape 4294967296x4294967296x16 overflows"},
        {"npy_data_short.npy", "truncated data: 24 bytes, shape 2x4 of float32 needs 32"},
        {"npy_trailing.npy", "2 trailing bytes"},
        {"npy_structured.npy", "structured dtypes are not supported"},
        {"npy_bad_header.npy", "malformed header: expected ',' or '}'"},
        {"npy_rank9.npy", "rank above 8"},
        {"npy_bool_value.npy", "bool element 1 is 2"},
        {"npy_missing_key.npy", "header lacks 'fortran_order'"},
        {"npy_no_newline.npy", "header does not end with a newline"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        qp_tensor t;
        char want[300];
        snprintf(want, sizeof want, "cannot read '%s': %s", D("bad/%s", cases[i].file), cases[i].text);
        EXPECT_ERR(cases[i].file, qp_tensorio_read_npy(D("bad/%s", cases[i].file), &t), QP_EINPUT, want);
        CHECK(t.data == NULL, "%s: no tensor on error", cases[i].file);
    }
    qp_tensor t;
    EXPECT_ERR("missing file", qp_tensorio_read_npy(D("bad/npy_no_such_file.npy"), &t), QP_EINPUT,
               "No such file or directory");
    EXPECT_ERR("directory", qp_tensorio_read_npy(D("bad"), &t), QP_EINPUT, "is a directory");
    /* every prefix of a valid file is rejected, never crashes */
    unsigned char *buf;
    size_t n;
    int all = 1;
    if (!qp_tensorio_read_file(D("tensors/np_f32_2x3.npy"), 0, &buf, &n)) {
        for (size_t k = 0; k < n; k++) {
            if (qp_tensorio_parse_npy(buf, k, "cut", &t) != QP_EINPUT)
                all = 0;
            qp_tensor_free(&t);
        }
        free(buf);
    }
    CHECK(all, "every truncation of a valid .npy is an error");
}

static void test_bad_tensor(void)
{
    static const struct { const char *file, *text; } cases[] = {
        {"tensor_not_number.tensor", "line 2: 'abc' is not a number"},
        {"tensor_nan.tensor", "line 3: non-finite value 'nan'"},
        {"tensor_inf.tensor", "line 1: non-finite value '-inf'"},
        {"tensor_overflow.tensor", "line 2: '1e39' is beyond the float32 range"},
        {"tensor_empty.tensor", "no values (empty file)"},
        {"tensor_blank_line.tensor", "empty line 2"},
        {"tensor_nul.tensor", "NUL byte at line 2"},
        {"tensor_hex.tensor", "line 1: '0x10' is not a number"},
        {"tensor_two_per_line.tensor", "line 1: '1 2' is not a number"},
        {"tensor_count_out0_2_3.tensor", "5 values, but shape 2x3 needs 6"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        qp_tensor t;
        EXPECT_ERR(cases[i].file, qp_tensorio_read_tensor(D("bad/%s", cases[i].file), QP_SHAPE_ANY, NULL, &t),
                   QP_EINPUT, cases[i].text);
    }
    qp_tensor t;
    EXPECT_ERR("no shape in name", qp_tensorio_read_tensor(D("bad/tensor_inf.tensor"), QP_SHAPE_FROM_NAME, NULL, &t),
               QP_EINPUT, "non-finite");
    const char *txt = "1\n2\n";
    EXPECT_ERR("from name, none", qp_tensorio_parse_tensor(txt, 4, "plain.tensor", QP_SHAPE_FROM_NAME, NULL, &t),
               QP_EINPUT, "no shape");
    CHECK(!qp_tensorio_parse_tensor(txt, 4, "plain.tensor", QP_SHAPE_ANY, NULL, &t) && t.rank == 1 && t.dims[0] == 2,
          "flat");
    qp_tensor_free(&t);
    int64_t d3 = 3;
    EXPECT_ERR("raw size", qp_tensorio_read_raw(D("tensors/np_bool.npy"), QP_DT_F32, 1, &d3, &t), QP_EINPUT,
               "raw file is 131 bytes, shape 3 of float32 needs 12");
}

/* ---- images ---- */

static const unsigned char px4x2[8][3] = {{255, 0, 0}, {0, 255, 0}, {0, 0, 255},    {255, 255, 255},
                                          {0, 0, 0},   {10, 20, 30}, {100, 150, 200}, {7, 8, 9}};

static void test_images(void)
{
    static const char *exact[] = {"img_rgb_4x2.png", "img_rgba_4x2.png", "img_rgb16_4x2.png", "img_interlaced_4x2.png",
                                  "img_palette_4x2.png"};
    for (size_t i = 0; i < sizeof exact / sizeof *exact; i++) {
        qp_image img;
        int rc = qp_image_read(D("tensors/%s", exact[i]), &img);
        CHECK(!rc && img.width == 4 && img.height == 2 && !memcmp(img.rgb, px4x2, 24), "%s: %s", exact[i],
              rc ? qp_error_msg() : "pixels differ");
        qp_image_free(&img);
    }
    qp_image img;
    int rc = qp_image_read(D("tensors/img_gray_3x1.png"), &img);
    CHECK(!rc && img.width == 3 && !memcmp(img.rgb, "\0\0\0\x80\x80\x80\xff\xff\xff", 9), "gray: %s", qp_error_msg());
    qp_image_free(&img);
    rc = qp_image_read(D("tensors/img_gray1_4x1.png"), &img);
    CHECK(!rc && !memcmp(img.rgb, "\0\0\0\xff\xff\xff\0\0\0\xff\xff\xff", 12), "1-bit gray: %s", qp_error_msg());
    qp_image_free(&img);
    static const struct { const char *f; int w, h, r, g, b; } jpg[] = {
        {"img_rgb_16x8.jpg", 16, 8, 200, 100, 50}, {"img_gray_8x8.jpg", 8, 8, 120, 120, 120},
        {"img_progressive_16x16.jpg", 16, 16, 10, 200, 90}};
    for (size_t i = 0; i < sizeof jpg / sizeof *jpg; i++) {
        rc = qp_image_read(D("tensors/%s", jpg[i].f), &img);
        int ok = !rc && img.width == jpg[i].w && img.height == jpg[i].h;
        for (int p = 0; ok && p < img.width * img.height; p++)
            ok = abs(img.rgb[3 * p] - jpg[i].r) <= 3 && abs(img.rgb[3 * p + 1] - jpg[i].g) <= 3 &&
                 abs(img.rgb[3 * p + 2] - jpg[i].b) <= 3;
        CHECK(ok, "%s: %s", jpg[i].f, rc ? qp_error_msg() : "pixels off");
        qp_image_free(&img);
    }
}

static void test_bad_images(void)
{
    static const struct { const char *file, *text; } cases[] = {
        {"img_truncated.png", "bad PNG: truncated file"},
        {"img_no_iend.png", "bad PNG: truncated file"},
        {"img_bad_crc.png", "bad PNG: IDAT: CRC error"},
        {"img_truncated.jpg", "bad JPEG: Premature end of JPEG file"},
        {"img_cmyk.jpg", "JPEG colour space YCCK is not supported"},
        {"img_too_wide.png", "PNG image is 16385x1, above the 16384-pixel side limit"},
        {"img_too_many_pixels.png", "PNG image is 9000x9000, above the 67108864-pixel limit"},
        {"img_huge.jpg", "JPEG image is 60000x60000, above the 16384-pixel side limit"},
        {"img_gif.gif", "this is a GIF image; only PNG and JPEG images are supported"},
        {"img_empty.png", "empty file"},
        {"img_text.jpg", "not a PNG or JPEG image"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        qp_image img;
        char want[300];
        snprintf(want, sizeof want, "cannot read '%s': %s", D("bad/%s", cases[i].file), cases[i].text);
        EXPECT_ERR(cases[i].file, qp_image_read(D("bad/%s", cases[i].file), &img), QP_EINPUT, want);
        CHECK(img.rgb == NULL, "%s: no image on error", cases[i].file);
    }
    /* every prefix of valid PNG and JPEG files is rejected cleanly */
    static const char *files[] = {"tensors/img_rgb_4x2.png", "tensors/img_rgb_16x8.jpg",
                                  "tensors/img_progressive_16x16.jpg", "tensors/img_interlaced_4x2.png"};
    for (size_t f = 0; f < sizeof files / sizeof *files; f++) {
        unsigned char *buf;
        size_t n;
        int all = 1;
        if (qp_tensorio_read_file(D("%s", files[f]), 0, &buf, &n))
            continue;
        for (size_t k = 0; k < n; k++) {
            qp_image img;
            if (qp_image_decode(buf, k, "cut", &img) != QP_EINPUT)
                all = 0;
            qp_image_free(&img);
        }
        free(buf);
        CHECK(all, "every truncation of %s is an error", files[f]);
    }
}

/* ---- preprocessing ---- */

static void test_resize(void)
{
    qp_image src = {2, 1, (unsigned char[]){0, 0, 0, 255, 255, 255}}, dst;
    CHECK(!qp_image_resize(&src, 4, 1, &dst), "up");
    /* fx = (dx + 0.5) * 2/4 - 0.5 = -0.25 (clamped), 0.25, 0.75, 1.25 (clamped) */
    CHECK(dst.rgb[0] == 0 && dst.rgb[3] == 64 && dst.rgb[6] == 191 && dst.rgb[9] == 255, "2->4: %d %d %d %d",
          dst.rgb[0], dst.rgb[3], dst.rgb[6], dst.rgb[9]);
    qp_image_free(&dst);
    qp_image s4 = {4, 1, (unsigned char[]){0, 0, 0, 100, 100, 100, 200, 200, 200, 255, 255, 255}};
    CHECK(!qp_image_resize(&s4, 2, 1, &dst), "down");
    /* fx = 0.5 -> 50; fx = 2.5 -> 227.5, rounds half up to 228 */
    CHECK(dst.rgb[0] == 50 && dst.rgb[3] == 228, "4->2: %d %d", dst.rgb[0], dst.rgb[3]);
    qp_image_free(&dst);
    /* 2x2 -> 3x3: the centre is the mean of the four */
    qp_image s2 = {2, 2, (unsigned char[]){0, 0, 0, 40, 40, 40, 80, 80, 80, 120, 120, 120}};
    CHECK(!qp_image_resize(&s2, 3, 3, &dst), "2d");
    /* fx for dx=1: 1.5 * 2/3 - 0.5 = 0.5 both ways: (0 + 40 + 80 + 120) / 4 = 60 */
    CHECK(dst.rgb[(1 * 3 + 1) * 3] == 60 && dst.rgb[0] == 0 && dst.rgb[(2 * 3 + 2) * 3] == 120, "2x2->3x3");
    qp_image_free(&dst);
    qp_image img;
    if (!qp_image_read(D("tensors/img_rgb_4x2.png"), &img)) {
        CHECK(!qp_image_resize(&img, 4, 2, &dst) && !memcmp(dst.rgb, img.rgb, 24), "same size is a copy");
        qp_image_free(&dst);
        qp_image_free(&img);
    }
    EXPECT_ERR("bad size", qp_image_resize(&src, 0, 5, &dst), QP_EUSAGE, "cannot resize to 0x5");
}

static void test_preprocess(void)
{
    qp_image img;
    if (qp_image_read(D("tensors/img_rgb_4x2.png"), &img)) {
        CHECK(0, "%s", qp_error_msg());
        return;
    }
    float out[24];
    double mean[3] = {1, 2, 3}, scale[3] = {0.5, 1, 2};
    qp_norm n = {1, 3, mean, 3, scale};
    CHECK(!qp_image_preprocess(&img, QP_LAYOUT_NCHW, 2, 4, 3, &n, out), "nchw");
    int ok = 1;
    for (int c = 0; c < 3; c++)
        for (int p = 0; p < 8; p++) /* channel c of the output is BGR[c] = RGB[2 - c] */
            ok &= out[c * 8 + p] == (float)((px4x2[p][2 - c] - mean[c]) * scale[c]);
    CHECK(ok, "nchw + reverse + mean/scale");
    n.reverse_channel = 0;
    CHECK(!qp_image_preprocess(&img, QP_LAYOUT_NHWC, 2, 4, 3, &n, out), "nhwc");
    ok = 1;
    for (int p = 0; p < 8; p++)
        for (int c = 0; c < 3; c++)
            ok &= out[p * 3 + c] == (float)((px4x2[p][c] - mean[c]) * scale[c]);
    CHECK(ok, "nhwc + mean/scale");
    double m1 = 128, s1 = 1.0 / 128;
    qp_norm g = {0, 1, &m1, 1, &s1};
    CHECK(!qp_image_preprocess(&img, QP_LAYOUT_NCHW, 2, 4, 1, &g, out), "gray");
    /* pixel 6 is (100, 150, 200): luma 0.299*100 + 0.587*150 + 0.114*200 = 140.75 */
    CHECK(fabsf(out[6] - (float)((140.75 - 128) / 128)) < 1e-6f, "luma %g", out[6]);
    EXPECT_ERR("4 channels", qp_image_preprocess(&img, QP_LAYOUT_NCHW, 2, 4, 4, &g, out), QP_EUSAGE, "1 or 3 channels");
    double two[2] = {1, 2};
    qp_norm bad = {0, 2, two, 1, &s1};
    EXPECT_ERR("mean count", qp_image_preprocess(&img, QP_LAYOUT_NCHW, 2, 4, 3, &bad, out), QP_EUSAGE,
               "mean has 2 values, the tensor has 3 channels");
    qp_image_free(&img);
    /* normalize without a channel axis: one mean and scale */
    float x[4] = {1, 2, 3, 4};
    int64_t d[2] = {2, 2};
    double m = 1, s = 2;
    qp_norm flat = {0, 1, &m, 1, &s};
    CHECK(!qp_image_normalize(x, 2, d, -1, &flat) && x[0] == 0 && x[3] == 6, "flat normalise");
    flat.reverse_channel = 1;
    EXPECT_ERR("reverse without axis", qp_image_normalize(x, 2, d, -1, &flat), QP_EUSAGE, "needs a channel axis");
}

/* ---- input meta ---- */

static void test_meta_read(void)
{
    qp_inputmeta *m;
    int rc = qp_inputmeta_read(D("tensors/meta_ok.yml"), &m);
    CHECK(!rc, "meta_ok: %s", qp_error_msg());
    if (rc)
        return;
    CHECK(m->n_dbs == 1 && m->dbs[0]->type == QP_DB_TEXT && !strcmp(m->dbs[0]->path, "list_ok.txt"), "db");
    qp_meta_port *p = qp_inputmeta_port(m, 0);
    CHECK(qp_inputmeta_n_ports(m) == 1 && !strcmp(p->lid, "images_208") && p->category == QP_CAT_IMAGE, "port");
    CHECK(p->rank == 4 && p->shape[1] == 3 && p->shape[3] == 4 && p->layout == QP_LAYOUT_NCHW && p->reverse_channel,
          "shape/layout/reverse");
    CHECK(p->n_mean == 3 && p->n_scale == 3 && p->scale[2] == 0.00392157 && p->scale_is_list, "mean/scale");
    CHECK(!strcmp(p->node.preproc_type, "IMAGE_RGB") && p->node.has_image_size && p->node.image_size[1] == 4 &&
              p->node.has_crop && p->node.crop_rect[2] == 4 && p->node.n_perm == 4 && !p->tensor_name,
          "node params");
    CHECK(qp_inputmeta_find_port(m, "images_208") == p && !qp_inputmeta_find_port(m, "x"), "find");
    CHECK(qp_inputmeta_channel_axis(p) == 1, "axis");

    /* the dataset list is relative to the meta's directory; entries to the list's */
    qp_dataset *ds;
    rc = qp_inputmeta_open_db(m, 0, &ds);
    CHECK(!rc, "open_db: %s", qp_error_msg());
    if (!rc) {
        CHECK(ds->n_samples == 2 && ds->n_inputs == 1 && ds->lines[1] == 3, "samples %lld", (long long)ds->n_samples);
        CHECK(!strcmp(ds->paths[0], D("tensors/img_rgb_4x2.png")) && !strcmp(ds->written[1], "img_rgb_16x8.jpg"),
              "%s", ds->paths[0]);
        /* the image sample: resized 4x2 -> 4x2, BGR, x / 255 */
        qp_tensor t;
        rc = qp_inputmeta_load_sample(p, ds->paths[0], &t);
        CHECK(!rc && t.rank == 4 && t.dims[2] == 2, "load image: %s", qp_error_msg());
        if (!rc) {
            int ok = 1;
            for (int c = 0; c < 3; c++)
                for (int q = 0; q < 8; q++)
                    ok &= ((float *)t.data)[c * 8 + q] == (float)(px4x2[q][2 - c] * 0.00392157);
            CHECK(ok, "image sample values");
        }
        qp_tensor_free(&t);
        rc = qp_inputmeta_load_sample(p, ds->paths[1], &t); /* 16x8 JPEG resized to 4x2 */
        CHECK(!rc && fabsf(((float *)t.data)[0] - 50 * 0.00392157f) < 4 * 0.00392157f, "resized jpeg: %s",
              qp_error_msg());
        qp_tensor_free(&t);
        qp_inputmeta_free_list(ds);
    }
    qp_inputmeta_free(m);
}

static void test_meta_round_trip(void)
{
    qp_inputmeta *m = qp_inputmeta_new();
    qp_meta_db *db = qp_inputmeta_add_db(m, "dataset.txt", QP_DB_TEXT);
    qp_meta_port *a = qp_inputmeta_add_port(m, db, "images_208", 4, (int64_t[]){1, 3, 640, 480});
    qp_meta_port *b = qp_inputmeta_add_port(m, db, "attach_input/out0_1", 4, (int64_t[]){1, 224, 224, 3});
    qp_meta_port *c = qp_inputmeta_add_port(m, db, "true", 2, (int64_t[]){1, 80});
    CHECK(a && b && c, "add ports");
    if (!a || !b || !c) {
        qp_inputmeta_free(m);
        return;
    }
    CHECK(a->category == QP_CAT_IMAGE && a->layout == QP_LAYOUT_NCHW && a->n_mean == 3 && a->scale[0] == 1.0 &&
              a->node.image_size[0] == 640 && a->node.image_size[1] == 480 && a->node.crop_rect[2] == 480,
          "image defaults");
    CHECK(b->layout == QP_LAYOUT_NHWC && b->category == QP_CAT_IMAGE, "nhwc detected");
    CHECK(c->category == QP_CAT_UNDEFINED && c->n_mean == 1 && !strcmp(c->node.preproc_type, "TENSOR"), "tensor port");
    a->reverse_channel = 1;
    a->mean[0] = 123.675;
    a->mean[1] = 116.28;
    a->mean[2] = 103.53;
    a->scale[0] = 1.0 / 255;
    b->node.has_dtype_converter = 1;
    b->node.dc_quantizer = "asymmetric_affine";
    b->node.dc_qtype = "uint8";
    b->node.dc_scale = 0.5;
    b->node.dc_zero_point = -3;
    b->tensor_name = "x: y";
    CHECK(qp_inputmeta_add_port(m, db, "bad", 2, (int64_t[]){1, 0}) == NULL, "dim 0 refused");
    qp_error_clear();
    int rc = qp_inputmeta_write(T("rt.yml"), m);
    CHECK(!rc, "write: %s", qp_error_msg());
    FILE *f = fopen(T("rt.yml"), "r");
    char first[32] = "";
    CHECK(f && fgets(first, sizeof first, f) && !strcmp(first, "%YAML 1.2\n"), "first line '%s'", first);
    if (f)
        fclose(f);
    qp_inputmeta *r;
    rc = qp_inputmeta_read(T("rt.yml"), &r);
    CHECK(!rc, "read back: %s", qp_error_msg());
    if (!rc) {
        CHECK(qp_inputmeta_n_ports(r) == 3, "ports");
        qp_meta_port *ra = qp_inputmeta_port(r, 0), *rb = qp_inputmeta_port(r, 1), *rc2 = qp_inputmeta_port(r, 2);
        CHECK(!strcmp(ra->lid, "images_208") && ra->reverse_channel && ra->mean[1] == 116.28 &&
                  ra->scale[0] == 1.0 / 255 && !ra->scale_is_list && ra->shape[2] == 640,
              "port a");
        CHECK(!strcmp(rb->lid, "attach_input/out0_1") && rb->layout == QP_LAYOUT_NHWC && rb->node.has_dtype_converter &&
                  rb->node.dc_zero_point == -3 && !strcmp(rb->node.dc_qtype, "uint8") && !strcmp(rb->tensor_name, "x: y"),
              "port b");
        CHECK(!strcmp(rc2->lid, "true") && rc2->rank == 2 && rc2->node.n_perm == 2, "port c (lid needing quotes)");
        /* and again: writing what was read gives the same bytes */
        CHECK(!qp_inputmeta_write(T("rt2.yml"), r), "rewrite");
        char cmd[600];
        snprintf(cmd, sizeof cmd, "cmp -s '%s' '%s'", T("rt.yml"), T("rt2.yml"));
        CHECK(system(cmd) == 0, "write(read(write(m))) == write(m)");
        qp_inputmeta_free(r);
    }
    /* the writer refuses what the reader would refuse */
    a->n_mean = 2;
    EXPECT_ERR("write invalid", qp_inputmeta_write(T("bad.yml"), m), QP_EUSAGE,
               "port 'images_208': 'mean' has 2 values, the input has 3 channels");
    CHECK(access(T("bad.yml"), F_OK) != 0, "nothing written");
    a->n_mean = 3;
    a->scale[0] = 0;
    EXPECT_ERR("write zero scale", qp_inputmeta_write(T("bad.yml"), m), QP_EUSAGE, "finite and non-zero");
    qp_inputmeta_free(m);
}

static void test_meta_bad(void)
{
    static const struct { const char *file, *text; } cases[] = {
        {"meta_syntax.yml", "meta_syntax.yml:10:"},
        {"meta_tab.yml", "meta_tab.yml:8:14: TAB character"},
        {"meta_dup_key.yml", "meta_dup_key.yml:14:9: duplicate key 'mean' (first at line 12)"},
        {"meta_anchor.yml", "meta_anchor.yml:12:15: anchors ('&m') are not allowed"},
        {"meta_alias.yml", "meta_alias.yml:12:15: aliases ('*m') are not allowed"},
        {"meta_tag.yml", "tags ('tag:yaml.org,2002:float') are not allowed"},
        {"meta_two_docs.yml", "meta_two_docs.yml:14:1: several YAML documents"},
        {"meta_unknown_key.yml", "unknown key 'revers_channel' in preprocess (did you mean 'reverse_channel'?)"},
        {"meta_bool_type.yml", "'reverse_channel' must be true or false, not 'yes'"},
        {"meta_num_type.yml", "'scale' must be a number, not 'half'"},
        {"meta_trailing.yml", "'scale' must be a number, not '0.5x'"},
        {"meta_quoted_num.yml", "'scale' must be a number, not '0.5' (quoted)"},
        {"meta_nan.yml", "'scale' value '.nan' is not finite"},
        {"meta_inf.yml", "'mean' value '.inf' is not finite"},
        {"meta_erange.yml", "'mean' value '1e999' is out of range"},
        {"meta_mean_len.yml", "meta_mean_len.yml:12:15: port 'images_208': 'mean' has 2 values, the input has 3 channels"},
        {"meta_scale_zero.yml", "'scale' value 0 must be finite and non-zero"},
        {"meta_shape_zero.yml", "meta_shape_zero.yml:9:21: 'shape' dim 2 is 0 (must be > 0)"},
        {"meta_shape_type.yml", "'shape' must be a list, not a scalar"},
        {"meta_int_range.yml", "'shape' value '99999999999999999999' is out of range"},
        {"meta_missing_lid.yml", "a port lacks 'lid'"},
        {"meta_bad_dbtype.yml", "'type' value 'CSV' is not allowed (allowed: TEXT, NPY"},
        {"meta_bad_layout.yml", "'layout' value 'chw' is not allowed (allowed: nchw, nhwc)"},
        {"meta_reverse_2d.yml", "'reverse_channel' needs a 3-D or 4-D input"},
        {"meta_empty.yml", "empty file"},
        {"meta_not_map.yml", "the top level must be a mapping"},
        {"meta_dup_lid.yml", "duplicate port lid 'images_208' (first at line 6)"},
        {"meta_deep.yml", "nesting deeper than 32 levels"},
        {"meta_bad_utf8.yml", "meta_bad_utf8.yml:6:"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        qp_inputmeta *m = (qp_inputmeta *)1;
        EXPECT_ERR(cases[i].file, qp_inputmeta_read(D("bad/%s", cases[i].file), &m), QP_EUSAGE, cases[i].text);
        CHECK(m == NULL, "%s: no meta on error", cases[i].file);
    }
    qp_inputmeta *m;
    int rc = qp_inputmeta_read(D("tensors/meta_min.yml"), &m);
    CHECK(!rc, "the base of the bad files is valid: %s", qp_error_msg());
    qp_inputmeta_free(m);
    /* every prefix of a valid meta: an error or a valid meta, never a crash */
    unsigned char *buf;
    size_t n;
    if (!qp_tensorio_read_file(D("tensors/meta_ok.yml"), 0, &buf, &n)) {
        int odd = 0;
        for (size_t k = 0; k < n; k++) {
            rc = qp_inputmeta_parse((const char *)buf, k, "cut.yml", &m);
            if (rc != QP_OK && rc != QP_EUSAGE)
                odd++;
            qp_inputmeta_free(m);
        }
        free(buf);
        CHECK(!odd, "%d truncations gave an unexpected status", odd);
    }
}

static void test_lists(void)
{
    static const struct { const char *file, *text; } cases[] = {
        {"meta_list_empty.txt", "meta_list_empty.txt: no samples (empty list)"},
        {"meta_list_blank.txt", "no samples (empty list)"},
        {"meta_list_missing.txt", "meta_list_missing.txt:2: entry 'no_such_image.jpg' (resolved to "},
        {"meta_list_dir.txt", "meta_list_dir.txt:1: entry '../tensors' (resolved to "},
        {"meta_list_nul.txt", "meta_list_nul.txt:2: NUL byte"},
        {"meta_list_long.txt", "meta_list_long.txt:1: line longer than 4096 bytes"},
        {"meta_list_count.txt", "meta_list_count.txt:1: 2 entries, the model has 1 input"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        qp_dataset *d = (qp_dataset *)1;
        EXPECT_ERR(cases[i].file, qp_inputmeta_read_list(D("bad/%s", cases[i].file), 1, &d), QP_EINPUT, cases[i].text);
        CHECK(d == NULL, "%s: no list on error", cases[i].file);
    }
    qp_dataset *d;
    EXPECT_ERR("missing list", qp_inputmeta_read_list(D("bad/meta_list_none.txt"), 1, &d), QP_EINPUT,
               "No such file or directory");
    EXPECT_ERR("dir entry", qp_inputmeta_read_list(D("bad/meta_list_dir.txt"), 1, &d), QP_EINPUT, "is a directory");
    EXPECT_ERR("missing entry", qp_inputmeta_read_list(D("bad/meta_list_missing.txt"), 1, &d), QP_EINPUT,
               "no such file");
    int rc = qp_inputmeta_read_list(D("tensors/list_two.txt"), 2, &d);
    CHECK(!rc && d->n_samples == 1 && !strcmp(d->written[1], "img_rgb_4x2.png"), "two inputs: %s", qp_error_msg());
    if (!rc)
        qp_inputmeta_free_list(d);
    /* unreadable entry: only meaningful when not root */
    if (geteuid() != 0) {
        FILE *f = fopen(T("secret.npy"), "w");
        fclose(f);
        chmod(T("secret.npy"), 0);
        f = fopen(T("l.txt"), "w");
        fputs("secret.npy\n", f);
        fclose(f);
        EXPECT_ERR("unreadable", qp_inputmeta_read_list(T("l.txt"), 1, &d), QP_EINPUT, "Permission denied");
    }
}

static void test_samples(void)
{
    qp_inputmeta *m = qp_inputmeta_new();
    qp_meta_db *db = qp_inputmeta_add_db(m, "x.txt", QP_DB_TEXT);
    qp_meta_port *p = qp_inputmeta_add_port(m, db, "in", 4, (int64_t[]){1, 2, 2, 3}); /* nhwc */
    double mean[3] = {1, 2, 3};
    p->mean = mean;
    p->scale[0] = 0.5;
    qp_tensor t;
    int rc = qp_inputmeta_load_sample(p, D("tensors/np_u8_1x2x2x3.npy"), &t);
    CHECK(!rc && t.dtype == QP_DT_F32 && t.rank == 4, "npy sample: %s", qp_error_msg());
    if (!rc) {
        int ok = 1;
        for (int i = 0; i < 12; i++)
            ok &= ((float *)t.data)[i] == (float)((i - mean[i % 3]) * 0.5);
        CHECK(ok, "npy sample values");
    }
    qp_tensor_free(&t);
    p->reverse_channel = 1; /* channels reversed before the mean: out[c] = (in[2 - c] - mean[c]) * s */
    rc = qp_inputmeta_load_sample(p, D("tensors/np_u8_1x2x2x3.npy"), &t);
    CHECK(!rc && ((float *)t.data)[0] == (float)((2 - 1) * 0.5) && ((float *)t.data)[2] == (float)((0 - 3) * 0.5),
          "reversed npy sample");
    qp_tensor_free(&t);
    EXPECT_ERR("npy shape", qp_inputmeta_load_sample(p, D("tensors/np_f32_2x3.npy"), &t), QP_EINPUT,
               "has shape 2x3, port 'in' expects 1x2x2x3");
    /* raw float32 */
    qp_tensor r;
    qp_tensor_alloc(&r, QP_DT_F32, 4, p->shape);
    for (int i = 0; i < 12; i++)
        ((float *)r.data)[i] = (float)i;
    qp_tensorio_write_raw(T("s.bin"), &r);
    qp_tensorio_write_tensor(T("s.tensor"), &r);
    p->reverse_channel = 0;
    rc = qp_inputmeta_load_sample(p, T("s.bin"), &t);
    CHECK(!rc && ((float *)t.data)[5] == (float)((5 - 3) * 0.5), "raw sample: %s", qp_error_msg());
    qp_tensor_free(&t);
    rc = qp_inputmeta_load_sample(p, T("s.tensor"), &t);
    CHECK(!rc && ((float *)t.data)[4] == (float)((4 - 2) * 0.5), ".tensor sample: %s", qp_error_msg());
    qp_tensor_free(&t);
    qp_tensor_free(&r);
    EXPECT_ERR("bad image sample", qp_inputmeta_load_sample(p, D("bad/img_cmyk.jpg"), &t), QP_EINPUT, "colour space YCCK");
    qp_meta_port *q = qp_inputmeta_add_port(m, db, "feat", 4, (int64_t[]){1, 8, 2, 2});
    EXPECT_ERR("image into 8 channels", qp_inputmeta_load_sample(q, D("tensors/img_rgb_4x2.png"), &t), QP_EINPUT,
               "it has 8 channels");
    qp_meta_port *g = qp_inputmeta_add_port(m, db, "gray", 4, (int64_t[]){1, 1, 2, 4});
    rc = qp_inputmeta_load_sample(g, D("tensors/img_gray_3x1.png"), &t);
    CHECK(!rc && t.dims[1] == 1 && ((float *)t.data)[0] == 0, "gray port: %s", qp_error_msg());
    qp_tensor_free(&t);
    qp_inputmeta_free(m);
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    return remove(path);
}

int main(int argc, char **argv)
{
    const char *env = getenv("QP_TEST_DATA");
    (void)argc;
    if (env)
        snprintf(data_dir, sizeof data_dir, "%s", env);
    else if (access("tests/data/tensors", F_OK) == 0)
        snprintf(data_dir, sizeof data_dir, "tests/data");
    else { /* next to the binary: build/tests/test_tensorio -> ../../tests/data */
        char exe[400];
        snprintf(exe, sizeof exe, "%s", argv[0]);
        char *s = strrchr(exe, '/');
        if (s)
            *s = 0;
        snprintf(data_dir, sizeof data_dir, "%s/../../tests/data", s ? exe : ".");
    }
    if (access(D("tensors/np_f32_2x3.npy"), R_OK)) {
        fprintf(stderr, "test_tensorio: fixtures not found under '%s' (set QP_TEST_DATA)\n", data_dir);
        printf("0 passed, 1 failed\n");
        return 1;
    }
    snprintf(tmp_dir, sizeof tmp_dir, "%s/qp_tio_XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    if (!mkdtemp(tmp_dir)) {
        perror("mkdtemp");
        return 1;
    }
    test_dtypes();
    test_shapes();
    test_round_trips();
    test_atomic_write();
    test_numpy_fixtures();
    test_names();
    test_bad_npy();
    test_bad_tensor();
    test_images();
    test_bad_images();
    test_resize();
    test_preprocess();
    test_meta_read();
    test_meta_round_trip();
    test_meta_bad();
    test_lists();
    test_samples();
    nftw(tmp_dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    printf("%d passed, %d failed\n", n_pass, n_fail);
    return n_fail ? 1 : 0;
}
