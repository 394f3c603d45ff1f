/*
 * Settings: defaults, ini file (iniparser), command line (popt).
 *
 *   [cltrackd]  pipefs dir, storage dir, control socket, debug level,
 *               log file
 *   [store]     backend = tdb | ctdb
 *   [ctdb]      socket (default: ctdb's lookup order), database
 *   [nfsd]      procfs dir, restart command, restart timeout
 *   [grace]     time
 *
 * An unknown section or key is an error: a typo must not silently fall
 * back to a default.
 */
#include <errno.h>
#include <iniparser.h>
#include <limits.h>
#include <popt.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "config.h"
#include "logging.h"

#define DAEMON_VERSION "0.1.0"

struct config_key {
	const char *name;	/* "section:key", as iniparser spells it */
	enum { KEY_PATH, KEY_STRING, KEY_LEVEL, KEY_INT, KEY_BACKEND,
	       KEY_DBNAME } type;
	size_t ofs;
	int min, max;
};

#define OFS(f) offsetof(struct cltrack_config, f)

static const struct config_key config_keys[] = {
	{ "cltrackd:pipefs dir", KEY_PATH, OFS(pipefs_dir), 0, 0 },
	{ "cltrackd:storage dir", KEY_PATH, OFS(storage_dir), 0, 0 },
	{ "cltrackd:control socket", KEY_PATH, OFS(control_socket), 0, 0 },
	{ "cltrackd:debug level", KEY_LEVEL, OFS(debuglevel), 0, 0 },
	{ "cltrackd:log file", KEY_PATH, OFS(log_file), 0, 0 },
	{ "store:backend", KEY_BACKEND, OFS(backend), 0, 0 },
	{ "ctdb:socket", KEY_PATH, OFS(ctdb_socket), 0, 0 },
	{ "ctdb:database", KEY_DBNAME, OFS(ctdb_database), 0, 0 },
	{ "nfsd:procfs dir", KEY_PATH, OFS(procfs_dir), 0, 0 },
	{ "nfsd:restart command", KEY_STRING, OFS(restart_command), 0, 0 },
	{ "nfsd:restart timeout", KEY_INT, OFS(restart_timeout), 1, 3600 },
	{ "grace:time", KEY_INT, OFS(grace_time), 10, 3600 },
	{ "grace:enforcement timeout", KEY_INT, OFS(enforce_timeout), 10,
	  3600 },
};

struct cltrack_config *config_defaults(TALLOC_CTX *mem_ctx)
{
	struct cltrack_config *cfg = NULL;

	cfg = talloc_zero(mem_ctx, struct cltrack_config);
	if (cfg == NULL) {
		return NULL;
	}
	*cfg = (struct cltrack_config) {
		.config_file = CONFIG_DEFAULT_FILE,
		.debuglevel = LOG_LEVEL_NOTICE,
		.pipefs_dir = CONFIG_DEFAULT_PIPEFS,
		.storage_dir = CONFIG_DEFAULT_STORAGE,
		.control_socket = CONFIG_DEFAULT_SOCKET,
		.backend = "tdb",
		.ctdb_socket = NULL,
		.ctdb_database = "cltrack.tdb",
		.procfs_dir = CONFIG_DEFAULT_PROCFS,
		.restart_command = "",
		.restart_timeout = 60,
		.grace_time = 90,
		.enforce_timeout = 120,
	};
	return cfg;
}

static int check_path(const char *what, const char *value)
{
	if (value[0] != '/') {
		fprintf(stderr, "cltrackd: %s must be an absolute path, "
			"not \"%s\"\n", what, value);
		return EINVAL;
	}
	if (strlen(value) >= PATH_MAX) {
		fprintf(stderr, "cltrackd: %s is too long\n", what);
		return EINVAL;
	}
	return 0;
}

static int set_key(struct cltrack_config *cfg, const struct config_key *k,
		   const char *value, const char *where)
{
	char *p = (char *)cfg + k->ofs;
	char *end = NULL;
	long v;
	int ret;

	switch (k->type) {
	case KEY_PATH:
		ret = check_path(k->name, value);
		if (ret != 0) {
			fprintf(stderr, "  (in %s)\n", where);
			return ret;
		}
		*(const char **)p = talloc_strdup(cfg, value);
		break;
	case KEY_STRING:
		*(const char **)p = talloc_strdup(cfg, value);
		break;
	case KEY_BACKEND:
		if (strcmp(value, "tdb") != 0 && strcmp(value, "ctdb") != 0) {
			fprintf(stderr, "cltrackd: %s: [store] backend = %s "
				"is not supported; use tdb or ctdb\n",
				where, value);
			return EINVAL;
		}
		*(const char **)p = talloc_strdup(cfg, value);
		break;
	case KEY_DBNAME:
		/* A file name in ctdbd's database directories */
		if (value[0] == '\0' || strchr(value, '/') != NULL ||
		    strlen(value) > 200) {
			fprintf(stderr, "cltrackd: %s: [ctdb] database = \"%s\" "
				"must be a plain file name such as "
				"cltrack.tdb\n", where, value);
			return EINVAL;
		}
		*(const char **)p = talloc_strdup(cfg, value);
		break;
	case KEY_LEVEL:
		ret = log_level_parse(value, (int *)p);
		if (ret != 0) {
			fprintf(stderr, "cltrackd: %s: bad debug level \"%s\"; "
				"use ERR, WARNING, NOTICE, INFO, DEBUG or "
				"0-10\n", where, value);
			return ret;
		}
		return 0;
	case KEY_INT:
		errno = 0;
		v = strtol(value, &end, 10);
		if (errno != 0 || end == value || *end != '\0' ||
		    v < k->min || v > k->max) {
			fprintf(stderr, "cltrackd: %s: \"%s\" = \"%s\" must be "
				"a number from %d to %d\n", where, k->name,
				value, k->min, k->max);
			return EINVAL;
		}
		*(int *)p = (int)v;
		return 0;
	}
	if (*(const char **)p == NULL) {
		return ENOMEM;
	}
	return 0;
}

int config_read_file(struct cltrack_config *cfg, const char *path,
		     bool must_exist)
{
	dictionary *d = NULL;
	struct stat sb;
	int nsec, i, ret = 0;

	if (stat(path, &sb) != 0) {
		if (errno == ENOENT && !must_exist) {
			return 0;
		}
		ret = errno;
		fprintf(stderr, "cltrackd: cannot read config file %s: %s\n",
			path, strerror(ret));
		return ret;
	}
	d = iniparser_load(path);
	if (d == NULL) {
		fprintf(stderr, "cltrackd: cannot parse config file %s; fix "
			"the syntax error reported above\n", path);
		return EINVAL;
	}

	nsec = iniparser_getnsec(d);
	for (i = 0; i < nsec && ret == 0; i++) {
		const char *sec = iniparser_getsecname(d, i);
		int nkeys = iniparser_getsecnkeys(d, sec);
		const char **keys = NULL;
		int j;

		if (nkeys <= 0) {
			continue;
		}
		keys = talloc_array(NULL, const char *, nkeys);
		if (keys == NULL) {
			ret = ENOMEM;
			break;
		}
		iniparser_getseckeys(d, sec, keys);
		for (j = 0; j < nkeys && ret == 0; j++) {
			const char *value = iniparser_getstring(d, keys[j],
								NULL);
			size_t k;

			for (k = 0; k < sizeof(config_keys) /
					sizeof(config_keys[0]); k++) {
				if (strcmp(keys[j], config_keys[k].name) == 0) {
					break;
				}
			}
			if (k == sizeof(config_keys) / sizeof(config_keys[0])) {
				fprintf(stderr, "cltrackd: %s: unknown setting "
					"\"%s\"; see cltrack.conf(5)\n", path,
					keys[j]);
				ret = EINVAL;
				break;
			}
			ret = set_key(cfg, &config_keys[k],
				      value != NULL ? value : "", path);
		}
		talloc_free(keys);
	}
	iniparser_freedict(d);
	return ret;
}

enum {
	OPT_DEBUG = 1,
	OPT_CONFIG,
	OPT_PIPEFS,
	OPT_STORAGE,
	OPT_SOCKET,
};

int config_load(TALLOC_CTX *mem_ctx, int argc, const char **argv,
		struct cltrack_config **result)
{
	struct cltrack_config *cfg = NULL;
	char *opt_config = NULL;
	char *opt_debug = NULL;
	char *opt_pipefs = NULL;
	char *opt_storage = NULL;
	char *opt_socket = NULL;
	int opt_foreground = 0;
	int opt_version = 0;
	struct poptOption options[] = {
		POPT_AUTOHELP
		{ "foreground", 'F', POPT_ARG_NONE, &opt_foreground, 0,
		  "Stay in the foreground and log to stderr", NULL },
		{ "debuglevel", 'd', POPT_ARG_STRING, NULL, OPT_DEBUG,
		  "Log level: ERR, WARNING, NOTICE, INFO, DEBUG or 0-10",
		  "LEVEL" },
		{ "config", 'c', POPT_ARG_STRING, NULL, OPT_CONFIG,
		  "Config file (default " CONFIG_DEFAULT_FILE ")", "FILE" },
		{ "pipefs-dir", 0, POPT_ARG_STRING, NULL, OPT_PIPEFS,
		  "rpc_pipefs mount point (default " CONFIG_DEFAULT_PIPEFS
		  ")", "DIR" },
		{ "storage-dir", 0, POPT_ARG_STRING, NULL, OPT_STORAGE,
		  "Directory of the embedded store (default "
		  CONFIG_DEFAULT_STORAGE ")", "DIR" },
		{ "control-socket", 0, POPT_ARG_STRING, NULL, OPT_SOCKET,
		  "Control socket (default " CONFIG_DEFAULT_SOCKET ")",
		  "PATH" },
		{ "version", 'V', POPT_ARG_NONE, &opt_version, 0,
		  "Print the version and exit", NULL },
		POPT_TABLEEND
	};
	poptContext pc;
	int opt;
	int ret;

	cfg = config_defaults(mem_ctx);
	if (cfg == NULL) {
		return ENOMEM;
	}

	pc = poptGetContext("cltrackd", argc, argv, options, 0);
	while ((opt = poptGetNextOpt(pc)) > 0) {
		/*
		 * popt malloc()s each string argument; an option given twice
		 * would leak the first one if popt stored it for us.  The
		 * last one wins.
		 */
		char **slot = opt == OPT_DEBUG ? &opt_debug :
			      opt == OPT_CONFIG ? &opt_config :
			      opt == OPT_PIPEFS ? &opt_pipefs :
			      opt == OPT_STORAGE ? &opt_storage : &opt_socket;

		free(*slot);
		*slot = poptGetOptArg(pc);
	}
	if (opt < -1) {
		fprintf(stderr, "cltrackd: %s: %s\nTry 'cltrackd --help'.\n",
			poptBadOption(pc, POPT_BADOPTION_NOALIAS),
			poptStrerror(opt));
		ret = EINVAL;
		goto done;
	}
	if (poptPeekArg(pc) != NULL) {
		fprintf(stderr, "cltrackd: unexpected argument \"%s\"\n"
			"Try 'cltrackd --help'.\n", poptPeekArg(pc));
		ret = EINVAL;
		goto done;
	}
	if (opt_version) {
		printf("cltrackd %s\n", DAEMON_VERSION);
		ret = -1;
		goto done;
	}

	if (opt_config != NULL) {
		cfg->config_file = talloc_strdup(cfg, opt_config);
	}
	ret = config_read_file(cfg, cfg->config_file, opt_config != NULL);
	if (ret != 0) {
		goto done;
	}

	ret = 0;
	if (opt_debug != NULL) {
		const struct config_key k = {
			"--debuglevel", KEY_LEVEL, OFS(debuglevel), 0, 0
		};
		ret = set_key(cfg, &k, opt_debug, "command line");
	}
	if (ret == 0 && opt_pipefs != NULL) {
		const struct config_key k = {
			"--pipefs-dir", KEY_PATH, OFS(pipefs_dir), 0, 0
		};
		ret = set_key(cfg, &k, opt_pipefs, "command line");
	}
	if (ret == 0 && opt_storage != NULL) {
		const struct config_key k = {
			"--storage-dir", KEY_PATH, OFS(storage_dir), 0, 0
		};
		ret = set_key(cfg, &k, opt_storage, "command line");
	}
	if (ret == 0 && opt_socket != NULL) {
		const struct config_key k = {
			"--control-socket", KEY_PATH, OFS(control_socket), 0, 0
		};
		ret = set_key(cfg, &k, opt_socket, "command line");
	}
	if (ret != 0) {
		goto done;
	}
	cfg->foreground = opt_foreground != 0;
	*result = cfg;
done:
	poptFreeContext(pc);
	free(opt_config);
	free(opt_debug);
	free(opt_pipefs);
	free(opt_storage);
	free(opt_socket);
	if (ret != 0) {
		talloc_free(cfg);
	}
	return ret;
}
