/* Unit tests of the import helpers: TensorProto decoding (every supported type in raw and
 * typed form, the bad classes, the backend tests' input_0.pb files), layer-key lookup and
 * suggestions, and graph compaction.  Run from the repository root. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "qp/diag.h"
#include "qp/graph_edit.h"
#include "qp/keys.h"
#include "qp/onnx_tensor.h"
#include "onnx.pb-c.h"

#include "check.h"


static int decode(Onnx__TensorProto *t, qp_tensor *out)
{
    return qp_onnx_tensor_decode(t, NULL, NULL, out);
}

static void test_types(void)
{
    static const struct { int dt; size_t size; } types[] = {
        { QP_DT_F32, 4 }, { QP_DT_F64, 8 }, { QP_DT_F16, 2 }, { QP_DT_I8, 1 }, { QP_DT_U8, 1 },
        { QP_DT_I16, 2 }, { QP_DT_I32, 4 }, { QP_DT_I64, 8 }, { QP_DT_BOOL, 1 },
    };
    for (size_t k = 0; k < sizeof types / sizeof types[0]; k++) {
        int dt = types[k].dt;
        int64_t dims[2] = { 2, 3 };
        uint8_t raw[6 * 8 + 1];
        /* raw_data at an odd address: the decoder must not assume alignment */
        for (size_t i = 0; i < 6 * types[k].size; i++)
            raw[1 + i] = (uint8_t)(dt == QP_DT_BOOL ? (i & 1) : i * 7 + 1);
        Onnx__TensorProto t = ONNX__TENSOR_PROTO__INIT;
        t.has_data_type = 1;
        t.data_type = dt;
        t.n_dims = 2;
        t.dims = dims;
        t.has_raw_data = 1;
        t.raw_data.data = raw + 1;
        t.raw_data.len = 6 * types[k].size;
        qp_tensor out;
        int rc = decode(&t, &out);
        CHECK(rc == 0 && out.dtype == dt && out.rank == 2 && out.nbytes == 6 * types[k].size &&
              !memcmp(out.data, raw + 1, out.nbytes), "raw %s: %s", qp_dtype_name(dt), qp_error_msg());
        qp_tensor_free(&out);
        t.raw_data.len--;
        CHECK(decode(&t, &out) == QP_EINPUT && strstr(qp_error_msg(), "raw_data has"), "raw length %s", qp_dtype_name(dt));
        t.raw_data.len++;
        /* the typed field of the type */
        float fv[6] = { 1, -2, 3.5f, 0, 5, 6 };
        double dv[6] = { 1, -2, 3.5, 0, 5, 6 };
        int64_t lv[6] = { 1, -2, 3, 0, INT64_MAX, INT64_MIN };
        int32_t iv[6] = { 1, 0, 1, 0, 1, 1 };
        t.has_raw_data = 0;
        if (dt == QP_DT_F32) {
            t.n_float_data = 6;
            t.float_data = fv;
        } else if (dt == QP_DT_F64) {
            t.n_double_data = 6;
            t.double_data = dv;
        } else if (dt == QP_DT_I64) {
            t.n_int64_data = 6;
            t.int64_data = lv;
        } else {
            t.n_int32_data = 6;
            t.int32_data = iv;
        }
        rc = decode(&t, &out);
        CHECK(rc == 0 && out.nbytes == 6 * types[k].size, "typed %s: %s", qp_dtype_name(dt), qp_error_msg());
        if (!rc) {
            double got[6];
            qp_tensor_get_f64(&out, got);
            if (dt == QP_DT_F32 || dt == QP_DT_F64)
                CHECK(got[2] == 3.5 && got[1] == -2, "typed %s values", qp_dtype_name(dt));
            else if (dt == QP_DT_I64)
                CHECK(!memcmp(out.data, lv, 48), "typed int64 values");
            else if (dt != QP_DT_F16)
                CHECK(got[0] == 1 && got[1] == 0 && got[5] == 1, "typed %s values", qp_dtype_name(dt));
        }
        qp_tensor_free(&out);
        /* a count that does not match */
        if (dt == QP_DT_F32)
            t.n_float_data = 5;
        else if (dt == QP_DT_F64)
            t.n_double_data = 5;
        else if (dt == QP_DT_I64)
            t.n_int64_data = 5;
        else
            t.n_int32_data = 5;
        CHECK(decode(&t, &out) == QP_EINPUT && strstr(qp_error_msg(), "has 5 values"), "count %s: %s",
              qp_dtype_name(dt), qp_error_msg());
    }
}

static void test_bad(void)
{
    qp_tensor out;
    int64_t dims[9] = { 1, 1, 1, 1, 1, 1, 1, 1, 1 };
    float f = 1;
    Onnx__TensorProto t = ONNX__TENSOR_PROTO__INIT;
    t.has_data_type = 1;
    t.data_type = 8;   /* STRING */
    t.n_dims = 1;
    t.dims = dims;
    CHECK(decode(&t, &out) == QP_EINPUT && strstr(qp_error_msg(), "STRING"), "string: %s", qp_error_msg());
    t.data_type = 12;  /* UINT32: not on the list */
    CHECK(decode(&t, &out) == QP_EINPUT && strstr(qp_error_msg(), "UINT32"), "uint32: %s", qp_error_msg());
    t.has_data_type = 0;
    CHECK(decode(&t, &out) == QP_EINPUT && strstr(qp_error_msg(), "no data type"), "no type: %s", qp_error_msg());
    t.has_data_type = 1;
    t.data_type = QP_DT_F32;
    t.n_float_data = 1;
    t.float_data = &f;
    t.n_dims = 9;
    CHECK(decode(&t, &out) == QP_EINPUT && strstr(qp_error_msg(), "rank 9"), "rank 9: %s", qp_error_msg());
    int64_t big[4] = { INT64_C(0x7fffffff), INT64_C(0x7fffffff), INT64_C(0x7fffffff), 4 };
    t.n_dims = 4;
    t.dims = big;
    CHECK(decode(&t, &out) == QP_EINPUT && strstr(qp_error_msg(), "overflows"), "overflow: %s", qp_error_msg());
    int64_t zero[2] = { 0, 5 };
    t.dims = zero;
    t.n_dims = 2;
    t.n_float_data = 0;
    CHECK(decode(&t, &out) == 0 && out.nbytes == 0 && out.data, "empty tensor: %s", qp_error_msg());
    qp_tensor_free(&out);
    Onnx__StringStringEntryProto loc = ONNX__STRING_STRING_ENTRY_PROTO__INIT, *lp = &loc;
    loc.key = "location";
    loc.value = "w.bin";
    t.dims = dims;
    t.n_dims = 1;
    t.n_external_data = 1;
    t.external_data = &lp;
    t.has_data_location = 1;
    t.data_location = ONNX__TENSOR_PROTO__DATA_LOCATION__EXTERNAL;
    CHECK(decode(&t, &out) == QP_EINPUT && strstr(qp_error_msg(), "not allowed"), "external, no base: %s",
          qp_error_msg());
    loc.value = "a/../w.bin";
    CHECK(qp_onnx_tensor_decode(&t, ".", NULL, &out) == QP_EINPUT && strstr(qp_error_msg(), "'..'"), "dotdot: %s",
          qp_error_msg());
}

/* Every input_0.pb of the backend tests either decodes or is refused with a message; the
 * ones of plain float models decode to the model input's shape. */
static void test_pb_files(void)
{
    const char *root = "/usr/include/onnx/backend/test/data/node";
    if (access(root, R_OK)) {
        fprintf(stderr, "skip: no %s\n", root);
        return;
    }
    qp_tensor t;
    char path[512];
    snprintf(path, sizeof path, "%s/test_conv_with_strides_padding/test_data_set_0/input_0.pb", root);
    CHECK(qp_onnx_tensor_read_pb(path, &t) == 0 && t.dtype == QP_DT_F32 && t.rank == 4 && t.dims[2] == 7 &&
          t.dims[3] == 5 && ((float *)t.data)[1] == 1.0f, "%s: %s", path, qp_error_msg());
    qp_tensor_free(&t);
    snprintf(path, sizeof path, "%s/test_add_uint8/test_data_set_0/input_0.pb", root);
    CHECK(qp_onnx_tensor_read_pb(path, &t) == 0 && t.dtype == QP_DT_U8 && t.rank == 3, "%s: %s", path,
          qp_error_msg());
    qp_tensor_free(&t);
    snprintf(path, sizeof path, "%s/test_relu/model.onnx", root);
    CHECK(qp_onnx_tensor_read_pb(path, &t) != 0, "a model is not a tensor");
    CHECK(qp_onnx_tensor_read_pb("/nonexistent.pb", &t) != 0 && strstr(qp_error_msg(), "nonexistent"), "missing");
    /* all of them: no crash, no leak (under ASan), a message on failure */
    FILE *ls = popen("ls -d /usr/include/onnx/backend/test/data/node/*/test_data_set_0/input_*.pb", "r");
    char line[512];
    int ok = 0, refused = 0;
    while (ls && fgets(line, sizeof line, ls)) {
        line[strcspn(line, "\n")] = 0;
        qp_error_clear();
        if (qp_onnx_tensor_read_pb(line, &t) == 0) {
            ok++;
            qp_tensor_free(&t);
        } else {
            refused++;
            CHECK(strstr(qp_error_msg(), line) != NULL, "message names the file: %s", qp_error_msg());
        }
    }
    if (ls)
        pclose(ls);
    CHECK(ok > 500, "%d decoded, %d refused", ok, refused);
}

static qp_graph *small_graph(void)
{
    /* x -> Relu(r) -> t; t, c -> Add(a) -> y; d dead -> Neg(n) -> z (unused) */
    qp_graph *g = qp_graph_new();
    int64_t d[2] = { 1, 4 };
    float c[4] = { 1, 2, 3, 4 };
    int x = qp_graph_add_value(g, "x", QP_DT_F32, 2, d);
    int cv = qp_graph_add_const(g, "c", QP_DT_F32, 2, d, c, sizeof c);
    int t = qp_graph_add_value(g, "t", QP_DT_F32, 2, d);
    int y = qp_graph_add_value(g, "y", QP_DT_F32, 2, d);
    int z = qp_graph_add_value(g, "z", QP_DT_F32, 2, d);
    int in1[1] = { x }, in2[2] = { t, cv }, in3[1] = { x };
    qp_graph_add_node(g, "Relu", "r", 1, in1, 1, &t);
    qp_graph_add_node(g, "Neg", "n", 1, in3, 1, &z);
    qp_graph_add_node(g, "Add", "a", 2, in2, 1, &y);
    g->inputs = qp_arena_array(g->arena, 1, sizeof(int));
    g->outputs = qp_arena_array(g->arena, 1, sizeof(int));
    g->inputs[0] = x;
    g->outputs[0] = y;
    g->n_inputs = g->n_outputs = 1;
    return g;
}

static void test_graph_edit(void)
{
    qp_graph *g = small_graph();
    int vmap[5], nmap[3];
    CHECK(qp_graph_compact(g, NULL, vmap, nmap) == 0 && g->n_nodes == 2 && g->n_values == 4, "compact: %d %d",
          g->n_nodes, g->n_values);
    CHECK(nmap[1] == -1 && nmap[2] == 1 && vmap[4] == -1 && vmap[3] == 3, "maps");
    CHECK(qp_graph_validate(g) == 0, "valid after compaction: %s", qp_error_msg());
    CHECK(!strcmp(g->nodes[1].name, "a") && g->nodes[1].in[0] == 2 && g->values[3].producer == 1, "renumbered");
    CHECK(!strcmp(qp_graph_unique_name(g, "t"), "t_1") && !strcmp(qp_graph_unique_name(g, "q"), "q"), "unique");
    CHECK(qp_graph_replace_uses(g, 3, 2) == 1 && g->outputs[0] == 2, "replace uses");
    qp_graph_free(g);
}

static void test_keys(void)
{
    qp_graph *g = small_graph();
    int vmap[5];
    qp_graph_compact(g, NULL, vmap, NULL);
    for (int i = 0; i < g->n_nodes; i++)
        g->nodes[i].op = -1;        /* unbound: no weight or parameter ports */
    CHECK(qp_keys_assign(g, NULL) == 0, "assign: %s", qp_error_msg());
    CHECK(!strcmp(g->output_keys[0], "attach_Add_a/out0_0"), "%s", g->output_keys[0]);
    CHECK(!strcmp(g->nodes[1].key, "Add_a_1"), "%s", g->nodes[1].key);
    CHECK(!strcmp(g->nodes[0].key, "Relu_r_2"), "%s", g->nodes[0].key);
    CHECK(!strcmp(g->values[1].key, "Initializer_c_3"), "%s", g->values[1].key);
    CHECK(!strcmp(g->values[0].key, "x_4"), "%s", g->values[0].key);
    int kind, idx;
    CHECK(qp_keys_find(g, "Relu_r_2", &kind, &idx) == 0 && kind == QP_KEY_NODE && idx == 0, "find node");
    CHECK(qp_keys_find(g, "x_4", &kind, &idx) == 0 && kind == QP_KEY_VALUE && idx == 0, "find input");
    CHECK(qp_keys_find(g, "attach_Add_a/out0_0", &kind, &idx) == 0 && kind == QP_KEY_OUTPUT, "find output");
    CHECK(qp_keys_find(g, "Relu_r_3", &kind, &idx) == -1, "wrong uid");
    const char *s[4];
    CHECK(qp_keys_nearest(g, "Relu_r_3", s, 4) >= 1 && !strcmp(s[0], "Relu_r_2"), "nearest (uid)");
    CHECK(qp_keys_nearest(g, "Relu_r", s, 4) >= 1 && !strcmp(s[0], "Relu_r_2"), "nearest (no uid)");
    CHECK(qp_keys_nearest(g, "Initializer_c", s, 4) >= 1 && !strcmp(s[0], "Initializer_c_3"), "nearest init");
    CHECK(qp_keys_nearest(g, "Sigmoid_Sigmoid_202_21", s, 4) == 0, "nothing close");
    qp_key_layer *l;
    int n;
    CHECK(qp_keys_layers(g, &l, &n) == 0 && n == 5 && l[0].uid == 0 && l[4].uid == 4 && l[2].kind == QP_KEY_NODE,
          "layers");
    free(l);
    qp_graph_free(g);
}

int main(void)
{
    qp_diag_init("test_onnx_import");
    test_types();
    test_bad();
    test_pb_files();
    test_graph_edit();
    test_keys();
    printf("%d passed, %d failed\n", n_pass, n_fail);
    return n_fail ? 1 : 0;
}
