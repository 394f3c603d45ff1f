/*
 * Logging for cltrackd and its tools.
 *
 * Levels follow CTDB: ERR 0, WARNING 1, NOTICE 2, INFO 3, DEBUG 4.
 * A message is written when its level is <= the configured level.
 */
#ifndef CLTRACK_LOGGING_H
#define CLTRACK_LOGGING_H

#include <stdbool.h>

enum log_level {
	LOG_LEVEL_ERR = 0,
	LOG_LEVEL_WARNING = 1,
	LOG_LEVEL_NOTICE = 2,
	LOG_LEVEL_INFO = 3,
	LOG_LEVEL_DEBUG = 4,
};

extern int log_level;

/**
 * @brief Send log output to stderr (foreground) or syslog.
 */
void log_setup(const char *prog, bool to_stderr, int level);

/**
 * @brief Log to this file (appending) instead of stderr or syslog.
 * @return 0 or an errno.
 */
int log_set_file(const char *path);

/**
 * @brief Parse a level name ("ERR", "NOTICE", ...) or number.
 * @return 0, or EINVAL.
 */
int log_level_parse(const char *str, int *level);

void log_msg(int level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#define DEBUG_AT(lvl, ...) do {				\
	if ((lvl) <= log_level) {			\
		log_msg((lvl), __VA_ARGS__);		\
	}						\
} while (0)

#define D_ERR(...)	DEBUG_AT(LOG_LEVEL_ERR, __VA_ARGS__)
#define D_WARNING(...)	DEBUG_AT(LOG_LEVEL_WARNING, __VA_ARGS__)
#define D_NOTICE(...)	DEBUG_AT(LOG_LEVEL_NOTICE, __VA_ARGS__)
#define D_INFO(...)	DEBUG_AT(LOG_LEVEL_INFO, __VA_ARGS__)
#define D_DEBUG(...)	DEBUG_AT(LOG_LEVEL_DEBUG, __VA_ARGS__)

#endif
