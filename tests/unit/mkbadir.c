/* Writes one IR stream per bad-input class of qpipe-ir(5) into DIR (and a good one,
 * good.ir), so the bats suite can check that every reading filter rejects each with a
 * one-line error.  The streams are built record by record to break exactly one rule. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zstd.h>

#include "qp/diag.h"
#include "qp/ir.h"
#include "qp/stream.h"
#include "qpipe_ir.pb-c.h"

enum { F_NONE = 0, F_MAGIC, F_VERSION, F_NO_END, F_COUNTS, F_HASH, F_DANGLING, F_FORWARD, F_DUP_ID,
       F_UNKNOWN_OP, F_OVERFLOW, F_CONST_LEN, F_NO_HEADER, F_EMPTY_RECORD, F_BIG_LEN, F_TWO_END };

static void put(qp_swriter *w, Qpipe__Record *r)
{
    size_t n = qpipe__record__get_packed_size(r);
    unsigned char *b = malloc(n + 1);
    qpipe__record__pack(r, b);
    if (qp_swriter_record(w, b, n))
        exit(3);
    free(b);
}

static void value(qp_swriter *w, uint32_t id, const char *name, int n_dims, int64_t *dims, int is_const,
                  const void *data, size_t len)
{
    Qpipe__Value v = QPIPE__VALUE__INIT;
    v.id = id;
    v.name = (char *)name;
    v.dtype = 1;
    v.n_dims = (size_t)n_dims;
    v.dims = dims;
    v.is_const = is_const;
    v.data.data = (uint8_t *)data;
    v.data.len = len;
    v.key = (char *)"";
    Qpipe__Record r = QPIPE__RECORD__INIT;
    r.r_case = QPIPE__RECORD__R_VALUE;
    r.value = &v;
    put(w, &r);
}

static void node(qp_swriter *w, uint32_t id, const char *op, int a, int b, uint32_t out)
{
    Qpipe__Node n = QPIPE__NODE__INIT;
    int32_t in[2] = { a, b };
    n.id = id;
    n.op_type = (char *)op;
    n.name = (char *)"add0";
    n.key = (char *)"Add_add0_1";
    n.n_inputs = 2;
    n.inputs = in;
    n.n_outputs = 1;
    n.outputs = &out;
    Qpipe__Record r = QPIPE__RECORD__INIT;
    r.r_case = QPIPE__RECORD__R_NODE;
    r.node = &n;
    put(w, &r);
}

static int write_stream(const char *path, int fault)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        return 3;
    qp_swriter *w = qp_swriter_new(f, path, 3);
    if (fault == F_BIG_LEN) {
        /* a length prefix claiming 4 GiB - 1 followed by nothing */
        fclose(f);
        unsigned char lp[4] = { 0xff, 0xff, 0xff, 0xff };
        size_t cap = ZSTD_compressBound(4);
        void *out = malloc(cap);
        size_t n = ZSTD_compress(out, cap, lp, 4, 3);
        f = fopen(path, "wb");
        fwrite(out, 1, n, f);
        free(out);
        qp_swriter_free(w);
        return fclose(f) ? 3 : 0;
    }
    if (fault != F_NO_HEADER) {
        Qpipe__Header h = QPIPE__HEADER__INIT;
        h.magic = (char *)(fault == F_MAGIC ? "qpipe-xx" : QP_IR_MAGIC);
        h.version_major = fault == F_VERSION ? 7 : QP_IR_VERSION_MAJOR;
        h.model_name = (char *)"tiny";
        h.producer = (char *)"mkbadir";
        Qpipe__Record r = QPIPE__RECORD__INIT;
        r.r_case = QPIPE__RECORD__R_HEADER;
        r.header = &h;
        put(w, &r);
    }
    int64_t d[2] = { 1, 4 };
    int64_t big[3] = { (int64_t)1 << 30, (int64_t)1 << 30, (int64_t)1 << 30 };
    float c[4] = { 1, 2, 3, 4 };
    value(w, 0, "x", fault == F_OVERFLOW ? 3 : 2, fault == F_OVERFLOW ? big : d, 0, NULL, 0);
    value(w, fault == F_DUP_ID ? 0 : 1, "c", 2, d, 1, c, fault == F_CONST_LEN ? 12 : 16);
    value(w, 2, "y", 2, d, 0, NULL, 0);
    value(w, 3, "z", 2, d, 0, NULL, 0);
    if (fault == F_EMPTY_RECORD) {
        Qpipe__Record r = QPIPE__RECORD__INIT;
        put(w, &r);
    }
    if (fault == F_FORWARD) {
        node(w, 0, "Add", 0, 3, 2);  /* reads z before the node that makes it */
        node(w, 1, "Add", 0, 1, 3);
    } else {
        node(w, 0, fault == F_UNKNOWN_OP ? "FooBar" : "Add", 0, fault == F_DANGLING ? 99 : 1, 2);
        node(w, 1, "Add", 2, 1, 3);
    }
    Qpipe__GraphIO io = QPIPE__GRAPH_IO__INIT;
    uint32_t ins[1] = { 0 }, outs[1] = { 3 };
    char *keys[1] = { (char *)"attach_Add_add1/out0_0" };
    io.n_inputs = 1;
    io.inputs = ins;
    io.n_outputs = 1;
    io.outputs = outs;
    io.n_output_keys = 1;
    io.output_keys = keys;
    Qpipe__Record r = QPIPE__RECORD__INIT;
    r.r_case = QPIPE__RECORD__R_IO;
    r.io = &io;
    put(w, &r);
    if (fault != F_NO_END) {
        Qpipe__End e = QPIPE__END__INIT;
        e.n_records = qp_swriter_count(w);
        e.n_values = 4;
        e.n_nodes = fault == F_COUNTS ? 7 : 2;
        e.hash = qp_swriter_hash(w) ^ (fault == F_HASH ? 1 : 0);
        Qpipe__Record er = QPIPE__RECORD__INIT;
        er.r_case = QPIPE__RECORD__R_END;
        er.end = &e;
        put(w, &er);
        if (fault == F_TWO_END)
            put(w, &er);
    }
    int rc = qp_swriter_finish(w);
    return fclose(f) || rc ? 3 : 0;
}

static unsigned char *slurp(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *b = malloc((size_t)len + 1);
    *n = fread(b, 1, (size_t)len, f);
    fclose(f);
    return b;
}

static void spit(const char *path, const void *b, size_t n)
{
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(b, 1, n, f) != n || fclose(f))
        exit(3);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: mkbadir DIR\n");
        return 2;
    }
    static const struct { const char *name; int fault; } cases[] = {
        { "good", F_NONE }, { "bad_magic", F_MAGIC }, { "bad_version", F_VERSION },
        { "no_end", F_NO_END }, { "bad_counts", F_COUNTS }, { "bad_hash", F_HASH },
        { "dangling", F_DANGLING }, { "forward_ref", F_FORWARD }, { "dup_id", F_DUP_ID },
        { "unknown_op", F_UNKNOWN_OP }, { "overflow", F_OVERFLOW }, { "const_len", F_CONST_LEN },
        { "no_header", F_NO_HEADER }, { "unknown_record", F_EMPTY_RECORD }, { "big_len", F_BIG_LEN },
        { "after_end", F_TWO_END },
    };
    char path[4096];
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        snprintf(path, sizeof path, "%s/%s.ir", argv[1], cases[i].name);
        if (write_stream(path, cases[i].fault))
            return 3;
    }
    /* byte-level faults on the good stream */
    snprintf(path, sizeof path, "%s/good.ir", argv[1]);
    size_t n;
    unsigned char *good = slurp(path, &n);
    if (!good || n < 40)
        return 3;
    snprintf(path, sizeof path, "%s/empty.ir", argv[1]);
    spit(path, good, 0);
    snprintf(path, sizeof path, "%s/not_zstd.ir", argv[1]);
    spit(path, "hello, this is not a stream\n", 28);
    snprintf(path, sizeof path, "%s/truncated.ir", argv[1]);
    spit(path, good, n / 2);
    snprintf(path, sizeof path, "%s/flipped.ir", argv[1]);
    good[n / 2] ^= 0x20;
    spit(path, good, n);
    good[n / 2] ^= 0x20;
    snprintf(path, sizeof path, "%s/trailing.ir", argv[1]);
    unsigned char *t = malloc(n + 8);
    memcpy(t, good, n);
    memcpy(t + n, "garbage!", 8);
    spit(path, t, n + 8);
    snprintf(path, sizeof path, "%s/two_frames.ir", argv[1]);
    t = realloc(t, 2 * n);
    memcpy(t, good, n);
    memcpy(t + n, good, n);
    spit(path, t, 2 * n);
    free(t);
    free(good);
    return 0;
}
