/* The host's clock in a run (logger/ticker.h). */
#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "logger/ticker.h"
#include "util/log.h"
#include "util/time.h"

static uint64_t next_due(const struct ticker *t)
{
	uint64_t next = UINT64_MAX;
	if (t->epoch_ns)
		next = t->next_epoch;
	if (t->progress_ns && t->next_progress < next)
		next = t->next_progress;
	return next;
}

static void *ticker_main(void *arg)
{
	struct ticker *t = arg;
	for (;;) {
		uint64_t now = time_now_ns(), next = next_due(t);
		uint64_t wait = next > now ? next - now : 0;
		struct timespec ts = {.tv_sec = (time_t)(wait / 1000000000u),
				      .tv_nsec = (long)(wait % 1000000000u)};
		struct pollfd p = {.fd = t->stop_fd, .events = POLLIN};
		int r = ppoll(&p, 1, &ts, NULL);
		if (r > 0)
			break; /* ticker_stop */
		if (r < 0 && errno != EINTR)
			break;
		now = time_now_ns();
		unsigned int due = 0;
		if (t->epoch_ns && now >= t->next_epoch) {
			due |= TICK_EPOCH;
			/* On schedule; a tick missed altogether (the vCPU
			 * took longer than an epoch to leave the guest)
			 * makes one epoch longer, not a burst of short ones. */
			t->next_epoch += t->epoch_ns;
			if (t->next_epoch <= now)
				t->next_epoch = now + t->epoch_ns;
		}
		if (t->progress_ns && now >= t->next_progress) {
			due |= TICK_PROGRESS;
			t->next_progress = now + t->progress_ns;
		}
		if (due) {
			__atomic_or_fetch(&t->due, due, __ATOMIC_RELEASE);
			vm_kick(t->vm);
		}
	}
	return NULL;
}

int ticker_start(struct ticker *t, struct vm *vm, uint64_t epoch_ns, uint64_t progress_ns)
{
	memset(t, 0, sizeof(*t));
	t->vm = vm;
	t->epoch_ns = epoch_ns;
	t->progress_ns = progress_ns;
	uint64_t now = time_now_ns();
	t->next_epoch = now + epoch_ns;
	t->next_progress = now + progress_ns;
	t->stop_fd = eventfd(0, EFD_CLOEXEC);
	if (t->stop_fd < 0) {
		int err = -errno;
		log_err("ticker: eventfd: %s", strerror(-err));
		return err;
	}
	int r = pthread_create(&t->thread, NULL, ticker_main, t);
	if (r) {
		log_err("ticker: cannot start its thread: %s", strerror(r));
		close(t->stop_fd);
		t->stop_fd = 0;
		return -r;
	}
	t->running = true;
	return 0;
}

unsigned int ticker_take(struct ticker *t)
{
	return __atomic_exchange_n(&t->due, 0u, __ATOMIC_ACQUIRE);
}

void ticker_stop(struct ticker *t)
{
	if (!t->running)
		return;
	uint64_t one = 1;
	/* An eventfd write of 1 cannot block or fail short of a counter
	 * overflow, which one write per ticker cannot reach. */
	if (write(t->stop_fd, &one, sizeof(one)) != sizeof(one))
		log_err("ticker: cannot stop its thread");
	pthread_join(t->thread, NULL);
	close(t->stop_fd);
	t->running = false;
	t->due = 0;
}
