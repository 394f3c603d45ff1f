/*
 * cltrack: the administrator's view of cltrackd.
 *
 *   cltrack [--socket PATH] [--json] status
 *   cltrack [--socket PATH] [--json] list [--reclaimable] [--epoch N]
 *   cltrack [--socket PATH] [--json] stats
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
		printf("Kernel:  %s\n\n", kv_u64(kv, n, "kernel_connected") ?
		       "cld pipe open" : "cld pipe NOT open (is nfsd "
		       "running?)");
	}
	return print_kv(cli, kv, n);
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
		} else if ((strcmp(argv[i_arg], "--epoch") == 0 ||
			    strcmp(argv[i_arg], "--node") == 0) &&
			   i_arg + 1 < argc) {
			unsigned long long v = strtoull(argv[i_arg + 1], &end,
							10);
			if (end == argv[i_arg + 1] || *end != '\0') {
				fprintf(stderr, "cltrack: %s needs a number\n",
					argv[i_arg]);
				return EINVAL;
			}
			if (argv[i_arg][2] == 'e') {
				filter.epoch = v;
			} else {
				filter.pnn = (uint32_t)v;
			}
			i_arg++;
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
			json_t *o = json_object();

			json_object_set_new(o, "id", id_printable(e[i].id,
					    e[i].idlen) ?
				json_stringn((const char *)e[i].id,
					     e[i].idlen) : json_null());
			json_object_set_new(o, "id_hex", json_string(
				hex(mem_ctx, e[i].id, e[i].idlen)));
			json_object_set_new(o, "epoch",
					    json_integer(e[i].epoch));
			json_object_set_new(o, "prev_epoch",
					    json_integer(e[i].prev_epoch));
			json_object_set_new(o, "pnn", json_integer(e[i].pnn));
			json_object_set_new(o, "princhash",
				e[i].princhash_len ? json_string(hex(mem_ctx,
					e[i].princhash, e[i].princhash_len)) :
				json_null());
			json_object_set_new(o, "created",
					    json_integer(e[i].created));
			json_object_set_new(o, "session",
					    json_boolean(e[i].flags & 1));
			json_object_set_new(o, "legacy",
					    json_boolean(e[i].flags & 2));
			json_object_set_new(o, "address", e[i].addr_len ?
				json_string(e[i].addr) : json_null());
			json_array_append_new(arr, o);
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

	if (strcmp(cmd, "status") != 0 && strcmp(cmd, "stats") != 0 &&
	    strcmp(cmd, "list") != 0) {
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

	if (strcmp(cmd, "status") == 0) {
		ret = cmd_status(&cli, mem_ctx, false);
	} else if (strcmp(cmd, "stats") == 0) {
		ret = cmd_status(&cli, mem_ctx, true);
	} else {
		ret = cmd_list(&cli, mem_ctx, nargs - 1, args + 1);
	}
done:
	poptFreeContext(pc);
	free(opt_socket);
	talloc_free(mem_ctx);
	return ret == 0 ? 0 : 1;
}
