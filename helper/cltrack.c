/*
 * cltrack: the administrator's view of cltrackd.
 *
 *   cltrack [--socket PATH] [--json] status
 *   cltrack [--socket PATH] [--json] list [--reclaimable] [--epoch N]
 *   cltrack [--socket PATH] [--json] stats
 *   cltrack [--socket PATH] [--json] import SOURCE PATH [--dry-run]
 *   cltrack [--socket PATH] export [--json]
 */
#include <errno.h>
#include <jansson.h>
#include <popt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cltrack/client.h"
#include "import.h"

struct cli {
	const char *socket;
	bool json;
	struct cltrack_client *client;
};

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: cltrack [OPTIONS] COMMAND [ARGS]\n"
		"\n"
		"Commands:\n"
		"  status               epochs, grace state, record counts and "
		"counters\n"
		"  list [--reclaimable] [--epoch N] [--node PNN]\n"
		"                       client records\n"
		"  stats                counters only\n"
		"  import nfsdcld FILE|DIR [--dry-run]\n"
		"  import nfsdcltrack FILE|DIR [--dry-run]\n"
		"  import v4recovery DIR [--dry-run]\n"
		"                       store the clients an old tracker would "
		"let reclaim\n"
		"                       (one transaction; ids already stored "
		"are kept)\n"
		"  export [--json]      every record and the epochs, as JSON\n"
		"  ping                 succeed when cltrackd is up and "
		"serving\n"
		"  members              cluster: grace members, their flags and "
		"CTDB state\n"
		"  grace start          cluster: start or join a cluster grace\n"
		"  grace lift [--force] cluster, on the leader: end the grace "
		"(--force:\n"
		"                       even before every client reclaimed; "
		"logged)\n"
		"  event EVENT [ARGS]   the CTDB event script's hook: takeip|"
		"releaseip\n"
		"                       IFACE IP BITS, ipreallocated, recovered, "
		"monitor\n"
		"\n"
		"List filters:\n"
		"  --reclaimable        only clients allowed to reclaim in the "
		"running grace\n"
		"  --epoch N            only records of epoch N (N >= 1)\n"
		"  --node PNN           only records created through node PNN\n"
		"\n"
		"Options:\n"
		"  -s, --socket PATH    cltrackd's control socket (default "
		CLTRACK_DEFAULT_SOCKET ")\n"
		"  -j, --json           print JSON\n"
		"  -h, --help           this text\n"
		"\n"
		"cltrack talks to a running cltrackd and must run as root.\n"
		"See cltrack(8).\n");
}

static bool id_printable(const uint8_t *id, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++) {
		if (id[i] < 0x20 || id[i] > 0x7e) {
			return false;
		}
	}
	return true;
}

static char *hex(TALLOC_CTX *mem_ctx, const uint8_t *p, size_t len)
{
	char *s = talloc_array(mem_ctx, char, len * 2 + 1);
	size_t i;

	if (s == NULL) {
		return NULL;
	}
	for (i = 0; i < len; i++) {
		snprintf(s + 2 * i, 3, "%02x", p[i]);
	}
	s[len * 2] = '\0';
	return s;
}

static char *id_text(TALLOC_CTX *mem_ctx, const struct cltrack_entry *e)
{
	if (id_printable(e->id, e->idlen)) {
		return talloc_strndup(mem_ctx, (const char *)e->id, e->idlen);
	}
	return talloc_asprintf(mem_ctx, "hex:%s", hex(mem_ctx, e->id,
						      e->idlen));
}

static const char *time_text(TALLOC_CTX *mem_ctx, uint64_t t)
{
	struct tm tm;
	time_t tt = (time_t)t;
	char buf[32];

	if (t == 0) {
		return "-";
	}
	localtime_r(&tt, &tm);
	strftime(buf, sizeof(buf), "%Y-%m-%d %H:%M:%S", &tm);
	return talloc_strdup(mem_ctx, buf);
}

static int print_json(json_t *j)
{
	char *s = json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER);

	json_decref(j);
	if (s == NULL) {
		return ENOMEM;
	}
	printf("%s\n", s);
	free(s);
	return 0;
}

static int print_kv(struct cli *cli, const struct cltrack_kv *kv, uint32_t n)
{
	uint32_t i;

	if (cli->json) {
		json_t *j = json_object();

		for (i = 0; i < n; i++) {
			json_object_set_new(j, kv[i].name,
				kv[i].type == CLTRACK_KV_U64 ?
				json_integer((json_int_t)kv[i].u64) :
				json_string(kv[i].str));
		}
		return print_json(j);
	}
	for (i = 0; i < n; i++) {
		if (kv[i].type == CLTRACK_KV_U64) {
			printf("%-24s %llu\n", kv[i].name,
			       (unsigned long long)kv[i].u64);
		} else {
			printf("%-24s %s\n", kv[i].name, kv[i].str);
		}
	}
	return 0;
}

static const struct cltrack_kv *kv_find(const struct cltrack_kv *kv,
					uint32_t n, const char *name)
{
	uint32_t i;

	for (i = 0; i < n; i++) {
		if (strcmp(kv[i].name, name) == 0) {
			return &kv[i];
		}
	}
	return NULL;
}

static uint64_t kv_u64(const struct cltrack_kv *kv, uint32_t n,
		       const char *name)
{
	const struct cltrack_kv *k = kv_find(kv, n, name);

	return (k != NULL && k->type == CLTRACK_KV_U64) ? k->u64 : 0;
}

/* The cluster part of "cltrack status": leader, members, safety */
static void print_cluster_summary(TALLOC_CTX *mem_ctx,
				  const struct cltrack_kv *kv, uint32_t n)
{
	const struct cltrack_kv *mode = kv_find(kv, n, "mode");
	const struct cltrack_kv *leader = kv_find(kv, n, "leader");
	uint64_t deadline = kv_u64(kv, n, "grace_deadline");
	uint32_t i;

	if (mode == NULL || mode->type != CLTRACK_KV_STR ||
	    strcmp(mode->str, "cluster") != 0) {
		return;
	}
	/* The PNN is 0xFFFFFFFF (CTDB_UNKNOWN_PNN) until ctdbd answers */
	printf("Cluster: node %s, leader %s, ctdbd %s\n",
	       kv_u64(kv, n, "pnn") == 0xFFFFFFFFULL ? "unknown" :
	       talloc_asprintf(mem_ctx, "%llu",
			       (unsigned long long)kv_u64(kv, n, "pnn")),
	       leader == NULL ? "?" : leader->type == CLTRACK_KV_U64 ?
	       talloc_asprintf(mem_ctx, "%llu",
			       (unsigned long long)leader->u64) : leader->str,
	       kv_u64(kv, n, "ctdb_connected") ? "connected" :
	       "NOT connected");
	if (deadline != 0) {
		printf("Deadline: %s (the leader lifts then, or earlier when "
		       "every client reclaimed)\n", time_text(mem_ctx, deadline));
	}
	for (i = 0; i < n; i++) {
		if (strncmp(kv[i].name, "member_", 7) == 0 &&
		    kv[i].type == CLTRACK_KV_STR) {
			printf("Member:  node %s %s\n", kv[i].name + 7,
			       kv[i].str);
		}
	}
	printf("Safety:  %llu events (kernel left grace early %llu, "
	       "non-leader lift %llu, lift past a node %llu)\n",
	       (unsigned long long)kv_u64(kv, n, "safety_events"),
	       (unsigned long long)kv_u64(kv, n, "safety_early_kernel_end"),
	       (unsigned long long)kv_u64(kv, n, "safety_nonleader_lift"),
	       (unsigned long long)kv_u64(kv, n, "safety_lift_without_node"));
}

static int cmd_status(struct cli *cli, TALLOC_CTX *mem_ctx, bool stats)
{
	struct cltrack_kv *kv = NULL;
	uint32_t n = 0;
	int ret;

	if (stats) {
		ret = cltrack_stats(cli->client, mem_ctx, &kv, &n);
	} else {
		ret = cltrack_status(cli->client, mem_ctx, &kv, &n);
	}
	if (ret != 0) {
		fprintf(stderr, "cltrack: %s failed: %s\n",
			stats ? "stats" : "status", cltrack_strerror(ret));
		return ret;
	}
	if (!stats && !cli->json) {
		uint64_t r = kv_u64(kv, n, "recovery_epoch");

		printf("Grace:   %s\n", r != 0 ?
		       talloc_asprintf(mem_ctx, "IN GRACE since %s, clients "
				       "of epoch %llu may reclaim",
				       time_text(mem_ctx, kv_u64(kv, n,
						 "grace_start_time")),
				       (unsigned long long)r) :
		       "not in grace");
		printf("Epochs:  current %llu, recovery %llu\n",
		       (unsigned long long)kv_u64(kv, n, "current_epoch"),
		       (unsigned long long)r);
		printf("Records: %llu (%llu reclaimable, %llu unreadable)\n",
		       (unsigned long long)kv_u64(kv, n, "records"),
		       (unsigned long long)kv_u64(kv, n,
						  "records_reclaimable"),
		       (unsigned long long)kv_u64(kv, n,
						  "records_unreadable"));
		if (kv_find(kv, n, "store_available") != NULL &&
		    !kv_u64(kv, n, "store_available")) {
			printf("Store:   NOT AVAILABLE (in CTDB mode: is ctdbd "
			       "running? see cltrackd's log)\n");
		}
		printf("Kernel:  %s\n", !kv_u64(kv, n, "kernel_connected") ?
		       "cld pipe NOT open (is nfsd running?)" :
		       kv_u64(kv, n, "kernel_reply_held") ?
		       "cld pipe open; nfsd waits at start until every node "
		       "enforces the cluster grace (see cltrack members)" :
		       "cld pipe open");
		print_cluster_summary(mem_ctx, kv, n);
		printf("\n");
	}
	return print_kv(cli, kv, n);
}

static json_t *entry_json(TALLOC_CTX *mem_ctx, const struct cltrack_entry *e)
{
	json_t *o = json_object();

	json_object_set_new(o, "id", id_printable(e->id, e->idlen) ?
			    json_stringn((const char *)e->id, e->idlen) :
			    json_null());
	json_object_set_new(o, "id_hex", json_string(hex(mem_ctx, e->id,
							 e->idlen)));
	json_object_set_new(o, "epoch", json_integer(e->epoch));
	json_object_set_new(o, "prev_epoch", json_integer(e->prev_epoch));
	json_object_set_new(o, "pnn", json_integer(e->pnn));
	json_object_set_new(o, "princhash", e->princhash_len ?
			    json_string(hex(mem_ctx, e->princhash,
					    e->princhash_len)) : json_null());
	json_object_set_new(o, "created", json_integer(e->created));
	json_object_set_new(o, "session",
			    json_boolean(e->flags & CLTRACK_F_SESSION));
	json_object_set_new(o, "legacy",
			    json_boolean(e->flags & CLTRACK_F_LEGACY));
	json_object_set_new(o, "address", e->addr_len ?
			    json_string(e->addr) : json_null());
	return o;
}

static int cmd_list(struct cli *cli, TALLOC_CTX *mem_ctx, int argc,
		    const char **argv)
{
	struct cltrack_list_filter filter = {
		.pnn = CLTRACK_PNN_ANY,
	};
	struct cltrack_entry *e = NULL;
	size_t n = 0, i;
	int i_arg;
	int ret;

	for (i_arg = 0; i_arg < argc; i_arg++) {
		char *end = NULL;

		if (strcmp(argv[i_arg], "--reclaimable") == 0) {
			filter.flags |= CLTRACK_LIST_RECLAIMABLE;
		} else if (strcmp(argv[i_arg], "--json") == 0) {
			cli->json = true;
		} else if ((strcmp(argv[i_arg], "--epoch") == 0 ||
			    strcmp(argv[i_arg], "--node") == 0) &&
			   i_arg + 1 < argc) {
			unsigned long long v = strtoull(argv[i_arg + 1], &end,
							10);
			if (end == argv[i_arg + 1] || *end != '\0' ||
			    argv[i_arg + 1][0] == '-') {
				fprintf(stderr, "cltrack: %s needs a number\n",
					argv[i_arg]);
				return EINVAL;
			}
			if (argv[i_arg][2] == 'e' && v == 0) {
				fprintf(stderr, "cltrack: --epoch: epochs "
					"start at 1\n");
				return EINVAL;
			}
			if (argv[i_arg][2] == 'n' && v >= CLTRACK_PNN_ANY) {
				fprintf(stderr, "cltrack: --node: %s is not a "
					"node number\n", argv[i_arg + 1]);
				return EINVAL;
			}
			if (argv[i_arg][2] == 'e') {
				filter.epoch = v;
			} else {
				filter.pnn = (uint32_t)v;
			}
			i_arg++;
		} else if (strcmp(argv[i_arg], "--epoch") == 0 ||
			   strcmp(argv[i_arg], "--node") == 0) {
			fprintf(stderr, "cltrack: %s needs a number\n",
				argv[i_arg]);
			return EINVAL;
		} else {
			fprintf(stderr, "cltrack: list: unknown argument "
				"\"%s\"\nTry 'cltrack --help'.\n", argv[i_arg]);
			return EINVAL;
		}
	}

	ret = cltrack_list(cli->client, mem_ctx, &filter, &e, &n);
	if (ret != 0) {
		fprintf(stderr, "cltrack: list failed: %s\n",
			cltrack_strerror(ret));
		return ret;
	}

	if (cli->json) {
		json_t *arr = json_array();

		for (i = 0; i < n; i++) {
			json_array_append_new(arr, entry_json(mem_ctx, &e[i]));
		}
		return print_json(arr);
	}

	printf("%-40s %6s %6s %4s %-10s %s\n", "CLIENT", "EPOCH", "PREV",
	       "NODE", "PRINCHASH", "CREATED");
	for (i = 0; i < n; i++) {
		printf("%-40s %6llu %6llu %4u %-10s %s\n",
		       id_text(mem_ctx, &e[i]),
		       (unsigned long long)e[i].epoch,
		       (unsigned long long)e[i].prev_epoch, e[i].pnn,
		       e[i].princhash_len ?
		       talloc_asprintf(mem_ctx, "%.8s..", hex(mem_ctx,
				       e[i].princhash, 4)) : "-",
		       time_text(mem_ctx, e[i].created));
	}
	printf("%zu client%s\n", n, n == 1 ? "" : "s");
	return 0;
}

static void import_report_text(const struct import_result *res)
{
	printf("Source:   %s (%s)\n", res->format, res->path);
	printf("Read:     %llu %s, %zu clients to import\n",
	       (unsigned long long)res->rows,
	       strcmp(res->format, "v4recovery directory") == 0 ?
	       "entries" : "rows", res->n);
	if (res->skipped_empty + res->skipped_long + res->skipped_entries) {
		printf("Skipped:  %llu NULL or empty ids, %llu ids longer than "
		       "%d bytes, %llu entries that are not 32-hex "
		       "directories%s%s%s\n",
		       (unsigned long long)res->skipped_empty,
		       (unsigned long long)res->skipped_long, CLTRACK_ID_MAX,
		       (unsigned long long)res->skipped_entries,
		       res->skipped_example != NULL ? " (e.g. \"" : "",
		       res->skipped_example != NULL ? res->skipped_example :
		       "", res->skipped_example != NULL ? "\")" : "");
	}
	if (res->dropped_princhash > 0) {
		printf("Dropped:  %llu principal hashes that were not %d bytes "
		       "(their clients are imported without one)\n",
		       (unsigned long long)res->dropped_princhash,
		       CLTRACK_PRINCHASH_SIZE);
	}
}

/* How many of the ids to import are already stored (for --dry-run) */
static int count_present(struct cli *cli, TALLOC_CTX *mem_ctx,
			 const struct import_result *res, uint64_t *present)
{
	struct cltrack_entry *e = NULL;
	size_t n = 0, i, j;
	int ret;

	ret = cltrack_list(cli->client, mem_ctx, NULL, &e, &n);
	if (ret != 0) {
		return ret;
	}
	*present = 0;
	for (i = 0; i < res->n; i++) {
		for (j = 0; j < n; j++) {
			if (e[j].idlen == res->ops[i].idlen &&
			    memcmp(e[j].id, res->ops[i].id, e[j].idlen) == 0) {
				*present += 1;
				break;
			}
		}
	}
	talloc_free(e);
	return 0;
}

static int cmd_import(struct cli *cli, TALLOC_CTX *mem_ctx, int argc,
		      const char **argv)
{
	enum import_source src;
	struct import_result *res = NULL;
	const char *source = NULL, *path = NULL;
	char *errmsg = NULL;
	bool dry_run = false;
	uint64_t stored = 0, present = 0;
	int i;
	int ret;

	for (i = 0; i < argc; i++) {
		if (strcmp(argv[i], "--dry-run") == 0 ||
		    strcmp(argv[i], "-n") == 0) {
			dry_run = true;
		} else if (strcmp(argv[i], "--json") == 0) {
			cli->json = true;
		} else if (source == NULL) {
			source = argv[i];
		} else if (path == NULL) {
			path = argv[i];
		} else {
			fprintf(stderr, "cltrack: import: unexpected argument "
				"\"%s\"\n", argv[i]);
			return EINVAL;
		}
	}
	if (source == NULL || path == NULL ||
	    import_source_parse(source, &src) != 0) {
		fprintf(stderr, "cltrack: import needs a source (nfsdcld, "
			"nfsdcltrack or v4recovery) and a path\nTry 'cltrack "
			"--help'.\n");
		return EINVAL;
	}

	/* Everything is read and checked before anything is stored */
	ret = import_read(mem_ctx, src, path, &res, &errmsg);
	if (ret != 0) {
		fprintf(stderr, "cltrack: import: %s\nNothing was "
			"imported.\n", errmsg != NULL ? errmsg :
			strerror(ret));
		return ret;
	}
	if (cli->client == NULL) {
		ret = cltrack_connect(mem_ctx, cli->socket, 0, &cli->client);
		if (ret != 0) {
			fprintf(stderr, "cltrack: cannot connect to %s: %s\n",
				cli->socket != NULL ? cli->socket :
				CLTRACK_DEFAULT_SOCKET, cltrack_strerror(ret));
			if (!dry_run) {
				fprintf(stderr, "Nothing was imported.\n");
				return ret;
			}
		}
	}
	if (dry_run) {
		if (cli->client != NULL) {
			ret = count_present(cli, mem_ctx, res, &present);
			if (ret != 0) {
				fprintf(stderr, "cltrack: list failed: %s\n",
					cltrack_strerror(ret));
				return ret;
			}
		}
		stored = res->n - present;
	} else {
		ret = cltrack_import(cli->client, res->ops, res->n, &stored,
				     &present);
		if (ret != 0) {
			fprintf(stderr, "cltrack: import into cltrackd failed: "
				"%s\nNothing was imported.\n",
				cltrack_strerror(ret));
			return ret;
		}
	}

	if (cli->json) {
		json_t *o = json_object();

		json_object_set_new(o, "source", json_string(res->format));
		json_object_set_new(o, "path", json_string(res->path));
		json_object_set_new(o, "dry_run", json_boolean(dry_run));
		json_object_set_new(o, "rows", json_integer(res->rows));
		json_object_set_new(o, "clients", json_integer(res->n));
		json_object_set_new(o, "skipped_empty",
				    json_integer(res->skipped_empty));
		json_object_set_new(o, "skipped_long",
				    json_integer(res->skipped_long));
		json_object_set_new(o, "skipped_entries",
				    json_integer(res->skipped_entries));
		json_object_set_new(o, "dropped_princhash",
				    json_integer(res->dropped_princhash));
		json_object_set_new(o, "stored", json_integer(stored));
		json_object_set_new(o, "present",
				    cli->client != NULL ?
				    json_integer(present) : json_null());
		return print_json(o);
	}
	import_report_text(res);
	if (dry_run) {
		if (cli->client != NULL) {
			printf("Dry run:  would store %llu new, %llu already "
			       "present; nothing was changed\n",
			       (unsigned long long)stored,
			       (unsigned long long)present);
		} else {
			printf("Dry run:  cltrackd not reachable, so not "
			       "compared with its records; nothing was "
			       "changed\n");
		}
	} else {
		printf("Imported: %llu new, %llu already present\n",
		       (unsigned long long)stored,
		       (unsigned long long)present);
	}
	return 0;
}

static int cmd_export(struct cli *cli, TALLOC_CTX *mem_ctx, int argc,
		      const char **argv)
{
	struct cltrack_entry *e = NULL;
	struct cltrack_kv *kv = NULL;
	json_t *o = NULL, *arr = NULL;
	uint32_t nkv = 0;
	size_t n = 0, i;
	int ret;

	for (i = 0; i < (size_t)argc; i++) {
		if (strcmp(argv[i], "--json") != 0) {
			fprintf(stderr, "cltrack: export: unknown argument "
				"\"%s\" (export writes JSON)\n", argv[i]);
			return EINVAL;
		}
	}
	ret = cltrack_status(cli->client, mem_ctx, &kv, &nkv);
	if (ret == 0) {
		ret = cltrack_list(cli->client, mem_ctx, NULL, &e, &n);
	}
	if (ret != 0) {
		fprintf(stderr, "cltrack: export failed: %s\n",
			cltrack_strerror(ret));
		return ret;
	}
	o = json_object();
	arr = json_array();
	json_object_set_new(o, "format", json_string("cltrack-export"));
	json_object_set_new(o, "version", json_integer(1));
	json_object_set_new(o, "exported", json_integer((json_int_t)
							time(NULL)));
	json_object_set_new(o, "current_epoch",
			    json_integer(kv_u64(kv, nkv, "current_epoch")));
	json_object_set_new(o, "recovery_epoch",
			    json_integer(kv_u64(kv, nkv, "recovery_epoch")));
	for (i = 0; i < n; i++) {
		json_array_append_new(arr, entry_json(mem_ctx, &e[i]));
	}
	json_object_set_new(o, "clients", arr);
	return print_json(o);
}

static int cmd_status_main(struct cli *cli, TALLOC_CTX *mem_ctx, int argc,
			   const char **argv)
{
	return cmd_status(cli, mem_ctx, false);
}

static int cmd_stats(struct cli *cli, TALLOC_CTX *mem_ctx, int argc,
		     const char **argv)
{
	return cmd_status(cli, mem_ctx, true);
}

static int cmd_ping(struct cli *cli, TALLOC_CTX *mem_ctx, int argc,
		    const char **argv)
{
	int ret = cltrack_ping(cli->client);

	if (ret != 0) {
		fprintf(stderr, "cltrack: ping failed: %s\n",
			cltrack_strerror(ret));
		return ret;
	}
	if (!cli->json) {
		printf("cltrackd is up\n");
	}
	return 0;
}

/* cltrack members: the grace record's member entries, from status */
static int cmd_members(struct cli *cli, TALLOC_CTX *mem_ctx, int argc,
		       const char **argv)
{
	struct cltrack_kv *kv = NULL;
	uint32_t n = 0, i;
	json_t *o = NULL;
	int ret;

	ret = cltrack_status(cli->client, mem_ctx, &kv, &n);
	if (ret != 0) {
		fprintf(stderr, "cltrack: members failed: %s\n",
			cltrack_strerror(ret));
		return ret;
	}
	if (cli->json) {
		o = json_object();
	} else {
		printf("%-6s %s\n", "NODE", "GRACE FLAGS AND CTDB STATE");
	}
	for (i = 0; i < n; i++) {
		if (strncmp(kv[i].name, "member_", 7) != 0 ||
		    kv[i].type != CLTRACK_KV_STR) {
			continue;
		}
		if (o != NULL) {
			json_object_set_new(o, kv[i].name + 7,
					    json_string(kv[i].str));
		} else {
			printf("%-6s %s\n", kv[i].name + 7, kv[i].str);
		}
	}
	if (o != NULL) {
		return print_json(o);
	}
	return 0;
}

static const char *grace_error(int err)
{
	switch (err) {
	case EPERM:
		return "refused: only the CTDB leader lifts the grace (see "
		       "'cltrack status' for the leader; this attempt is "
		       "counted as a safety event)";
	case EAGAIN:
		return "not yet: some active node is not enforcing the grace, "
		       "or clients may still reclaim before the deadline (use "
		       "--force on the leader to lift anyway)";
	case EOPNOTSUPP:
		return "not available on a single host (cltrackd is not in "
		       "CTDB mode)";
	default:
		return cltrack_strerror(err);
	}
}

/* cltrack grace start | lift [--force] */
static int cmd_grace(struct cli *cli, TALLOC_CTX *mem_ctx, int argc,
		     const char **argv)
{
	bool force = false;
	int ret;

	if (argc >= 1 && strcmp(argv[0], "start") == 0 && argc == 1) {
		ret = cltrack_grace_start(cli->client);
	} else if (argc >= 1 && strcmp(argv[0], "lift") == 0 &&
		   (argc == 1 || (argc == 2 &&
				  strcmp(argv[1], "--force") == 0))) {
		force = (argc == 2);
		ret = cltrack_grace_lift(cli->client, force);
	} else {
		fprintf(stderr, "Usage: cltrack grace start | lift [--force]\n");
		return EINVAL;
	}
	if (ret != 0) {
		fprintf(stderr, "cltrack: grace %s: %s\n", argv[0],
			grace_error(ret));
		return ret;
	}
	return 0;
}

/* cltrack event EVENT [ARGS]: the CTDB event script's hook */
static int cmd_event(struct cli *cli, TALLOC_CTX *mem_ctx, int argc,
		     const char **argv)
{
	static const struct {
		const char *name;
		uint8_t event;
		int nargs;	/* CTDB's arguments after the event name */
	} events[] = {
		{ "takeip", CLTRACK_EVENT_TAKEIP, 3 },
		{ "releaseip", CLTRACK_EVENT_RELEASEIP, 3 },
		{ "ipreallocated", CLTRACK_EVENT_IPREALLOCATED, 0 },
		{ "recovered", CLTRACK_EVENT_RECOVERED, 0 },
		{ "monitor", CLTRACK_EVENT_MONITOR, 0 },
	};
	size_t i;
	int ret;

	for (i = 0; argc >= 1 && i < sizeof(events) / sizeof(events[0]);
	     i++) {
		if (strcmp(argv[0], events[i].name) == 0) {
			break;
		}
	}
	if (argc < 1 || i == sizeof(events) / sizeof(events[0]) ||
	    argc != 1 + events[i].nargs) {
		fprintf(stderr, "Usage: cltrack event takeip|releaseip IFACE "
			"IP MASKBITS | ipreallocated | recovered | monitor\n");
		return EINVAL;
	}
	ret = cltrack_event(cli->client, events[i].event,
			    events[i].nargs == 3 ? argv[2] : NULL);
	if (ret == 0) {
		return 0;
	}
	if (events[i].event == CLTRACK_EVENT_MONITOR) {
		fprintf(stderr, "cltrack: this node is unhealthy: %s\n",
			ret == ENOTCONN ? "cltrackd is not connected to ctdbd" :
			ret == ETIMEDOUT ? "nfsd did not enter the cluster "
			"grace in time; check the [nfsd] restart command and "
			"cltrackd's log" : cltrack_strerror(ret));
	} else {
		fprintf(stderr, "cltrack: event %s failed: %s\n", argv[0],
			grace_error(ret));
	}
	return ret;
}

static const struct {
	const char *name;
	int (*fn)(struct cli *cli, TALLOC_CTX *mem_ctx, int argc,
		  const char **argv);
} commands[] = {
	{ "status", cmd_status_main },
	{ "stats", cmd_stats },
	{ "list", cmd_list },
	{ "export", cmd_export },
	{ "ping", cmd_ping },
	{ "members", cmd_members },
	{ "grace", cmd_grace },
	{ "event", cmd_event },
};

int main(int argc, const char *argv[])
{
	TALLOC_CTX *mem_ctx = talloc_new(NULL);
	struct cli cli = {
		.socket = getenv("CLTRACK_SOCKET"),
	};
	char *opt_socket = NULL;
	int opt_json = 0;
	int opt_help = 0;
	struct poptOption options[] = {
		{ "socket", 's', POPT_ARG_STRING, &opt_socket, 0, NULL, NULL },
		{ "json", 'j', POPT_ARG_NONE, &opt_json, 0, NULL, NULL },
		{ "help", 'h', POPT_ARG_NONE, &opt_help, 0, NULL, NULL },
		POPT_TABLEEND
	};
	const char **args = NULL;
	const char *cmd = NULL;
	poptContext pc;
	const char **cmd_args = NULL;
	size_t c;
	int i, ncmd = 0;
	int nargs = 0;
	int opt;
	int ret = EINVAL;

	pc = poptGetContext("cltrack", argc, argv, options,
			    POPT_CONTEXT_POSIXMEHARDER);
	while ((opt = poptGetNextOpt(pc)) >= 0) {
	}
	if (opt < -1) {
		fprintf(stderr, "cltrack: %s: %s\nTry 'cltrack --help'.\n",
			poptBadOption(pc, POPT_BADOPTION_NOALIAS),
			poptStrerror(opt));
		goto done;
	}
	if (opt_help) {
		usage(stdout);
		ret = 0;
		goto done;
	}
	args = poptGetArgs(pc);
	for (nargs = 0; args != NULL && args[nargs] != NULL; nargs++) {
	}
	if (nargs == 0) {
		usage(stderr);
		goto done;
	}
	cmd = args[0];
	if (opt_socket != NULL) {
		cli.socket = opt_socket;
	}
	cli.json = opt_json != 0;

	/* The global options may also follow the command */
	cmd_args = talloc_array(mem_ctx, const char *, nargs + 1);
	if (cmd_args == NULL) {
		ret = ENOMEM;
		goto done;
	}
	for (i = 1, ncmd = 0; i < nargs; i++) {
		if (strcmp(args[i], "--json") == 0 ||
		    strcmp(args[i], "-j") == 0) {
			cli.json = true;
		} else if ((strcmp(args[i], "--socket") == 0 ||
			    strcmp(args[i], "-s") == 0) && i + 1 < nargs) {
			cli.socket = args[++i];
		} else {
			cmd_args[ncmd++] = args[i];
		}
	}
	cmd_args[ncmd] = NULL;

	if (strcmp(cmd, "import") == 0) {
		ret = cmd_import(&cli, mem_ctx, ncmd, cmd_args);
		goto done;
	}
	for (c = 0; c < sizeof(commands) / sizeof(commands[0]); c++) {
		if (strcmp(cmd, commands[c].name) == 0) {
			break;
		}
	}
	if (c == sizeof(commands) / sizeof(commands[0])) {
		fprintf(stderr, "cltrack: unknown command \"%s\"\nTry "
			"'cltrack --help'.\n", cmd);
		goto done;
	}

	ret = cltrack_connect(mem_ctx, cli.socket, 0, &cli.client);
	if (ret != 0) {
		fprintf(stderr, "cltrack: cannot connect to %s: %s\n",
			cli.socket != NULL ? cli.socket :
			CLTRACK_DEFAULT_SOCKET, cltrack_strerror(ret));
		goto done;
	}

	ret = commands[c].fn(&cli, mem_ctx, ncmd, cmd_args);
done:
	poptFreeContext(pc);
	free(opt_socket);
	talloc_free(mem_ctx);
	return ret == 0 ? 0 : 1;
}
