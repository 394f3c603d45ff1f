/*
 * cltrackd: NFSv4 client-ID tracking daemon for the Linux NFS server.
 *
 * Start-up order matters: the kernel waits only about one second for
 * the cld pipe to be opened when nfsd starts, so the pipe is watched
 * and opened before anything slow.  A daemonizing cltrackd tells its
 * parent that it is ready only once the store, the pipe watch and the
 * control socket are all in place, so "cltrackd && rpc.nfsd" is safe.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include "cluster.h"
#include "daemon.h"
#include "logging.h"
#include "privs.h"
#include "store_ctdb.h"

static void sig_term_handler(struct tevent_context *ev,
			     struct tevent_signal *se, int signum, int count,
			     void *siginfo, void *private_data)
{
	struct daemon_context *d = talloc_get_type_abort(
		private_data, struct daemon_context);

	if (d->shutdown) {
		D_NOTICE("Second signal %d: exiting now", signum);
		_exit(1);
	}
	D_NOTICE("Received signal %d: shutting down", signum);
	d->shutdown = true;
}

/*
 * CTDB mode: the one ctdbd connection of this process carries the store
 * and cltrack's grace messages.
 */
static void daemon_ctdb_connected(struct ctdb_client *client, uint32_t pnn,
				  void *private_data)
{
	struct daemon_context *d = talloc_get_type_abort(
		private_data, struct daemon_context);

	d->pnn = pnn;
	D_NOTICE("Connected to ctdbd as node %u", pnn);
}

static void daemon_ctdb_disconnected(struct ctdb_client *client,
				     void *private_data)
{
	D_WARNING("Lost the connection to ctdbd; reconnecting. Upcalls that "
		  "need the store wait for it");
}

static void daemon_ctdb_message(struct ctdb_client *client, uint64_t srvid,
				uint32_t sender, const uint8_t *data,
				size_t len, void *private_data)
{
	struct daemon_context *d = talloc_get_type_abort(
		private_data, struct daemon_context);

	if (srvid == CLTRACK_SRVID_GRACE && d->cluster != NULL) {
		cluster_message(d->cluster, sender, data, len);
	}
}

static void daemon_ctdb_leader(struct ctdb_client *client, uint32_t pnn,
			       void *private_data)
{
	if (pnn == CTDB_UNKNOWN_PNN) {
		D_NOTICE("CTDB leader is unknown (an election is running)");
		return;
	}
	D_NOTICE("CTDB leader is now node %u", pnn);
}

static uint32_t daemon_pnn(void *private_data)
{
	struct daemon_context *d = talloc_get_type_abort(
		private_data, struct daemon_context);

	return d->pnn;
}

static void daemon_grace_hook(const struct grace_op *op,
			      const struct grace_record *g,
			      void *private_data)
{
	struct daemon_context *d = talloc_get_type_abort(
		private_data, struct daemon_context);

	if (d->cluster != NULL) {
		cluster_upcall_done(d->cluster, op, g);
	}
}

/*
 * Fork; the parent waits until the child reports readiness (one byte on
 * a pipe) and exits 0, or exits 1 if the child failed to start.
 */
static int daemonize(int *ready_fd)
{
	int fds[2];
	pid_t pid;
	char c = 0;
	ssize_t n;

	if (pipe(fds) != 0) {
		return errno;
	}
	pid = fork();
	if (pid == -1) {
		return errno;
	}
	if (pid != 0) {
		close(fds[1]);
		n = read(fds[0], &c, 1);
		_exit(n == 1 ? 0 : 1);
	}
	close(fds[0]);
	if (setsid() == -1) {
		return errno;
	}
	if (chdir("/") != 0) {
		return errno;
	}
	*ready_fd = fds[1];
	return 0;
}

static void redirect_stdio(void)
{
	int fd = open("/dev/null", O_RDWR);

	if (fd == -1) {
		return;
	}
	dup2(fd, 0);
	dup2(fd, 1);
	dup2(fd, 2);
	if (fd > 2) {
		close(fd);
	}
}

int main(int argc, const char *argv[])
{
	TALLOC_CTX *mem_ctx = talloc_new(NULL);
	struct cltrack_config *cfg = NULL;
	struct daemon_context *d = NULL;
	struct tevent_signal *se = NULL;
	struct ctdb_client *client = NULL;
	int ready_fd = -1;
	int ret;

	ret = config_load(mem_ctx, argc, argv, &cfg);
	if (ret == -1) {
		talloc_free(mem_ctx);
		return 0;
	}
	if (ret != 0) {
		talloc_free(mem_ctx);
		return 1;
	}
	log_setup("cltrackd", cfg->foreground, cfg->debuglevel);
	if (cfg->log_file != NULL) {
		ret = log_set_file(cfg->log_file);
		if (ret != 0) {
			fprintf(stderr, "cltrackd: cannot open log file %s: "
				"%s\n", cfg->log_file, strerror(ret));
			talloc_free(mem_ctx);
			return 1;
		}
	}

	if (!cfg->foreground) {
		ret = daemonize(&ready_fd);
		if (ret != 0) {
			D_ERR("Cannot become a daemon, ret=%d", ret);
			return 1;
		}
	}
	umask(0077);
	signal(SIGPIPE, SIG_IGN);

	d = talloc_zero(mem_ctx, struct daemon_context);
	if (d == NULL) {
		ret = ENOMEM;
		goto done;
	}
	d->config = cfg;
	d->start_time = time(NULL);
	d->ev = tevent_context_init(d);
	if (d->ev == NULL) {
		ret = ENOMEM;
		goto done;
	}

	se = tevent_add_signal(d->ev, d, SIGTERM, 0, sig_term_handler, d);
	if (se == NULL) {
		ret = ENOMEM;
		goto done;
	}
	se = tevent_add_signal(d->ev, d, SIGINT, 0, sig_term_handler, d);
	if (se == NULL) {
		ret = ENOMEM;
		goto done;
	}

	/* Before the store and the pipe: they may belong to another one */
	ret = control_check_free(cfg->control_socket);
	if (ret != 0) {
		goto done;
	}

	if (strcmp(cfg->backend, "ctdb") == 0) {
		const struct ctdb_client_callbacks cb = {
			.connected = daemon_ctdb_connected,
			.disconnected = daemon_ctdb_disconnected,
			.message = daemon_ctdb_message,
			.leader = daemon_ctdb_leader,
			.private_data = d,
		};

		/* Connects in the background: the pipe must not wait */
		d->pnn = CTDB_UNKNOWN_PNN;
		ret = store_ctdb_init(d, d->ev, cfg->ctdb_socket,
				      cfg->ctdb_database, &cb, &d->store,
				      &client);
	} else {
		ret = store_tdb_init(d, d->ev, cfg->storage_dir, &d->store);
	}
	if (ret != 0) {
		goto done;
	}
	ret = batch_init(d, d->ev, d->store, d->pnn, &d->batch);
	if (ret != 0) {
		goto done;
	}
	ret = cld_init(d, d->ev, cfg->pipefs_dir, d->store, d->batch,
		       &d->cld);
	if (ret != 0) {
		goto done;
	}
	if (client != NULL) {
		batch_set_cluster(d->batch, d->pnn, cfg->grace_time);
		batch_set_pnn_fn(d->batch, daemon_pnn, d);
		ret = cluster_init(d, d->ev, d, client, &d->cluster);
		if (ret != 0) {
			goto done;
		}
		cld_set_grace_hook(d->cld, daemon_grace_hook, d);
	}
	ret = control_init(d, d->ev, cfg->control_socket, d, &d->control);
	if (ret != 0) {
		goto done;
	}

	/*
	 * Everything that needs privilege is open.  The cld pipe and the
	 * store are root-owned and cltrackd stays uid 0, so reopening them
	 * needs no capability (nfsdcld does the same).
	 */
	ret = privs_drop_all();
	if (ret != 0) {
		D_ERR("Cannot drop capabilities, ret=%d", ret);
		goto done;
	}

	D_NOTICE("cltrackd %s ready: store %s %s %s, pipe %s/nfsd/cld, "
		 "control socket %s", CLTRACK_VERSION_STRING,
		 store_backend(d->store),
		 strcmp(store_backend(d->store), "ctdb") == 0 ?
		 "database" : "in",
		 strcmp(store_backend(d->store), "ctdb") == 0 ?
		 cfg->ctdb_database : cfg->storage_dir,
		 cfg->pipefs_dir, cfg->control_socket);
	if (ready_fd != -1) {
		char c = 1;

		if (write(ready_fd, &c, 1) != 1) {
			D_WARNING("Cannot tell the parent we are ready");
		}
		close(ready_fd);
		ready_fd = -1;
		redirect_stdio();
	}

	while (!d->shutdown) {
		ret = tevent_loop_once(d->ev);
		if (ret != 0) {
			ret = errno != 0 ? errno : EIO;
			D_ERR("Event loop failed, ret=%d", ret);
			break;
		}
	}
	/* A held GraceStart reply would never be sent by anyone else */
	cld_release_all(d->cld);
	/* Answer what is already committing before leaving */
	while (batch_pending(d->batch) > 0) {
		if (tevent_loop_once(d->ev) != 0) {
			break;
		}
	}
	D_NOTICE("cltrackd stopped");
	talloc_free(mem_ctx);
	return ret == 0 ? 0 : 1;
done:
	if (ret != 0) {
		D_ERR("cltrackd failed to start, ret=%d (%s)", ret,
		      strerror(ret));
	}
	talloc_free(mem_ctx);
	return ret == 0 ? 0 : 1;
}
