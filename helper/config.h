/*
 * cltrackd's settings: built-in defaults, then the ini file
 * (/etc/cltrack/cltrack.conf), then the command line.
 */
#ifndef CLTRACK_CONFIG_H
#define CLTRACK_CONFIG_H

#include <stdbool.h>
#include <talloc.h>

#define CONFIG_DEFAULT_FILE		"/etc/cltrack/cltrack.conf"
#define CONFIG_DEFAULT_PIPEFS		"/var/lib/nfs/rpc_pipefs"
#define CONFIG_DEFAULT_STORAGE		"/var/lib/cltrack"
#define CONFIG_DEFAULT_SOCKET		"/run/cltrack/cltrackd.sock"
#define CONFIG_DEFAULT_PROCFS		"/proc/fs/nfsd"

struct cltrack_config {
	const char *config_file;
	bool foreground;
	int debuglevel;
	const char *pipefs_dir;
	const char *storage_dir;
	const char *control_socket;
	const char *backend;
	const char *ctdb_socket;	/* NULL: CTDB_SOCKET, test mode, /run */
	const char *ctdb_database;
	const char *procfs_dir;
	const char *restart_command;
	int restart_timeout;
	int grace_time;
	int enforce_timeout;
};

/**
 * @brief Parse argv and the config file.
 *
 * Errors are printed to stderr, saying what to fix.
 * @return 0; EINVAL for a bad option or value; ENOENT when an explicit
 * config file is missing; -1 when --help or --version was answered.
 */
int config_load(TALLOC_CTX *mem_ctx, int argc, const char **argv,
		struct cltrack_config **result);

/**
 * @brief Read only the ini file into cfg (defaults must be set).
 */
int config_read_file(struct cltrack_config *cfg, const char *path,
		     bool must_exist);

/**
 * @brief Settings with defaults filled in.
 */
struct cltrack_config *config_defaults(TALLOC_CTX *mem_ctx);

#endif
