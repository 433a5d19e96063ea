/* Throughput of the integer convolutions on yolov5s-like shapes, int8 and int16, 1 and 2
 * threads, next to the float32 convolution (conv_f32 on gemm_f32) on the same shapes.
 * GOP/s counts a multiply-add as 2 operations.  Usage: bench_kernels_q [reps]
 * The two cores are shared and noisy: each figure is the best of reps runs. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "qp/conv_f32.h"
#include "qp/q_conv2d.h"
#include "qp/threads.h"

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static void *xalloc(size_t n)
{
    void *p = aligned_alloc(64, (n + 63) & ~(size_t)63);
    if (!p)
        exit(3);
    memset(p, 1, n);
    return p;
}

typedef struct shape {
    const char *name;
    int c, h, w, m, k, pad, group;
} shape;

static double best_of(int reps, void (*fn)(void *), void *ctx)
{
    double best = 1e30;
    fn(ctx); /* warm up (pool start, page faults) */
    for (int r = 0; r < reps; r++) {
        double t0 = now();
        fn(ctx);
        double t = now() - t0;
        best = t < best ? t : best;
    }
    return best;
}

typedef struct run {
    qp_conv2d_q_params p;
    qp_conv2d_q_quant q;
    qp_conv2d_f32_params pf;
    int bits;
    void *packed, *x, *y, *scratch;
    float *bias;
} run;

static void run_q(void *v)
{
    run *r = v;
    if (r->bits == 8)
        qp_conv2d_q8(&r->p, &r->q, r->packed, r->x, r->y, r->scratch);
    else
        qp_conv2d_q16(&r->p, &r->q, r->packed, r->x, r->y, r->scratch);
}

static void run_f(void *v)
{
    run *r = v;
    qp_act act = {QP_ACT_NONE, 0, 0};
    qp_conv2d_f32(&r->pf, r->packed, r->bias, act, r->x, r->y, r->scratch);
}

int main(int argc, char **argv)
{
    int reps = argc > 1 ? atoi(argv[1]) : 5;
    static const shape shapes[] = {
        {"3x3 128->128 @80x80", 128, 80, 80, 128, 3, 1, 1},
        {"1x1 64->64 @160x160", 64, 160, 160, 64, 1, 0, 1},
        {"dw3x3 96 @80x80", 96, 80, 80, 96, 3, 1, 96}, /* PP-OCR / BlazeFace style */
    };
    printf("%-22s %-6s %8s %8s\n", "shape", "type", "1T", "2T");
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        const shape *sh = &shapes[s];
        double macs = (double)sh->m * sh->h * sh->w * (sh->c / sh->group) * sh->k * sh->k;
        for (int kind = 0; kind < 3; kind++) { /* int8, int16, f32 */
            run r;
            memset(&r, 0, sizeof r);
            qp_conv2d_q_params p = {1, sh->c, sh->h, sh->w, sh->m, sh->h, sh->w, sh->k, sh->k, sh->group,
                                    1, 1, 1, 1, sh->pad, sh->pad, sh->pad, sh->pad};
            r.p = p;
            size_t xn = (size_t)sh->c * sh->h * sh->w, yn = (size_t)sh->m * sh->h * sh->w;
            size_t wn = (size_t)sh->m * (sh->c / sh->group) * sh->k * sh->k;
            double t[2];
            for (int th = 1; th <= 2; th++) {
                qp_threads_set_count(th);
                if (kind < 2) {
                    r.bits = kind == 0 ? 8 : 16;
                    qp_qmul *mul = xalloc((size_t)sh->m * sizeof *mul);
                    for (int o = 0; o < sh->m; o++)
                        qp_requant_multiplier(kind == 0 ? 0.0013 : 1.1e-7, &mul[o]);
                    void *w = xalloc(wn * 2), *bias = xalloc((size_t)sh->m * 8);
                    r.q = (qp_conv2d_q_quant){kind == 0 ? QP_QTYPE_U8 : QP_QTYPE_I16, kind == 0 ? 3 : 0,
                                              kind == 0 ? QP_QTYPE_U8 : QP_QTYPE_I16, 0,
                                              kind == 0 ? 0 : -32768, kind == 0 ? 255 : 32767, mul, bias};
                    r.packed = xalloc(kind == 0 ? qp_conv2d_q8_packed_size(&p) : qp_conv2d_q16_packed_size(&p));
                    if (kind == 0)
                        qp_conv2d_q8_pack(&p, w, r.packed);
                    else
                        qp_conv2d_q16_pack(&p, w, r.packed);
                    r.x = xalloc(xn * 2);
                    r.y = xalloc(yn * 2);
                    r.scratch = xalloc(qp_conv2d_q_scratch_size(&p, qp_threads_count()));
                    t[th - 1] = best_of(reps, run_q, &r);
                    free(mul), free(w), free(bias);
                } else {
                    qp_conv2d_f32_params pf = {1, sh->c, sh->h, sh->w, sh->m, sh->h, sh->w, sh->k, sh->k, sh->group,
                                               1, 1, 1, 1, sh->pad, sh->pad, sh->pad, sh->pad};
                    r.pf = pf;
                    float *w = xalloc(wn * 4);
                    for (size_t i = 0; i < wn; i++)
                        w[i] = 0.01f * (float)(i % 7);
                    r.packed = xalloc(qp_conv2d_f32_packed_size(&pf));
                    qp_conv2d_f32_pack(&pf, w, r.packed);
                    r.x = xalloc(xn * 4);
                    for (size_t i = 0; i < xn; i++)
                        ((float *)r.x)[i] = 0.5f;
                    r.y = xalloc(yn * 4);
                    r.bias = xalloc((size_t)sh->m * 4);
                    r.scratch = xalloc(qp_conv2d_f32_scratch_size(&pf, qp_threads_count()));
                    t[th - 1] = best_of(reps, run_f, &r);
                    free(w), free(r.bias);
                }
                free(r.packed), free(r.x), free(r.y), free(r.scratch);
            }
            static const char *const kinds[] = {"int8", "int16", "f32"};
            printf("%-22s %-6s %8.1f %8.1f  %s/s  (%.2f / %.2f ms)\n", sh->name, kinds[kind],
                   2 * macs / t[0] * 1e-9, 2 * macs / t[1] * 1e-9, kind < 2 ? "GOP" : "GFLOP",
                   t[0] * 1e3, t[1] * 1e3);
        }
    }
    qp_threads_shutdown();
    return 0;
}
