/* Thread pool: one process-wide pool of persistent workers that this module owns, starts on
 * first use and joins at exit; callers own the task context and everything it points to. */
#ifndef QP_THREADS_H
#define QP_THREADS_H

#define QP_THREADS_MAX 64

/* Worker count: QP_THREADS if set (read once), else the CPUs this process may run on;
 * clamped to [1, QP_THREADS_MAX].  Size per-worker scratch with it. */
int qp_threads_count(void);

/* Runs fn(ctx, task, worker) for every task in [0, n_tasks) and returns when all are done.
 * worker is in [0, qp_threads_count()) and unique among concurrently running tasks, so it can
 * index per-worker scratch; the caller runs tasks too (as worker 0).  With one thread or one
 * task everything runs inline.  Which worker runs which task is not fixed: for results that
 * do not depend on the thread count, split work into tasks by problem size only and never
 * share one output's reduction between tasks.  Call from one thread at a time, not nested.
 * Idle workers poll for about 50 us after a job before sleeping, so back-to-back kernels do
 * not pay a futex wake-up each. */
void qp_parallel_for(int n_tasks, void (*fn)(void *ctx, int task, int worker), void *ctx);

/* For tests and benchmarks: change the worker count (clamped to [1, QP_THREADS_MAX]); the
 * pool restarts with it on the next qp_parallel_for. */
void qp_threads_set_count(int n);

/* Joins the workers (registered with atexit on first start; safe to call more than once). */
void qp_threads_shutdown(void);

#endif
