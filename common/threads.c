/* Thread pool: persistent workers woken per qp_parallel_for, tasks claimed from an atomic
 * counter.  Workers and the caller spin briefly before sleeping, because a network runs
 * hundreds of short kernels back to back and a futex round trip per kernel would dominate. */
#include "qp/threads.h"

#ifdef QP_NO_THREADS
/* The single-thread build of the NBG runtime (exported projects): plain C, no pthreads; every
 * job runs inline on the caller as worker 0, which is what a pool of one thread does. */
int qp_threads_count(void) { return 1; }

void qp_parallel_for(int n_tasks, void (*fn)(void *ctx, int task, int worker), void *ctx)
{
    for (int t = 0; t < n_tasks; t++)
        fn(ctx, t, 0);
}

void qp_threads_set_count(int n) { (void)n; }
void qp_threads_shutdown(void) {}

#else
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#define SPIN_NS 50000 /* how long an idle thread polls before it sleeps */

typedef void (*task_fn)(void *ctx, int task, int worker);

static struct {
    pthread_mutex_t mu;
    pthread_cond_t wake; /* gen changed or stop */
    pthread_cond_t done; /* pending reached 0 */
    pthread_t tid[QP_THREADS_MAX];
    int count;   /* configured worker count, including the caller */
    int started; /* workers running (not counting the caller) */
    int stop;
    int atexit_done;
    unsigned start_gen; /* gen when the workers were created: the first job is the next one */
    /* the current job; written by the caller before gen is bumped, read-only while running */
    task_fn fn;
    void *ctx;
    int n_tasks;
    atomic_uint gen;
    atomic_int next;    /* next task to claim */
    atomic_int pending; /* workers that have not finished the current job */
} pool = {.mu = PTHREAD_MUTEX_INITIALIZER,
          .wake = PTHREAD_COND_INITIALIZER,
          .done = PTHREAD_COND_INITIALIZER};

static pthread_once_t count_once = PTHREAD_ONCE_INIT;

static int clamp_count(long n)
{
    return n < 1 ? 1 : n > QP_THREADS_MAX ? QP_THREADS_MAX : (int)n;
}

static void count_init(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
#ifdef CPU_COUNT
    /* taskset or a container quota may allow fewer CPUs than are online */
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) == 0 && CPU_COUNT(&set) > 0 &&
        CPU_COUNT(&set) < n)
        n = CPU_COUNT(&set);
#endif
    const char *env = getenv("QP_THREADS");
    if (env && *env) {
        char *end;
        long v = strtol(env, &end, 10);
        if (*end == 0)
            n = v;
    }
    pool.count = clamp_count(n);
}

int qp_threads_count(void)
{
    pthread_once(&count_once, count_init);
    return pool.count;
}

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* A bounded wait: glibc before 2.38 can lose a condition-variable wake-up (sourceware bug
 * 25847; Debian 12 ships 2.36) and we saw the pool hang on it, so every sleeper wakes at
 * least every 2 ms to re-check its predicate.  The caller holds pool.mu. */
static void wait_bounded(pthread_cond_t *cv)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_nsec += 2000000;
    if (ts.tv_nsec >= 1000000000) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000;
    }
    pthread_cond_timedwait(cv, &pool.mu, &ts);
}

static void run_tasks(int worker)
{
    for (;;) {
        int t = atomic_fetch_add_explicit(&pool.next, 1, memory_order_relaxed);
        if (t >= pool.n_tasks)
            break;
        pool.fn(pool.ctx, t, worker);
    }
}

static void *worker_main(void *arg)
{
    int id = (int)(intptr_t)arg;
    /* Not the current gen: the caller may publish the first job before this thread runs. */
    unsigned seen = pool.start_gen;
    for (;;) {
        int64_t t0 = now_ns();
        for (int spins = 1;; spins++) {
            if (atomic_load_explicit(&pool.gen, memory_order_acquire) != seen)
                break;
            cpu_relax();
            if ((spins & 63) == 0 && now_ns() - t0 > SPIN_NS) {
                pthread_mutex_lock(&pool.mu);
                while (atomic_load_explicit(&pool.gen, memory_order_acquire) == seen)
                    wait_bounded(&pool.wake);
                pthread_mutex_unlock(&pool.mu);
                break;
            }
        }
        seen = atomic_load_explicit(&pool.gen, memory_order_acquire);
        if (pool.stop)
            break;
        run_tasks(id);
        if (atomic_fetch_sub_explicit(&pool.pending, 1, memory_order_acq_rel) == 1) {
            pthread_mutex_lock(&pool.mu);
            pthread_cond_broadcast(&pool.done);
            pthread_mutex_unlock(&pool.mu);
        }
    }
    return NULL;
}

void qp_threads_shutdown(void)
{
    if (pool.started == 0)
        return;
    pthread_mutex_lock(&pool.mu);
    pool.stop = 1;
    atomic_fetch_add_explicit(&pool.gen, 1, memory_order_release);
    pthread_cond_broadcast(&pool.wake);
    pthread_mutex_unlock(&pool.mu);
    for (int i = 0; i < pool.started; i++)
        pthread_join(pool.tid[i], NULL);
    pool.started = 0;
    pool.stop = 0;
}

/* Starts count - 1 workers; if the system refuses some, the pool runs with those it got
 * (worker ids stay below qp_threads_count(), so scratch sized for it is still enough). */
static void start_workers(int count)
{
    if (!pool.atexit_done) {
        atexit(qp_threads_shutdown);
        pool.atexit_done = 1;
    }
    pool.start_gen = atomic_load(&pool.gen);
    for (int i = 0; i < count - 1; i++) {
        if (pthread_create(&pool.tid[i], NULL, worker_main, (void *)(intptr_t)(i + 1)) != 0)
            break;
        pool.started++;
    }
}

void qp_threads_set_count(int n)
{
    pthread_once(&count_once, count_init);
    qp_threads_shutdown();
    pool.count = clamp_count(n);
}

void qp_parallel_for(int n_tasks, void (*fn)(void *ctx, int task, int worker), void *ctx)
{
    if (n_tasks <= 0)
        return;
    int count = qp_threads_count();
    if (count > 1 && pool.started == 0)
        start_workers(count);
    if (count == 1 || n_tasks == 1 || pool.started == 0) {
        for (int t = 0; t < n_tasks; t++)
            fn(ctx, t, 0);
        return;
    }
    pool.fn = fn;
    pool.ctx = ctx;
    pool.n_tasks = n_tasks;
    atomic_store_explicit(&pool.next, 0, memory_order_relaxed);
    atomic_store_explicit(&pool.pending, pool.started, memory_order_relaxed);
    pthread_mutex_lock(&pool.mu);
    atomic_fetch_add_explicit(&pool.gen, 1, memory_order_release);
    pthread_cond_broadcast(&pool.wake);
    pthread_mutex_unlock(&pool.mu);

    run_tasks(0);

    /* Every worker must leave the job before its fields may be reused. */
    int64_t t0 = now_ns();
    for (int spins = 1; atomic_load_explicit(&pool.pending, memory_order_acquire) != 0; spins++) {
        cpu_relax();
        if ((spins & 63) == 0 && now_ns() - t0 > SPIN_NS) {
            pthread_mutex_lock(&pool.mu);
            while (atomic_load_explicit(&pool.pending, memory_order_acquire) != 0)
                wait_bounded(&pool.done);
            pthread_mutex_unlock(&pool.mu);
            break;
        }
    }
}
#endif
