/* Throughput of the float32 kernels on the shapes the test models spend their time in
 * (yolov5s convolutions, PP-OCR depthwise layers, SPPF max pooling), with 1 and 2 threads.
 * Prints GFLOP/s (2 flops per MAC) and the share of the 100 GFLOP/s-per-core FMA peak
 * measured on the reference machine (shared/MODELS.md).  "bench_kernels_f32 quick" runs
 * each case once (for the test suite); QP_KERNELS selects the path as usual. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "qp/conv_f32.h"
#include "qp/gemm_f32.h"
#include "qp/pool_f32.h"
#include "qp/threads.h"

#define PEAK_PER_CORE 100.0 /* GFLOP/s */

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static float *rand_array(size_t n)
{
    float *a = malloc(n * sizeof(float) + 1);
    if (!a) {
        fprintf(stderr, "bench_kernels_f32: out of memory\n");
        exit(3);
    }
    unsigned s = 12345;
    for (size_t i = 0; i < n; i++) {
        s = s * 1103515245u + 12345u;
        a[i] = (float)((s >> 8) & 0xFFFF) / 32768.0f - 1.0f;
    }
    return a;
}

static int quick;

/* Seconds per call, the best of 7 batches of at least ~20 ms each: the machine is shared, and
 * other work only ever adds time, so the fastest batch is the closest to the kernel's own
 * cost. */
static double time_it(void (*fn)(void *), void *ctx)
{
    fn(ctx); /* warm up: pool start, page faults */
    if (quick)
        return 1;
    double t0 = now();
    fn(ctx);
    double one = now() - t0;
    int reps = one > 0.02 ? 1 : (int)(0.02 / (one > 1e-7 ? one : 1e-7)) + 1;
    double samples[7];
    for (int s = 0; s < 7; s++) {
        t0 = now();
        for (int r = 0; r < reps; r++)
            fn(ctx);
        samples[s] = (now() - t0) / reps;
    }
    for (int i = 0; i < 7; i++)
        for (int j = i + 1; j < 7; j++)
            if (samples[j] < samples[i]) {
                double t = samples[i];
                samples[i] = samples[j];
                samples[j] = t;
            }
    return samples[0];
}

typedef struct conv_bench {
    qp_conv2d_f32_params p;
    void *packed, *scratch;
    float *x, *y, *bias;
    qp_act act;
} conv_bench;

static void run_conv(void *ctx)
{
    conv_bench *b = ctx;
    qp_conv2d_f32(&b->p, b->packed, b->bias, b->act, b->x, b->y, b->scratch);
}

static void bench_conv(const char *name, int c, int h, int w, int m, int k, int s, int pad, int group,
                       qp_act_kind act)
{
    conv_bench b;
    memset(&b, 0, sizeof b);
    qp_conv2d_f32_params *p = &b.p;
    p->n = 1;
    p->c = c;
    p->h = h;
    p->w = w;
    p->m = m;
    p->kh = p->kw = k;
    p->group = group;
    p->stride_h = p->stride_w = s;
    p->dil_h = p->dil_w = 1;
    p->pad_top = p->pad_left = p->pad_bottom = p->pad_right = pad;
    p->oh = (h + 2 * pad - k) / s + 1;
    p->ow = (w + 2 * pad - k) / s + 1;
    size_t nw = (size_t)m * (c / group) * k * k;
    float *wt = rand_array(nw);
    b.packed = malloc(qp_conv2d_f32_packed_size(p));
    qp_conv2d_f32_pack(p, wt, b.packed);
    b.scratch = malloc(qp_conv2d_f32_scratch_size(p, QP_THREADS_MAX) + 1);
    b.x = rand_array((size_t)c * h * w);
    b.y = rand_array((size_t)m * p->oh * p->ow);
    b.bias = rand_array((size_t)m);
    b.act.kind = act;
    b.act.beta = 6.0f; /* Clip(0, 6) when the kind is CLIP */
    double flops = 2.0 * m * p->oh * p->ow * (c / group) * k * k;
    double gf[2];
    for (int t = 1; t <= 2; t++) {
        qp_threads_set_count(t);
        gf[t - 1] = flops / time_it(run_conv, &b) * 1e-9;
    }
    static const char *paths[] = {"ref", "gemm1x1", "depthwise", "im2col"};
    _Static_assert(QP_CONV_PATH_COUNT == 4, "name every path");
    printf("%-34s %-9s %7.1f MFLOP  1T %6.1f GFLOP/s (%3.0f%%)  2T %6.1f GFLOP/s (%3.0f%%)\n",
           name, paths[qp_conv2d_f32_path_of(p)], flops * 1e-6, gf[0],
           100 * gf[0] / PEAK_PER_CORE, gf[1], 100 * gf[1] / (2 * PEAK_PER_CORE));
    free(wt);
    free(b.packed);
    free(b.scratch);
    free(b.x);
    free(b.y);
    free(b.bias);
}

typedef struct gemm_bench {
    size_t M, N, K;
    void *packed, *scratch;
    float *B, *C, *bias;
} gemm_bench;

static void run_gemm(void *ctx)
{
    gemm_bench *g = ctx;
    qp_act act = {QP_ACT_NONE, 0, 0};
    qp_gemm_f32(g->M, g->N, g->K, g->packed, g->B, g->N, g->bias, act, g->C, g->N, g->scratch);
}

static void bench_gemm(size_t M, size_t N, size_t K)
{
    gemm_bench g = {M, N, K, NULL, NULL, NULL, NULL, NULL};
    float *A = rand_array(M * K);
    g.packed = malloc(qp_gemm_f32_packed_size(M, K));
    qp_gemm_f32_pack_a(M, K, A, K, g.packed);
    g.scratch = malloc(qp_gemm_f32_scratch_size(M, N, K, QP_THREADS_MAX));
    g.B = rand_array(K * N);
    g.C = rand_array(M * N);
    g.bias = rand_array(M);
    double flops = 2.0 * M * N * K, gf[2];
    for (int t = 1; t <= 2; t++) {
        qp_threads_set_count(t);
        gf[t - 1] = flops / time_it(run_gemm, &g) * 1e-9;
    }
    char name[64];
    snprintf(name, sizeof name, "gemm M=%zu N=%zu K=%zu", M, N, K);
    printf("%-34s %-9s %7.1f MFLOP  1T %6.1f GFLOP/s (%3.0f%%)  2T %6.1f GFLOP/s (%3.0f%%)\n",
           name, "", flops * 1e-6, gf[0], 100 * gf[0] / PEAK_PER_CORE, gf[1],
           100 * gf[1] / (2 * PEAK_PER_CORE));
    free(A);
    free(g.packed);
    free(g.scratch);
    free(g.B);
    free(g.C);
    free(g.bias);
}

typedef struct pool_bench {
    qp_pool2d_f32_params p;
    float *x, *y;
} pool_bench;

static void run_pool(void *ctx)
{
    pool_bench *b = ctx;
    qp_maxpool2d_f32(&b->p, b->x, b->y);
}

static void bench_maxpool(const char *name, int c, int h, int k, int s, int pad)
{
    pool_bench b;
    memset(&b, 0, sizeof b);
    b.p.n = 1;
    b.p.c = c;
    b.p.h = b.p.w = h;
    b.p.kh = b.p.kw = k;
    b.p.stride_h = b.p.stride_w = s;
    b.p.dil_h = b.p.dil_w = 1;
    b.p.pad_top = b.p.pad_left = b.p.pad_bottom = b.p.pad_right = pad;
    b.p.oh = b.p.ow = (h + 2 * pad - k) / s + 1;
    b.x = rand_array((size_t)c * h * h);
    b.y = rand_array((size_t)c * b.p.oh * b.p.ow);
    double us[2];
    for (int t = 1; t <= 2; t++) {
        qp_threads_set_count(t);
        us[t - 1] = time_it(run_pool, &b) * 1e6;
    }
    printf("%-34s %-9s %7.1f Mout   1T %8.1f us              2T %8.1f us\n", name, "maxpool",
           (double)c * b.p.oh * b.p.ow * 1e-6, us[0], us[1]);
    free(b.x);
    free(b.y);
}

int main(int argc, char **argv)
{
    quick = argc > 1 && strcmp(argv[1], "quick") == 0;
    printf("isa %s; peak %.0f GFLOP/s per core; best of 7 batches\n",
           qp_kernels_isa_name(qp_kernels_isa()), PEAK_PER_CORE);
    /* yolov5s 640 */
    bench_conv("yolov5s stem 3->32 k6 s2 640", 3, 640, 640, 32, 6, 2, 2, 1, QP_ACT_SILU);
    bench_conv("yolov5s 1x1 64->64 160x160", 64, 160, 160, 64, 1, 1, 0, 1, QP_ACT_SILU);
    bench_conv("yolov5s 3x3 128->128 80x80", 128, 80, 80, 128, 3, 1, 1, 1, QP_ACT_SILU);
    bench_conv("yolov5s 3x3 256->256 s2 40x40", 256, 40, 40, 256, 3, 2, 1, 1, QP_ACT_SILU);
    bench_conv("yolov5s 1x1 512->255 20x20", 512, 20, 20, 255, 1, 1, 0, 1, QP_ACT_NONE);
    bench_conv("yolov5s 3x3 64->64 160x160 relu", 64, 160, 160, 64, 3, 1, 1, 1, QP_ACT_RELU);
    /* the same problems as plain GEMMs (N = output pixels, K = c*k*k) */
    bench_gemm(64, 25600, 64);
    bench_gemm(128, 6400, 1152);
    bench_gemm(256, 400, 2304);
    bench_gemm(255, 400, 512);
    bench_gemm(512, 400, 4608);
    /* PP-OCR depthwise (det at 640, cls at 48x192) */
    bench_conv("ppocr dw k5 s1 c32 160x160", 32, 160, 160, 32, 5, 1, 2, 32, QP_ACT_NONE);
    bench_conv("ppocr dw k5 s1 c192 20x20", 192, 20, 20, 192, 5, 1, 2, 192, QP_ACT_NONE);
    bench_conv("ppocr dw k5 s2 c96 40x40", 96, 40, 40, 96, 5, 2, 2, 96, QP_ACT_NONE);
    bench_conv("ppocr dw k3 s1 c48 80x80", 48, 80, 80, 48, 3, 1, 1, 48, QP_ACT_CLIP);
    bench_conv("ppocr cls dw k5 s1 c120 3x12", 120, 3, 12, 120, 5, 1, 2, 120, QP_ACT_NONE);
    bench_maxpool("yolov5s SPPF k5 s1 p2 256x20x20", 256, 20, 5, 1, 2);
    bench_maxpool("k2 s2 64x96x96", 64, 96, 2, 2, 0);
    printf("%s\n", quick ? "bench: quick run done" : "bench: done");
    return 0;
}
