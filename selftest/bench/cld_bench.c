/*
 * cld_bench: one benchmark run of a cld daemon (cltrackd or nfsdcld
 * through selftest/bench/cldshim.so) against the knfsd emulator.
 *
 *   cld_bench --pipefs DIR --clients N --window W [--inflight LIST]
 *             [--prefix P] [--pid PID]
 *
 * 1. nfsd start (the daemon must be running and watching DIR);
 * 2. fill: N Creates of new clients with 64 upcalls in flight;
 * 3. for each in-flight count in LIST (default 1,8,64): W more Creates;
 * 4. nfsd restart with everything stored: GetVersion + GraceStart, timed
 *    from the GetVersion upcall to the final GraceStart reply (the
 *    reclaim-list time) and from the start call (the daemon's re-open
 *    included);
 * 5. the daemon's VmHWM (peak RSS) when --pid is given.
 *
 * Output: one "key=value ..." line per measurement, for bench.sh.
 * Nothing is asserted on timings; an error reply or a wrong reclaim
 * list size is reported and makes the exit status 1.
 */
#include <errno.h>
#include <popt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "emu.h"

struct bench_trace {
	double first_upcall;	/* GetVersion written */
	double list_done;	/* final GraceStart reply read */
};

static double bench_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int bench_cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a;
	uint64_t y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static void bench_trace_fn(void *private_data, const struct emu_trace *t)
{
	struct bench_trace *bt = private_data;

	if (t->pull_ret != 0 || t->msg == NULL) {
		return;
	}
	if (!t->downcall && t->msg->cmd == CLD_GET_VERSION &&
	    bt->first_upcall == 0) {
		bt->first_upcall = bench_now();
	}
	if (t->downcall && t->msg->cmd == CLD_GRACE_START &&
	    t->msg->status == 0) {
		bt->list_done = bench_now();
	}
}

/*
 * count Creates of clients prefix<first>... with inflight outstanding.
 * Returns the number of error replies, or -1 when the pipe failed.
 */
static long bench_creates(struct emu *emu, const char *phase,
			  const char *prefix, long first, long count,
			  long inflight, long clients)
{
	TALLOC_CTX *tmp_ctx = talloc_new(NULL);
	struct emu_upcall **slots = NULL;
	uint64_t *lat = NULL;
	long issued = 0;
	long completed = 0;
	long errors = 0;
	long i;
	double t0;
	double elapsed;
	struct cld_msg reply;

	slots = talloc_zero_array(tmp_ctx, struct emu_upcall *, inflight);
	lat = talloc_zero_array(tmp_ctx, uint64_t, count);
	if (slots == NULL || lat == NULL) {
		talloc_free(tmp_ctx);
		return -1;
	}
	t0 = bench_now();
	while (completed < count) {
		for (i = 0; i < inflight && issued < count; i++) {
			char id[128];
			struct emu_name name = {};
			int ret;

			if (slots[i] != NULL) {
				continue;
			}
			snprintf(id, sizeof(id), "%s%08ld", prefix,
				 first + issued);
			name.id = (const uint8_t *)id;
			name.id_len = strlen(id);
			ret = emu_create_send(emu, tmp_ctx, &name, &slots[i]);
			issued++;
			if (ret != 0) {
				fprintf(stderr, "create %s: %s\n", id,
					strerror(ret));
				talloc_free(tmp_ctx);
				return -1;
			}
		}
		emu_pump(emu, 100);
		for (i = 0; i < inflight; i++) {
			if (slots[i] == NULL || !emu_upcall_done(slots[i])) {
				continue;
			}
			if (emu_upcall_result(slots[i], &reply) != 0 ||
			    reply.status != 0) {
				errors++;
			}
			lat[completed++] = emu_upcall_latency_us(slots[i]);
			TALLOC_FREE(slots[i]);
		}
	}
	elapsed = bench_now() - t0;
	qsort(lat, (size_t)count, sizeof(lat[0]), bench_cmp_u64);
	printf("%s clients=%ld inflight=%ld ops=%ld seconds=%.3f "
	       "creates_s=%.1f p50_ms=%.3f p99_ms=%.3f errors=%ld\n",
	       phase, clients, inflight, count, elapsed,
	       (double)count / elapsed, lat[(count - 1) * 50 / 100] / 1000.0,
	       lat[(count - 1) * 99 / 100] / 1000.0, errors);
	fflush(stdout);
	talloc_free(tmp_ctx);
	return errors;
}

static long bench_vmhwm_kb(long pid)
{
	char path[64];
	char line[256];
	long kb = -1;
	FILE *f = NULL;

	snprintf(path, sizeof(path), "/proc/%ld/status", pid);
	f = fopen(path, "r");
	if (f == NULL) {
		return -1;
	}
	while (fgets(line, sizeof(line), f) != NULL) {
		if (sscanf(line, "VmHWM: %ld kB", &kb) == 1) {
			break;
		}
	}
	fclose(f);
	return kb;
}

int main(int argc, const char **argv)
{
	TALLOC_CTX *mem_ctx = talloc_new(NULL);
	struct emu_opts opts;
	struct emu *emu = NULL;
	struct bench_trace bt = {};
	char *pipefs = NULL;
	char *prefix = NULL;
	char *inflight_list = NULL;
	long clients = 1000;
	long window = 1000;
	long pid = 0;
	long next = 0;
	long bad = 0;
	double t0;
	double t_started;
	size_t listed;
	poptContext pc;
	char *tok = NULL;
	char *save = NULL;
	int opt;
	int ret;
	struct poptOption options[] = {
		POPT_AUTOHELP
		{ "pipefs", 0, POPT_ARG_STRING, &pipefs, 0,
		  "rpc_pipefs directory", "DIR" },
		{ "clients", 0, POPT_ARG_LONG, &clients, 0,
		  "clients stored before the windows and the restart", "N" },
		{ "window", 0, POPT_ARG_LONG, &window, 0,
		  "Creates per in-flight window (0: none)", "W" },
		{ "inflight", 0, POPT_ARG_STRING, &inflight_list, 0,
		  "in-flight counts of the windows", "1,8,64" },
		{ "prefix", 0, POPT_ARG_STRING, &prefix, 0,
		  "client id prefix", "P" },
		{ "pid", 0, POPT_ARG_LONG, &pid, 0,
		  "the daemon's pid, for its VmHWM", "PID" },
		POPT_TABLEEND
	};

	setvbuf(stdout, NULL, _IOLBF, 0);
	pc = poptGetContext("cld_bench", argc, argv, options, 0);
	while ((opt = poptGetNextOpt(pc)) > 0) {
	}
	if (opt < -1 || pipefs == NULL || clients <= 0 || window < 0) {
		poptPrintUsage(pc, stderr, 0);
		ret = 2;
		goto done;
	}
	if (prefix == NULL) {
		prefix = "Linux NFSv4.2 bench-";
	}

	emu_opts_init(&opts);
	opts.pipefs_dir = pipefs;
	opts.opener_wait_ms = 5000;
	opts.hang_ms = 120000;
	ret = emu_init(mem_ctx, &opts, &emu);
	if (ret != 0) {
		fprintf(stderr, "emu_init: %s\n", strerror(ret));
		ret = 1;
		goto done;
	}
	ret = emu_nfsd_start(emu);
	if (ret != 0) {
		fprintf(stderr, "nfsd start: %s\n", strerror(ret));
		ret = 1;
		goto done;
	}

	/* the fill doubles as the 64-in-flight figure at this size */
	if (bench_creates(emu, "fill", prefix, next, clients, 64,
			  clients) != 0) {
		bad++;
	}
	next += clients;

	tok = talloc_strdup(mem_ctx, inflight_list ? inflight_list : "1,8,64");
	for (tok = strtok_r(tok, ",", &save); window > 0 && tok != NULL;
	     tok = strtok_r(NULL, ",", &save)) {
		long k = atol(tok);

		if (k <= 0) {
			continue;
		}
		if (bench_creates(emu, "window", prefix, next, window, k,
				  clients) != 0) {
			bad++;
		}
		next += window;
	}

	emu_nfsd_stop(emu);
	emu_set_trace(emu, bench_trace_fn, &bt);
	t0 = bench_now();
	ret = emu_nfsd_start(emu);
	t_started = bench_now();
	emu_set_trace(emu, NULL, NULL);
	listed = emu_reclaim_count(emu);
	if (ret != 0 || bt.first_upcall == 0 || bt.list_done == 0) {
		fprintf(stderr, "nfsd restart: %s\n", strerror(ret));
		bad++;
	}
	printf("gracestart clients=%ld records=%zu stored=%ld list_ms=%.3f "
	       "start_ms=%.3f\n", clients, listed, next,
	       (bt.list_done - bt.first_upcall) * 1000.0,
	       (t_started - t0) * 1000.0);
	if ((long)listed != next) {
		fprintf(stderr, "reclaim list has %zu records, %ld stored\n",
			listed, next);
		bad++;
	}
	if (pid > 0) {
		printf("rss clients=%ld stored=%ld vmhwm_kb=%ld\n", clients,
		       next, bench_vmhwm_kb(pid));
	}
	ret = bad > 0 ? 1 : 0;
done:
	poptFreeContext(pc);
	talloc_free(mem_ctx);
	return ret;
}
