/*
 * The cld front-end's GraceStart barrier (docs/grace-protocol.md §5.3),
 * through its test seam: a SOCK_SEQPACKET socket at <pipefs>/nfsd/cld
 * plays the kernel.  The final status-0 reply of a GraceStart waits for
 * the barrier; cld_nfsd_starting() says so; cld_release_all() lets it
 * go; a kernel that goes away takes its upcalls with it and fires the
 * stopped hook.
 */
#include <errno.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
#include <cmocka.h>

#include "batch.h"
#include "cld.h"
#include "cld_msg.h"
#include "grace.h"

struct test_ctx {
	struct tevent_context *ev;
	char dir[64];
	int listen_fd;
	int kernel_fd;		/* our end: the "kernel" */
	struct store_context *store;
	struct batch_context *batch;
	struct cld_context *cld;
	bool allow;		/* what the barrier answers */
	unsigned asked;		/* how often it was asked */
	unsigned stopped;	/* stopped hook calls */
};

static bool barrier(uint64_t epoch, void *private_data)
{
	struct test_ctx *t = private_data;

	assert_true(epoch != 0);
	t->asked += 1;
	return t->allow;
}

static void stopped(void *private_data)
{
	struct test_ctx *t = private_data;

	t->stopped += 1;
}

static void hook(const struct grace_op *op, const struct grace_record *g,
		 void *private_data)
{
}

static void tick(struct tevent_context *ev, struct tevent_timer *te,
		 struct timeval now, void *private_data)
{
}

/* Run the event loop for about ms milliseconds */
static void spin_ms(struct test_ctx *t, int ms)
{
	struct timeval end = tevent_timeval_current_ofs(0, ms * 1000);

	for (;;) {
		struct timeval now = tevent_timeval_current();
		TALLOC_CTX *tmp = NULL;

		if (tevent_timeval_compare(&now, &end) >= 0) {
			break;
		}
		/* a fired timer is freed by tevent: free its parent instead */
		tmp = talloc_new(t);
		assert_non_null(tevent_add_timer(
			t->ev, tmp, tevent_timeval_current_ofs(0, 10000), tick,
			NULL));
		assert_int_equal(tevent_loop_once(t->ev), 0);
		talloc_free(tmp);
	}
}

static int setup(void **state)
{
	struct test_ctx *t = talloc_zero(NULL, struct test_ctx);
	struct sockaddr_un sun = {
		.sun_family = AF_UNIX,
	};
	char path[128];

	t->ev = tevent_context_init(t);
	snprintf(t->dir, sizeof(t->dir), "/tmp/cltrack-barrier-XXXXXX");
	assert_non_null(mkdtemp(t->dir));
	snprintf(path, sizeof(path), "%s/nfsd", t->dir);
	assert_int_equal(mkdir(path, 0700), 0);
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s/nfsd/cld", t->dir);
	t->listen_fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	assert_true(t->listen_fd >= 0);
	assert_int_equal(bind(t->listen_fd, (struct sockaddr *)&sun,
			      sizeof(sun)), 0);
	assert_int_equal(listen(t->listen_fd, 4), 0);

	assert_int_equal(store_tdb_init(t, t->ev, t->dir, &t->store), 0);
	assert_int_equal(batch_init(t, t->ev, t->store, 0, &t->batch), 0);
	batch_set_cluster(t->batch, 0, 90);
	assert_int_equal(cld_init(t, t->ev, t->dir, t->store, t->batch,
				  &t->cld), 0);
	cld_set_grace_hook(t->cld, hook, t);
	cld_set_barrier(t->cld, barrier, t);
	cld_set_stopped_hook(t->cld, stopped, t);
	t->kernel_fd = accept(t->listen_fd, NULL, NULL);
	assert_true(t->kernel_fd >= 0);
	spin_ms(t, 20);
	assert_true(cld_get_stats(t->cld)->connected);
	*state = t;
	return 0;
}

static int teardown(void **state)
{
	struct test_ctx *t = *state;
	char cmd[128];

	if (t->kernel_fd != -1) {
		close(t->kernel_fd);
	}
	close(t->listen_fd);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", t->dir);
	talloc_free(t);
	return system(cmd) == 0 ? 0 : -1;
}

static void send_grace_start(struct test_ctx *t, uint32_t xid)
{
	struct cld_msg m = {
		.vers = 2,
		.cmd = CLD_GRACE_START,
		.xid = xid,
	};
	uint8_t buf[CLD_MSG_MAX_SIZE];
	size_t len = cld_msg_push(&m, buf, sizeof(buf));

	assert_true(len > 0);
	assert_int_equal(send(t->kernel_fd, buf, len, 0), (ssize_t)len);
}

/*
 * Read what cltrackd wrote for xid while the loop runs: the count of
 * list records (-EINPROGRESS), and whether the final status 0 came.
 */
static void collect(struct test_ctx *t, uint32_t xid, int ms,
		    unsigned *records, bool *final)
{
	uint8_t buf[CLD_MSG_MAX_SIZE];
	int waited;

	for (waited = 0; waited < ms; waited += 10) {
		struct pollfd pfd = {
			.fd = t->kernel_fd,
			.events = POLLIN,
		};
		spin_ms(t, 10);
		while (poll(&pfd, 1, 0) == 1 && (pfd.revents & POLLIN)) {
			struct cld_msg m;
			ssize_t n = recv(t->kernel_fd, buf, sizeof(buf), 0);

			assert_true(n > 0);
			assert_int_equal(cld_msg_pull(buf, (size_t)n, &m), 0);
			assert_int_equal(m.xid, xid);
			assert_int_equal(m.cmd, CLD_GRACE_START);
			if (m.status == -EINPROGRESS) {
				*records += 1;
			} else {
				assert_int_equal(m.status, 0);
				*final = true;
			}
		}
	}
}

static void test_reply_waits_for_barrier(void **state)
{
	struct test_ctx *t = *state;
	unsigned records = 0;
	bool final = false;

	send_grace_start(t, 7);
	collect(t, 7, 200, &records, &final);
	/* the list (only the sentinel: the store is empty), not the reply */
	assert_int_equal(records, 1);
	assert_false(final);
	assert_true(t->asked >= 1);
	assert_true(cld_reply_held(t->cld));
	assert_true(cld_nfsd_starting(t->cld));
	assert_int_equal(cld_get_stats(t->cld)->held_replies, 1);

	/* asking again while the barrier says no changes nothing */
	cld_barrier_poll(t->cld);
	collect(t, 7, 50, &records, &final);
	assert_false(final);

	t->allow = true;
	cld_barrier_poll(t->cld);
	collect(t, 7, 100, &records, &final);
	assert_true(final);
	assert_int_equal(records, 1);
	assert_false(cld_reply_held(t->cld));
	assert_false(cld_nfsd_starting(t->cld));
	assert_int_equal(t->stopped, 0);
}

static void test_release_all_at_shutdown(void **state)
{
	struct test_ctx *t = *state;
	unsigned records = 0;
	bool final = false;

	send_grace_start(t, 8);
	collect(t, 8, 200, &records, &final);
	assert_false(final);
	cld_release_all(t->cld);
	collect(t, 8, 100, &records, &final);
	assert_true(final);
	assert_false(cld_nfsd_starting(t->cld));
}

/* A kernel that goes away while it waits: its upcall is forgotten */
static void test_kernel_gone_while_held(void **state)
{
	struct test_ctx *t = *state;
	unsigned records = 0;
	bool final = false;

	send_grace_start(t, 9);
	collect(t, 9, 200, &records, &final);
	assert_true(cld_reply_held(t->cld));
	close(t->kernel_fd);
	t->kernel_fd = -1;
	spin_ms(t, 100);
	assert_int_equal(t->stopped, 1);
	/* the seam's socket is still there: cltrackd connects again, to
	   what is a new nfsd, with nothing of the old one's */
	assert_int_equal(cld_get_stats(t->cld)->opens, 2);
	assert_false(cld_reply_held(t->cld));
	assert_false(cld_nfsd_starting(t->cld));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_reply_waits_for_barrier,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_release_all_at_shutdown,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_kernel_gone_while_held,
						setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
